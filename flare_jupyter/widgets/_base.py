"""What every live widget shares: a banner for errors, guarded callbacks, a confirmation step, text fallbacks.

Widgets never call NVFlare themselves: they read the poller's snapshot in ``update`` (on the poller thread) and
hand button actions to ``Poller.submit``, so the kernel's thread never waits on the server.
"""

from __future__ import annotations

import functools
import logging

import ipywidgets as w

from .. import render
from ..errors import describe
from ..poller import Poller

log = logging.getLogger("flare_jupyter.widgets")


def whole_number(label: str, value, low: int = 1, high: int = 100_000) -> int:
    """A widget size given by the user: a whole number in [low, high], else one clear line."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        from ..errors import FlareError

        raise FlareError(f"{label} must be a whole number from {low} to {high}, not {value!r}")
    return value


def widgets_render_here() -> bool:
    """True in a Jupyter kernel (a front end may draw widgets); False in a plain terminal IPython or Python."""
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except Exception:
        return False
    return ip is not None and getattr(ip, "kernel", None) is not None


class LiveWidget(w.VBox):
    """A VBox served by a ``Poller`` (see ``flare_jupyter.poller`` for the subscriber protocol).

    Subclasses build their children, then call ``self._start()``; they implement ``update(session, snapshot)``
    and ``_text()`` (what terminals and nbconvert show)."""

    wants_jobs = False

    def __init__(self, poller: Poller | None = None, **kwargs):
        super().__init__(**kwargs)
        self._poller = poller or Poller.shared()
        self._closed = False
        self.banner = w.HTML("", layout=w.Layout(margin="2px 0"))
        self.message = ""  # what the banner says (plain text), for tests and text reprs
        self._poll_message = False  # the banner says a poll failed: the next successful poll clears it
        self._hidden = False
        self._view_count = 0  # ask the front end to count this widget's views (see _views_changed)
        self.observe(self._views_changed, names="_view_count")

    def _views_changed(self, change) -> None:
        """The notebook no longer shows this widget (its output was cleared, its cell re-run): stop polling for it.
        Showing it again resumes. A front end that never counts views (nbclient, terminals) changes nothing."""
        old, new = change["old"] or 0, change["new"] or 0
        if new == 0 and old > 0:
            self._hidden = True
            self._poller.remove(self)
        elif new > 0 and self._hidden:
            self._hidden = False
            self._poller.add(self)

    # -- subscriber protocol -----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._closed or self._hidden

    def watched_jobs(self, snapshot) -> set:
        return set()

    def update(self, session, snapshot) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def poll_failed(self, message: str) -> None:
        self.show_error(message)
        self._poll_message = True

    def poll_succeeded(self) -> None:
        """Clear the banner if it says a poll failed; what an action or a click said stays until the next message."""
        if self._poll_message:
            self.clear_banner()

    def _start(self) -> None:
        self._poller.add(self)

    def close(self):
        self._closed = True
        self._poller.remove(self)
        super().close()

    # -- messages ----------------------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.message = message
        self._poll_message = False
        self.banner.value = render.banner(message, "error")

    def show_info(self, message: str) -> None:
        self.message = message
        self._poll_message = False
        self.banner.value = render.banner(message, "info")

    def clear_banner(self) -> None:
        self._poll_message = False
        if self.message:
            self.message = ""
            self.banner.value = ""

    def guarded(self, fn):
        """A callback whose exceptions land in this widget's banner (ipywidgets would swallow them into a log)."""

        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:
                log.debug("callback failed", exc_info=True)
                self.show_error(describe(e, getattr(fn, "__name__", "action").strip("_")))

        return run

    def act(self, what: str, action, on_done=None) -> None:
        """Queue ``action(session)`` on the poller thread; show progress, then the outcome or the error."""
        self.show_info(f"{what} ...")

        def done(result):
            if on_done is not None:
                on_done(result)
            elif self.message == f"{what} ...":
                self.clear_banner()

        self._poller.submit(action, on_done=self.guarded(done), on_error=self.show_error)

    # -- text fallbacks ----------------------------------------------------------------------------------------
    def _text(self) -> str:  # pragma: no cover - every subclass has its own
        return type(self).__name__

    def __repr__(self) -> str:
        try:
            text = self._text()
        except Exception as e:  # a repr never raises
            text = f"{type(self).__name__} (unavailable: {type(e).__name__})"
        return text + (f"\n! {self.message}" if self.message else "")

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)  # ipywidgets cuts it at 110 characters
        return bundle


class Confirm(w.HBox):
    """An inline "are you sure?" step: hidden until ``ask``; Yes runs the action, Cancel hides it again."""

    def __init__(self, owner: LiveWidget):
        self._owner = owner
        self._action = None
        self.question = w.HTML("")
        self.yes = w.Button(description="Yes", button_style="danger", layout=w.Layout(width="auto"))
        self.no = w.Button(description="Cancel", layout=w.Layout(width="auto"))
        super().__init__([self.question, self.yes, self.no], layout=w.Layout(display="none"))
        self.yes.on_click(owner.guarded(self._yes))
        self.no.on_click(owner.guarded(self._no))

    @property
    def is_open(self) -> bool:
        return self.layout.display != "none"

    def ask(self, question: str, action) -> None:
        self._action = action
        self.question.value = f"<b>{render.esc(question)}</b>"
        self.layout.display = "flex"

    def _yes(self, _button=None):
        action, self._action = self._action, None
        self.layout.display = "none"
        if action is not None:
            action()

    def _no(self, _button=None):
        self._action = None
        self.layout.display = "none"


def button(label: str, tooltip: str = "", style: str = "", icon: str = "") -> w.Button:
    return w.Button(
        description=label, tooltip=tooltip or label, button_style=style, icon=icon, layout=w.Layout(width="auto")
    )
