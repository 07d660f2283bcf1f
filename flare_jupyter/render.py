"""The only place that builds HTML. Every string that may have come from the server is escaped here.

Pure: no IPython, no widgets.
"""

from __future__ import annotations

from html import escape


def esc(value) -> str:
    """``str(value)`` made safe to put inside HTML (text and attribute values)."""
    return escape(str(value), quote=True)


def pre(text: str, title: str | None = None) -> str:
    """Preformatted, escaped text, with an optional escaped heading."""
    head = f"<div style='font-weight:600'>{esc(title)}</div>" if title else ""
    return f"{head}<pre style='white-space:pre-wrap;margin:0'>{esc(text)}</pre>"


def key_value_table(title: str, rows: dict) -> str:
    """A small two-column table (keys and values escaped) under an escaped title."""
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{esc(k)}</th><td style='text-align:left'>{esc(v)}</td></tr>"
        for k, v in rows.items()
    )
    return f"<div><b>{esc(title)}</b><table>{body}</table></div>"


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
        return f"<span>{esc(self)}</span>"

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
        f"font-size:90%'>{esc(status)}</span>"
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


def frame_html(frame, max_rows: int = 200) -> str:
    """A DataFrame as HTML with every value escaped (pandas escapes by default; we insist)."""
    return frame.head(max_rows).to_html(escape=True, index=False, border=0, na_rep="")


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
