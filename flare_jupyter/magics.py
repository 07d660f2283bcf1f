"""IPython magics: ``%flare OP ...``, ``%%flare_cat TARGET`` and ``%%flare_app_command JOB TOPIC``.

The single place where the magic layer is wired: ``TABLE`` lists every group of operations (``ops/*``), and
``FlareMagics`` splits a line, parses it with the operation's argparse parser, calls the operation and hands back
the result. Every mistake becomes one ``UsageError`` line; ``%config FlareMagics.full_tracebacks = True`` shows
tracebacks. The traits write ``settings``, which the poller and the errors read.
"""

from __future__ import annotations

import keyword
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Float, TraitError, observe, validate

from . import errors, settings
from .connection import session
from .inline import show_figures_inline
from .ops import connection, experiments, files, jobs, live, sites, system
from .ops.registry import HelpShown, Table, ToolComplaint, parse_json
from .render import TextResult

#: Every %flare operation, in the order ``%flare help`` shows them.
TABLE = Table(
    [
        connection.CONNECTION,
        jobs.JOBS,
        sites.SITES,
        files.FILES,
        system.SYSTEM,
        live.WIDGETS,
        live.ANALYSIS,
        experiments.EXPERIMENTS,
    ]
)


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as e:
        raise UsageError(f"cannot read the arguments ({e}): check the quotes") from None


@magics_class
class FlareMagics(Magics):
    """Drive an NVIDIA FLARE system: ``%flare help`` lists every operation."""

    poll_interval = Float(2.0, help="Seconds between polls of every live widget (> 0).").tag(config=True)
    progress = Bool(True, help="Show progress lines for slow operations (turn off for CI logs).").tag(config=True)
    full_tracebacks = Bool(False, help="Show full Python tracebacks instead of one-line errors.").tag(config=True)

    @validate("poll_interval")
    def _check_poll_interval(self, proposal):
        value = proposal["value"]
        if not 0 < value <= 3600:
            raise TraitError(f"FlareMagics.poll_interval must be between 0 and 3600 seconds, not {value}")
        return value

    @observe("poll_interval", "progress", "full_tracebacks")
    def _apply(self, change=None):
        settings.poll_interval = self.poll_interval
        settings.progress = self.progress
        settings.full_tracebacks = self.full_tracebacks

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self._apply()

    # -- %flare ------------------------------------------------------------------------------------------------
    @line_magic
    def flare(self, line: str = ""):
        words = _split(line)
        if not words or words[0] in ("help", "-h", "--help", "?"):
            if len(words) > 1:
                return TextResult(TABLE.lookup(words[1]).parser.format_help())
            return TextResult(TABLE.help_text())
        op = TABLE.lookup(words[0])
        try:
            args = op.parser.parse_args(words[1:])
        except HelpShown:
            return None
        return self._run(op, args)

    def _run(self, op, args):
        if getattr(args, "out", None) and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
            raise UsageError(f"-o needs a Python variable name, not {args.out!r}")
        args.user_ns = self.shell.user_ns if self.shell is not None else {}  # e.g. %flare submit NAME of a recipe
        try:
            result = op.handler(session() if op.needs_session else None, args)
        except UsageError:
            raise
        except Exception as e:
            if self.full_tracebacks:
                raise
            raise UsageError(errors.describe(e, op.name)) from None
        if getattr(args, "out", None):
            self.shell.user_ns[args.out] = result
        return result

    # -- cell magics -------------------------------------------------------------------------------------------
    @cell_magic
    def flare_cat(self, line: str, cell: str):
        """%%flare_cat TARGET [--options OPTS]: show every file named in the cell (one per line) from TARGET."""
        op = TABLE.lookup("cat_target")
        files_named = [f.strip() for f in cell.splitlines() if f.strip()]
        if not files_named:
            raise UsageError("%%flare_cat: the cell is empty: write one file name per line")
        parts = []
        for name in files_named:
            try:
                args = op.parser.parse_args([*_split(line), "--file", name])
            except HelpShown:
                return None
            if len(files_named) == 1:
                return self._run(op, args)
            try:  # one missing file does not hide the others: its one-line error shows under its name
                text = self._run(op, args)
            except ToolComplaint as e:
                text = f"(error) {e}"
            parts.append(f"==> {name} <==\n{text}")
        return TextResult("\n".join(parts))

    @cell_magic
    def flare_app_command(self, line: str, cell: str):
        """%%flare_app_command JOB TOPIC: send the cell (JSON) as the command data to a running job's app."""
        op = TABLE.lookup("do_app_command")
        try:
            args = op.parser.parse_args(_split(line))
        except HelpShown:
            return None
        if not cell.strip():
            raise UsageError("%%flare_app_command: the cell is empty: write the command data as JSON")
        parse_json(cell)
        args.data = cell
        return self._run(op, args)


FlareMagics.flare.__doc__ = TABLE.help_text()


def load_ipython_extension(ipython) -> None:
    """``%load_ext flare_jupyter``: register the %flare magics (and their ``%config FlareMagics`` options)."""
    magics = FlareMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    show_figures_inline(ipython)
