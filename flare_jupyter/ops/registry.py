"""What every ``%flare`` operation is made of: an argparse parser whose mistakes are one-line ``UsageError``s, a
handler, its group and aliases; the table that looks an operation up by name or alias and writes the help.

An operation is declared where its handler lives, on that module's ``Group``:

    JOBS = Group("jobs", "Jobs")

    @JOBS.operation("abort_job", "abort", args=[arg("job", **JOB)])
    def abort(session, args):
        \"\"\"Abort a job (cancels it if not started yet).\"\"\"

Nothing registers itself anywhere by being imported: ``magics.TABLE`` lists the groups.
"""

from __future__ import annotations

import argparse
import difflib
import json
from dataclasses import dataclass, field

from IPython.core.error import UsageError


class ToolComplaint(UsageError):
    """The target's shell tool answered with its own one-line complaint (no such file, bad option...)."""

    def _render_traceback_(self):  # IPython hides the traceback of UsageError itself only, not of subclasses
        return [f"UsageError: {self}"]


class HelpShown(Exception):
    """``-h`` was given: the parser already printed the help."""


class FlareArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose mistakes raise ``UsageError`` instead of exiting the kernel."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} -h)")

    def exit(self, status=0, message=None):
        if status:
            raise UsageError(message or f"{self.prog}: invalid arguments")
        raise HelpShown()


def arg(*names, **options) -> tuple[tuple, dict]:
    """One argparse argument of an operation: ``arg("job", help=...)`` as ``parser.add_argument`` takes it."""
    return names, options


@dataclass
class Operation:
    name: str
    aliases: tuple[str, ...]
    summary: str
    group: str
    parser: FlareArgumentParser
    handler: object
    needs_session: bool = True


@dataclass
class Group:
    """The operations of one handler module, in the order they are declared (the order ``%flare help`` shows)."""

    name: str
    title: str
    operations: list[Operation] = field(default_factory=list)

    def operation(self, name: str, *aliases: str, args=(), needs_session: bool = True):
        """Declare ``handler(session, args)`` as ``%flare NAME``; its docstring's first line is the summary."""

        def declare(handler):
            self.add(name, handler, aliases, args, needs_session)
            return handler

        return declare

    def add(self, name: str, handler, aliases=(), args=(), needs_session: bool = True) -> Operation:
        doc = (handler.__doc__ or "").strip()
        parser = FlareArgumentParser(prog=f"%flare {name}", description=doc, add_help=True)
        for names, options in args:
            parser.add_argument(*names, **options)
        parser.add_argument("-o", "--out", metavar="NAME", help="also store the result in this notebook variable")
        if aliases:
            parser.epilog = "aliases: " + ", ".join(aliases)
        op = Operation(
            name, tuple(aliases), doc.splitlines()[0] if doc else "", self.name, parser, handler, needs_session
        )
        self.operations.append(op)
        return op


class Table:
    """Every operation of the given groups, found by name or alias."""

    def __init__(self, groups: list[Group]):
        self.groups = list(groups)
        self.operations: dict[str, Operation] = {}
        self.aliases: dict[str, str] = {}
        for group in self.groups:
            for op in group.operations:
                if op.name in self.operations or op.name in self.aliases:
                    raise ValueError(f"%flare {op.name} is declared twice")
                self.operations[op.name] = op
                for alias in op.aliases:
                    if alias in self.aliases or alias in self.operations:
                        raise ValueError(f"%flare alias {alias} is declared twice")
                    self.aliases[alias] = op.name

    def lookup(self, word: str) -> Operation:
        name = self.aliases.get(word, word)
        if name in self.operations:
            return self.operations[name]
        close = difflib.get_close_matches(word, list(self.operations) + list(self.aliases), n=1)
        hint = f": did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown %flare operation {word!r}{hint} (%flare help lists them)")

    def help_text(self) -> str:
        """Every operation, grouped, with its aliases and summary."""
        lines = ["%flare OPERATION [ARGS] [-o NAME]    (%flare help OP, or %flare OP -h, for an operation's arguments)"]
        for group in self.groups:
            lines.append(f"\n{group.title}:")
            for op in group.operations:
                names = op.name + (f" ({', '.join(op.aliases)})" if op.aliases else "")
                lines.append(f"  {names:<44} {op.summary}")
        lines.append("\nCell magics:")
        lines.append(f"  {'%%flare_cat TARGET [--options OPTS]':<44} cat every file named in the cell (one per line)")
        lines.append(f"  {'%%flare_app_command JOB TOPIC':<44} send the cell's JSON to a running job's app")
        return "\n".join(lines)


# -- argument types -------------------------------------------------------------------------------------------
def positive(text: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def seconds_or_zero(text: str) -> float:
    """A timeout: a positive number of seconds, or 0 for none (as NVFlare's ``timeout=0``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (no timeout) or a positive number of seconds")
    return value


def count(text: str) -> int:
    """A whole number from 0 to 1,000,000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0 or value > 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1000000")
    return value


def nonblank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def parse_json(text: str):
    """Command data given as JSON text; a clear line when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as e:
        raise UsageError(f"command data is not valid JSON: {e}") from None


TARGET_TYPES = ("server", "client", "all")
JOB = {"metavar": "JOB", "type": nonblank, "help": "job id (or a unique prefix of one)"}
TARGET = {"metavar": "TARGET", "type": nonblank, "help": "'server' or a client name"}
OPTIONS = {"metavar": "OPTS", "default": None, "help": "options passed to the command, e.g. --options='-n 20'"}
KIT = {
    "nargs": "?",
    "default": None,
    "help": "admin startup kit folder (default: $FLARE_STARTUP_KIT or the embedded system)",
}
