"""Hostile inputs for ``test_hostile_campaign.py``: the strings, the bad job folders, the table's ``Case`` and the
widget scenarios.

Imported by the test module next to it (not a conftest: the fixtures stay in the module that uses them).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import ipywidgets as w

from flare_jupyter.widgets import ClientsPanel, JobMonitor, JobsPanel, LogViewer
from record import HOSTILE as HTML  # noqa: F401 (the campaign imports it from here)

#: NUL, bell, an ANSI "clear screen" and DEL: what a stray paste can put into a line.
CONTROL = "\x00\x07\x1b[2J\x7f"
#: Control characters that are not whitespace and not NUL (cell bodies keep them as they are).
CONTROL_LINES = "\x01\x02\x1b[31m\x7f"
LONG = "a" * 100_000
#: An umlaut, an emoji and a right-to-left override.
UNICODE = "ü💥\u202ejob"
#: A path with a 5,000-character component (the file system allows 255).
LONG_PATH = "/tmp/" + "a" * 5_000


def huge_json(size: int = 1_000_000) -> str:
    """A valid JSON object of at least ``size`` characters."""
    n = size // 48 + 1
    return json.dumps({f"k{i:06d}": "v" * 36 for i in range(n)})


def job_folders(root: Path) -> dict[str, Path]:
    """Folders a user may wrongly submit, made under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    not_a_job = root / "not-a-job"
    not_a_job.mkdir()
    (not_a_job / "readme.txt").write_text("no meta.json here")
    many = root / "many-files"
    many.mkdir()
    for i in range(10_000):
        (many / f"f{i:05d}.txt").write_text("x")
    array_meta = root / "array-meta"
    array_meta.mkdir()
    (array_meta / "meta.json").write_text("[1, 2, 3]")
    linked = root / "symlinked"
    linked.mkdir()
    (linked / "meta.json").write_text(json.dumps({"name": "symlinked"}))  # no deploy_map: never a runnable job
    (linked / "notes.txt").symlink_to(not_a_job / "readme.txt")
    return {
        "not_a_job": not_a_job,
        "a_file": not_a_job / "readme.txt",
        "many_files": many,
        "array_meta": array_meta,
        "symlinked": linked,
        "relative": Path(os.path.relpath(not_a_job)),  # with "..": relative to the kernel's working directory
    }


def longest_shared_prefix(ids: list[str]) -> str:
    """The longest prefix that at least two of ``ids`` start with ('' if none)."""
    best = ""
    ordered = sorted(ids)
    for a, b in zip(ordered, ordered[1:], strict=False):
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        if n > len(best):
            best = a[:n]
    return best


def html_of(widget) -> list[str]:
    """Every HTML string a widget (and its children) shows."""
    out = [widget.value] if isinstance(widget, w.HTML) else []
    for child in getattr(widget, "children", ()) or ():
        out.extend(html_of(child))
    return out


@dataclass(frozen=True)
class Case:
    """One bad input.

    ``kind`` is "magic" (a cell: ``{name}`` is filled in with the test's values, ``$NAME`` is a notebook variable
    that IPython expands), "api" (Python code in a cell, using notebook variables) or "widget" (``source(ctx)``
    builds a widget on a private poller, types the input into it, ticks, and returns it).
    ``says``: what the one line must contain. ``handled``: the input may be accepted (a literal grep pattern, a
    report, a widget banner) instead of raising; ``check(result, ctx)`` then says what must hold.
    """

    id: str
    kind: str
    source: str | Callable
    says: tuple[str, ...] = ()
    handled: bool = False
    check: Callable | None = None
    max_seconds: float = 30.0
    extra: dict = field(default_factory=dict)


def magic(id: str, source: str, *says: str, **kw) -> Case:
    return Case(id, "magic", source, says, **kw)


def api(id: str, source: str, *says: str, **kw) -> Case:
    return Case(id, "api", source, says, **kw)


def widget(id: str, build: Callable, *says: str, **kw) -> Case:
    return Case(id, "widget", build, says, handled=True, **kw)


# -- widget scenarios: build on ctx.poller, type the hostile value, tick --------------------------------------------
def jobs_panel_with(ctx: SimpleNamespace, **fields) -> JobsPanel:
    panel = JobsPanel(poller=ctx.poller)
    ctx.poller.tick()
    for name, value in fields.items():
        getattr(panel, name).value = value(ctx) if callable(value) else value
    ctx.poller.tick()
    return panel


def jobs_panel_click(ctx: SimpleNamespace, label: str) -> JobsPanel:
    # a name no job has (other tests submit jobs named HTML), so nothing is selected
    panel = jobs_panel_with(ctx, name_filter=f"no-such-job-{uuid.uuid4().hex}")
    panel.buttons[label].click()
    if panel.confirm.is_open:  # a destructive action must not even ask without a selection
        panel.confirm.yes.click()
    ctx.poller.tick()
    return panel


def log_viewer_with(ctx: SimpleNamespace, target: str = "server", job: str | None = None, **fields) -> LogViewer:
    viewer = LogViewer(target, job=job, poller=ctx.poller)
    ctx.poller.tick()
    for name, value in fields.items():
        getattr(viewer, name).value = value
    ctx.poller.tick()
    return viewer


def clients_panel_click(ctx: SimpleNamespace, button: str) -> ClientsPanel:
    panel = ClientsPanel(poller=ctx.poller)
    ctx.poller.tick()
    panel.select.value = None
    getattr(panel, button).click()
    if panel.confirm.is_open:
        panel.confirm.yes.click()
    ctx.poller.tick()
    return panel


def monitor_of(ctx: SimpleNamespace, job_id: str) -> JobMonitor:
    m = JobMonitor(job_id, poller=ctx.poller)
    ctx.poller.tick()
    return m
