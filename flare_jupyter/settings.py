"""Options shared by the magics, the poller and the errors: one place, nothing of ours imported.

``%config FlareMagics.poll_interval = 1.0`` (and the other ``FlareMagics`` traits) write here; the poller and the
one-line errors read from here, so neither needs the magic layer. Python users may set them directly:
``flare_jupyter.settings.poll_interval = 1.0``.
"""

#: Seconds between polls of every live widget (> 0).
poll_interval: float = 2.0
#: Show progress lines for slow operations (turn off for CI logs).
progress: bool = True
#: Show full Python tracebacks instead of one-line errors (debugging).
full_tracebacks: bool = False
