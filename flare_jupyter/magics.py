"""IPython magics: ``%flare OP ...``, ``%%flare_cat TARGET`` and ``%%flare_app_command JOB TOPIC``.

Thin: split the line, parse it with the operation's argparse parser, call the operation, hand back the result.
Every mistake becomes one ``UsageError`` line; ``%config FlareMagics.full_tracebacks = True`` shows tracebacks.
"""

from __future__ import annotations

import keyword
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Float, TraitError, observe, validate

from . import commands, errors
from .commands import HelpShown, lookup
from .render import TextResult


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as e:
        raise UsageError(f"cannot read the arguments ({e}): check the quotes") from None


@magics_class
class FlareMagics(Magics):
    """Drive an NVIDIA FLARE system: ``%flare help`` lists every operation."""

    poll_interval = Float(2.0, help="Seconds between polls of a monitored job (> 0).").tag(config=True)
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
        commands.settings.poll_interval = self.poll_interval
        commands.settings.progress = self.progress
        errors.show_tracebacks(self.full_tracebacks)

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self._apply()

    # -- %flare ------------------------------------------------------------------------------------------------
    @line_magic
    def flare(self, line: str = ""):
        words = _split(line)
        if not words or words[0] in ("help", "-h", "--help", "?"):
            if len(words) > 1:
                return TextResult(lookup(words[1]).parser.format_help())
            return TextResult(commands.help_text())
        op = lookup(words[0])
        try:
            args = op.parser.parse_args(words[1:])
        except HelpShown:
            return None
        return self._run(op, args)

    def _run(self, op, args):
        from .session import session

        if getattr(args, "out", None) and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
            raise UsageError(f"-o needs a Python variable name, not {args.out!r}")
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
        op = lookup("cat_target")
        files = [f.strip() for f in cell.splitlines() if f.strip()]
        if not files:
            raise UsageError("%%flare_cat: the cell is empty: write one file name per line")
        parts = []
        for name in files:
            try:
                args = op.parser.parse_args([*_split(line), "--file", name])
            except HelpShown:
                return None
            if len(files) == 1:
                return self._run(op, args)
            try:  # one missing file does not hide the others: its one-line error shows under its name
                text = self._run(op, args)
            except commands.ToolComplaint as e:
                text = f"(error) {e}"
            parts.append(f"==> {name} <==\n{text}")
        return TextResult("\n".join(parts))

    @cell_magic
    def flare_app_command(self, line: str, cell: str):
        """%%flare_app_command JOB TOPIC: send the cell (JSON) as the command data to a running job's app."""
        op = lookup("do_app_command")
        try:
            args = op.parser.parse_args(_split(line))
        except HelpShown:
            return None
        if not cell.strip():
            raise UsageError("%%flare_app_command: the cell is empty: write the command data as JSON")
        commands.parse_json(cell)
        args.data = cell
        return self._run(op, args)


FlareMagics.flare.__doc__ = commands.help_text()
