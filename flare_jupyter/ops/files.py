"""``%flare`` operations on files of the server or a client: ls, cat, head, tail, grep, and their log shortcuts.

Each is NVFlare's method of the same name; the target's own one-line complaint ("cat: x: No such file or
directory"), which NVFlare returns as the command's text, becomes a one-line error."""

from __future__ import annotations

from ..render import TextResult
from .registry import OPTIONS, TARGET, Group, ToolComplaint, arg, nonblank

FILES = Group("files", "Files and logs on a target")

#: (method, aliases, summary, shell tool behind it, takes --file, takes --pattern, takes --path)
SPECS = [
    ("ls_target", ("ls",), "List files on the server or a client.", "ls", False, False, True),
    ("cat_target", ("cat",), "Show a file on the server or a client.", "cat", True, False, False),
    ("head_target", ("head",), "Show the first lines of a file on a target.", "head", True, False, False),
    ("tail_target", ("tail",), "Show the last lines of a file on a target.", "tail", True, False, False),
    ("grep_target", ("grep",), "Search a file on a target for a pattern.", "grep", True, True, False),
    ("head_target_log", (), "Show the first lines of a target's log.txt.", "head", False, False, False),
    ("tail_target_log", ("log",), "Show the last lines of a target's log.txt.", "tail", False, False, False),
]


def file_operation(method: str, tool: str):
    """The handler of one file operation: the NVFlare call, and the tool's complaint as a one-line error."""

    def handler(session, args):
        call = getattr(session, method)
        if method == "grep_target":
            text = call(args.target, args.options, args.pattern, args.file)
        elif hasattr(args, "file"):
            text = call(args.target, args.options, args.file)
        elif method == "ls_target":
            text = call(args.target, args.options, args.path)
        else:
            text = call(args.target, args.options)
        if isinstance(text, str) and text.startswith(f"{tool}: ") and "\n" not in text.strip():
            said = text.strip()[len(tool) + 2 :]
            if method == "grep_target":
                said += f" (pattern {args.pattern!r})"
            raise ToolComplaint(f"%flare {method}: {tool} on {args.target} said: {said}")
        return TextResult(text)

    return handler


for _method, _aliases, _summary, _tool, _file, _pattern, _path in SPECS:
    _handler = file_operation(_method, _tool)
    _handler.__doc__ = _summary
    _args = [arg("target", **TARGET)]
    if _pattern:
        _args.append(arg("--pattern", "-p", required=True, type=nonblank, help="the pattern to search for"))
    if _file:
        _args.append(arg("--file", "-f", required=True, type=nonblank, help="file, relative to the target's folder"))
    if _path:
        _args.append(arg("--path", default=None, help="folder or file to list"))
    _args.append(arg("--options", **OPTIONS))
    FILES.add(_method, _handler, _aliases, _args)
