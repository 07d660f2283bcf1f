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
