"""Every piece of HTML flare-jupyter shows (widgets, reprs, tables, charts) is built here, and every string that
may have come from the server is escaped here, and isolated (``<bdi>``) where it sits inside a line of ours, so a
job named with a right-to-left override cannot reorder the text around it.

What a reader sees reads like a person wrote it (the rules are in ``values``): times to the second in the kernel's
time zone with its UTC offset said once, in the table's header; durations as ``12.8 s`` / ``3 min 04 s`` /
``2 h 05 min``; job ids cut to 8 characters, the full id in the tooltip (hover). Only the HTML changes: the
DataFrames users get keep their real dtypes.

Pure: no IPython, no widgets.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from html import escape

import pandas as pd

from .values import human_duration, local_time, short_id, utc_offset


def esc(value) -> str:
    """``str(value)`` made safe to put inside HTML (text and attribute values)."""
    return escape(str(value), quote=True)


def isolated(value) -> str:
    """``value`` escaped and bidi-isolated: for a server string (job name, id, site, status) inside a line of ours."""
    return f"<bdi>{esc(value)}</bdi>"


def title(text: str) -> str:
    """A bold heading line."""
    return f"<b>{isolated(text)}</b>"


def note(text: str) -> str:
    """A quiet, italic line (an empty table's "nothing to show")."""
    return f"<i>{isolated(text)}</i>"


def unavailable(what: str, why: str = "") -> str:
    """What a repr shows when it cannot show itself (it never raises)."""
    return f"<pre>{esc(what)} (unavailable{': ' + esc(why) if why else ''})</pre>"


def summary_line(info: dict) -> str:
    """``key value · key value ...`` on one line (the dashboard's header)."""
    return "<div>" + " &middot; ".join(f"<b>{esc(k)}</b> {isolated(v)}" for k, v in info.items()) + "</div>"


def job_id(value) -> str:
    """A job id cut to its first characters, the full id in the tooltip (escaped and bidi-isolated)."""
    return f"<bdi title='{esc(value)}'>{esc(short_id(value))}</bdi>"


def job_header(name: str, job: str, status: str, elapsed: float | str | None = None) -> str:
    """A job monitor's first line: name, short id (full id on hover), a coloured status badge, the time it has
    run (seconds, written as a person would; text is shown as it is)."""
    if isinstance(elapsed, str):
        when = elapsed
    else:
        when = human_duration(elapsed) if elapsed is not None else ""
    when = f" <span style='color:#666'>{esc(when)}</span>" if when else ""
    return f"<b>{isolated(name or 'job')}</b> <code>{job_id(job)}</code> {status_badge(status)}{when}"


def titled(heading: str, body_html: str) -> str:
    """``body_html`` (already built here) under a bold heading."""
    return f"<div>{title(heading)}</div>{body_html}"


def pre(text: str, title: str | None = None) -> str:
    """Preformatted, escaped text, with an optional escaped heading."""
    head = f"<div style='font-weight:600'>{isolated(title)}</div>" if title else ""
    return f"{head}<pre style='white-space:pre-wrap;margin:0'>{esc(text)}</pre>"


def key_value_table(title: str, rows: dict) -> str:
    """A small two-column table (keys and values escaped) under an escaped title. A time (a key ending in
    ``time`` or ``time_iso``) reads as local time with its UTC offset after the key, a ``duration`` as a person
    writes one."""
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td style='text-align:left'>{v}</td></tr>"
        for k, v in (_readable_item(k, v) for k, v in rows.items())
    )
    return f"<div><b>{isolated(title)}</b><table>{body}</table></div>"


def _readable_item(key, value) -> tuple[str, str]:
    """(key, value HTML) of one row of a key-value table."""
    name = str(key)
    if name.endswith(("time", "time_iso")) and local_time(value):
        return f"{name} ({utc_offset(value)})", esc(local_time(value))
    if name == "duration" and human_duration(value):
        return name, esc(human_duration(value))
    return name, esc(value)


class TextResult(str):
    """Text from a target (cat, grep, head, tail, ls, logs): a ``str`` that displays as escaped preformatted text
    in a notebook and as itself (not as a quoted repr) in a terminal."""

    title: str | None = None

    def __new__(cls, text: str, title: str | None = None):
        obj = super().__new__(cls, text if isinstance(text, str) else str(text))
        obj.title = title
        return obj

    def __repr__(self) -> str:
        return str(self) if not self.title else f"{self.title}\n{self}"

    def _repr_html_(self) -> str:
        return pre(str(self), self.title)

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


