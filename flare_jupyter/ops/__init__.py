"""The ``%flare`` operations: ``registry`` (parser, help, lookup) and one handler module per group of operations.

Each handler module declares its operations on a ``Group`` of its own; ``magics.py`` lists the groups in one
explicit table (``magics.TABLE``), the way jupysql routes ``%sqlcmd`` to ``sql/cmd/*``. Handlers import only the
registry and the layers below the magics, and each calls a public function a Python user can call too.
"""