class Message(str):
    """A one-line outcome (e.g. "Aborted the job ..."): shown as plain text, escaped in HTML."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return f"<span>{isolated(self)}</span>"

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


# -- pieces the widgets use ------------------------------------------------------------------------------------
STATUS_COLOURS = {
    "SUBMITTED": "#6c757d",
    "DISPATCHED": "#6c757d",
    "RUNNING": "#0d6efd",
    "COMPLETED": "#198754",
    "ABORTED": "#fd7e14",
    "ABANDONED": "#fd7e14",
    "EXCEPTION": "#dc3545",
    "EXECUTION_EXCEPTION": "#dc3545",
    "UNKNOWN": "#6c757d",
}


def status_colour(status: str) -> str:
    """The colour of a job status: grey waiting, blue running, green completed, orange aborted, red failed."""
    status = str(status or "UNKNOWN")
    outcome = status.split(":", 1)[1] if status.startswith("FINISHED:") else status
    return STATUS_COLOURS.get(outcome, "#dc3545" if "EXCEPTION" in outcome else "#6c757d")


def status_badge(status: str) -> str:
    return (
        f"<span style='background:{status_colour(status)};color:white;border-radius:4px;padding:1px 6px;"
        f"font-size:90%'>{isolated(status)}</span>"
    )


def banner(message: str, kind: str = "error") -> str:
    """A visible, escaped one-line banner ('' when there is nothing to say)."""
    if not message:
        return ""
    colours = {"error": ("#f8d7da", "#842029"), "info": ("#cff4fc", "#055160"), "ok": ("#d1e7dd", "#0f5132")}
    bg, fg = colours.get(kind, colours["error"])
    return f"<div style='background:{bg};color:{fg};padding:4px 8px;border-radius:4px'>{esc(message)}</div>"


def table(rows: list[dict], columns: list[str] | None = None, empty: str = "nothing to show") -> str:
    """A small HTML table; every header and cell escaped."""
    if not rows:
        return f"<i>{esc(empty)}</i>"
    columns = columns or list(rows[0])
    head = "".join(f"<th style='text-align:left;padding:0 1em 0 0'>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td style='text-align:left;padding:0 1em 0 0'>{esc(r.get(c, ''))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def frame_html(frame: pd.DataFrame, max_rows: int = 200) -> str:
    """A DataFrame as a readable HTML table, every header and value escaped: times in local time to the second
    (the UTC offset once, in the column's header), durations as a person writes them, job ids shortened (full id
    on hover), missing values blank. The frame itself is not changed."""
    shown = frame.head(max_rows)
    heads, columns = [], []
    for name in shown.columns:
        head, cells = _column(name, shown[name])
        heads.append(f"<th>{esc(head)}</th>")
        columns.append(cells)
    rows = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in zip(*columns, strict=True))
    return (
        "<table class='dataframe tex2jax_ignore mathjax_ignore' style='text-align:left'>"
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{rows}</tbody></table>"
    )


#: A job id (NVFlare's are UUIDs), alone or in a comma-separated list of them.
_JOB_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(, [0-9a-f-]{36})*")


def _column(name, values: pd.Series) -> tuple[str, list[str]]:
    """(header text, cell HTML per row) of one column."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        offsets = {utc_offset(v) for v in values if not pd.isna(v)}
        if len(offsets) == 1:  # the usual case: the offset once, in the header
            return f"{name} ({offsets.pop()})", [esc(local_time(v)) for v in values]
        return str(name), [esc(f"{local_time(v)} {utc_offset(v)}") if not _missing(v) else "" for v in values]
    return str(name), [_cell(v) for v in values]


def _cell(value) -> str:
    """One value of a table as HTML."""
    if _missing(value):
        return ""
    if isinstance(value, datetime):
        return esc(f"{local_time(value)} {utc_offset(value)}")
    if isinstance(value, timedelta):
        return esc(human_duration(value))
    if isinstance(value, float):
        return esc(f"{value:.6g}")
    if isinstance(value, str) and _JOB_IDS.fullmatch(value):
        return ", ".join(job_id(j) for j in value.split(", "))
    return esc(value)


def _missing(value) -> bool:
    """None, NaN, NaT or pandas' NA (a list or an array in a cell is a value, not missing)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # pd.isna of a list or an array is an array: not one missing value
        return False


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def line_chart(
    series: dict[str, list[tuple[float, float]]], width: int = 320, height: int = 120, title: str = ""
) -> str:
    """A small inline SVG line chart: one line per named series of (x, y) points. Names are escaped."""
    points = [pt for pts in series.values() for pt in pts]
    if not points:
        return ""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    left, right, top, bottom = 36, 8, 14, 18
    w, h = width - left - right, height - top - bottom

    def sx(x):
        return left + (x - x0) / (x1 - x0) * w

    def sy(y):
        return top + (1 - (y - y0) / (y1 - y0)) * h

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img'>",
        f"<text x='{left}' y='10' font-size='10'>{esc(title)}</text>",
        f"<line x1='{left}' y1='{top + h}' x2='{left + w}' y2='{top + h}' stroke='#999'/>",
        f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + h}' stroke='#999'/>",
        f"<text x='2' y='{top + 8}' font-size='9'>{y1:.3g}</text>",
        f"<text x='2' y='{top + h}' font-size='9'>{y0:.3g}</text>",
        f"<text x='{left}' y='{height - 4}' font-size='9'>round {x0:g}</text>",
        f"<text x='{left + w - 40}' y='{height - 4}' font-size='9'>round {x1:g}</text>",
    ]
    for i, (name, pts) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(pts))
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{path}'/>")
        for x, y in pts:
            parts.append(f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='2.5' fill='{colour}'/>")
        parts.append(
            f"<text x='{left + w - 90}' y='{top + 10 + 11 * i}' font-size='10' fill='{colour}'>{esc(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# -- experiments: triage and shareable reports ------------------------------------------------------------------
def triage(heading: str, origin: str | None, targets: list[dict]) -> str:
    """Where a job's failure started and, per target, its first error, exception and the line that raised it, with
    the log lines before the first error folded away (``targets``: ``failures.Failure.view()`` dicts)."""
    first = next((t for t in targets if t.get("target") == origin), None)
    if first is not None:
        said = first.get("exception") or first.get("error")
        lead = f"the failure started on <b>{isolated(origin)}</b>: <code>{esc(said)}</code>"
    elif targets:
        lead = "no target logged an error"
    else:
        lead = "the job never ran on any target: there is no job log to read"
    parts = [f"<div class='fj-triage'><div>{title(heading)}</div><div>{lead}</div>"]
    rows = [_triage_row(t) for t in targets]
    if rows:
        head = "".join(f"<th style='text-align:left;padding:0 1em 0 0'>{c}</th>" for c in _TRIAGE_COLUMNS)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    for t in targets:
        if t.get("before"):
            parts.append(
                f"<details><summary>the lines before the first error on {isolated(t.get('target'))}</summary>"
                f"<pre style='white-space:pre-wrap;margin:0'>{esc(chr(10).join(t['before']))}</pre></details>"
            )
    parts.append("</div>")
    return "".join(parts)


_TRIAGE_COLUMNS = ["target", "first error", "exception", "raised at"]


def _triage_row(t: dict) -> str:
    cell = "<td style='text-align:left;vertical-align:top;padding:0 1em 0 0'>{}</td>"
    if t.get("error") or t.get("exception"):
        error = f"{esc(t.get('time', ''))} {esc(t.get('component', ''))}: {esc(t.get('error', ''))}"
        raised = esc(t.get("location", "")) + (f"<br><code>{esc(t['code'])}</code>" if t.get("code") else "")
        cells = [error, f"<code>{esc(t.get('exception', ''))}</code>", raised]
    elif t.get("unavailable"):
        cells = [f"<i>its job log is not available: {esc(t['unavailable'])}</i>", "", ""]
    else:
        cells = ["<i>no error in its job log</i>" if not t.get("outlived") else "", "", ""]
    if t.get("outlived"):
        cells[0] = "<br>".join(c for c in (cells[0], f"<i>{esc(t['outlived'])}</i>") if c)
    return "<tr>" + "".join(cell.format(c) for c in [esc(t.get("target", "")), *cells]) + "</tr>"


def png_image(png: bytes, alt: str) -> str:
    """A PNG embedded in the page itself (a data URI), so a saved page needs nothing from elsewhere."""
    data = base64.b64encode(png).decode("ascii")
    return f"<img src='data:image/png;base64,{data}' alt='{esc(alt)}' style='max-width:100%'>"


REPORT_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ddd}table{border-collapse:collapse}th,td{padding:2px 10px 2px 0;text-align:left;"
    "vertical-align:top}pre{background:#f6f8fa;padding:6px}"
)


def report_section(heading: str, body_html: str) -> str:
    """One part of a report: an escaped heading over ``body_html`` (built here)."""
    return f"<section><h2>{esc(heading)}</h2>{body_html}</section>"


def report_page(page_title: str, header_html: str, sections: list[str]) -> str:
    """A whole self-contained HTML page: its own styles, no script, nothing loaded from any URL."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">"
        f"<title>{esc(page_title)}</title><style>{REPORT_STYLE}</style></head><body>"
        f"<h1>{esc(page_title)}</h1><div>{header_html}</div>{''.join(sections)}</body></html>"
    )


def report_fragment(header_html: str, sections: list[str]) -> str:
    """The same report inside a notebook's output (no page around it)."""
    return f"<div class='fj-report'><div>{header_html}</div>{''.join(sections)}</div>"
