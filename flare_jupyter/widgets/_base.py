"""What every live widget shares: a banner for errors, guarded callbacks, a confirmation step, text fallbacks, and
action buttons that follow what the connected user may do (``permit``).

The kernel's thread never waits on the server for a widget: widgets read the poller's snapshot in ``update`` (on
the poller thread; the clients panel and the log viewer also make their own few calls there) and hand button
actions to ``Poller.submit``, which runs them on the poller thread too.
"""

from __future__ import annotations

import functools
import logging

import ipywidgets as w
import pandas as pd

from .. import compat, policy, render
from ..errors import describe, refusal, refusal_sentence
from ..poller import Poller

log = logging.getLogger("flare_jupyter.widgets")


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
        # what the banner says, when a poll put it there: "outage" (the server did not answer: the next tick it
        # answers clears it), "update" (this widget's own update failed: the next one that works clears it); "" for
        # anything else (an action's outcome, a click's), which stays until the next message
        self._poll_message = ""
        self._hidden = False
        self._view_count = 0  # ask the front end to count this widget's views (see _views_changed)
        self.observe(self._views_changed, names="_view_count")
        self._permitted: dict[str, tuple[w.Button, str]] = {}  # action buttons: (button, its usual tooltip)
        self._permit_session = None  # the session the buttons were last judged for
        self._choice: w.Dropdown | None = None  # the row the action buttons act on (``track_choice``)
        self.chosen = None  # ... its value, once the user (or a redraw that lost it) chose it
        self._replacing = False

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
        self._poll_message = "outage"

    def poll_disconnected(self, message: str) -> None:
        """The session was closed on purpose: one calm line, not an error; it goes once the poller polls again."""
        self._poll_message = "outage"
        self.banner.value = render.note(message)
        self.message = message

    def poll_succeeded(self) -> None:
        """Clear the banner if it says a poll failed; what an action or a click said stays until the next message."""
        if self._poll_message == "outage":
            self.clear_banner()

    def update_failed(self, message: str) -> None:
        self.show_error(message)
        self._poll_message = "update"

    def update_succeeded(self) -> None:
        if self._poll_message == "update":
            self.clear_banner()

    def _start(self) -> None:
        self._poller.add(self)

    def close(self):
        self._closed = True
        self._poller.remove(self)
        super().close()

    # -- the row the action buttons act on ----------------------------------------------------------------------
    def track_choice(self, select: w.Dropdown) -> None:
        """``select`` chooses the row the buttons act on (``chosen``); a choice the user makes reaches
        ``_selected`` (which judges the buttons for it)."""
        self._choice = select
        select.observe(self.guarded(self._choice_changed), names="value")

    def _choice_changed(self, change) -> None:
        if self._replacing:  # the passing row 0 of a redraw (see replace_choices), not a choice
            return
        self.chosen = change["new"]
        self._selected()

    def _selected(self) -> None:
        """The buttons judged for the row just chosen (a subclass's concern)."""

    def replace_choices(self, options: list) -> None:
        """New rows for the choice (on the poller thread), keeping the one chosen, or the first when it went.
        ipywidgets selects row 0 whenever a dropdown's options change: that passing row never becomes ``chosen``,
        so neither the buttons' judgement nor a click in between acts on it."""
        values = [o[1] if isinstance(o, tuple) else o for o in options]
        keep = self.chosen if self.chosen in values else (values[0] if values else None)
        self._replacing = True
        try:
            if tuple(self._choice.options) != tuple(options):
                self._choice.options = options
            self._choice.value = keep
        finally:
            self._replacing = False
        if keep != self.chosen:
            self.chosen = keep
            self._selected()

    # -- messages ----------------------------------------------------------------------------------------------
    # ``message`` changes last: who waits for it (a test, a text repr) finds the banner saying it already
    def show_error(self, message: str) -> None:
        self._poll_message = ""
        self.banner.value = render.banner(message, "error")
        self.message = message

    def show_info(self, message: str) -> None:
        self._poll_message = ""
        self.banner.value = render.banner(message, "info")
        self.message = message

    def clear_banner(self) -> None:
        self._poll_message = ""
        if self.message:
            self.banner.value = ""
            self.message = ""

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

    def confirm_then_act(self, question: str, what: str, action, on_done=None) -> None:
        """Ask ``question`` in the confirmation row; on Yes, ``act(what, action, on_done)``."""
        self.confirm.ask(question, lambda: self.act(what, action, on_done))

    # -- what the connected user may do ------------------------------------------------------------------------
    def permit(self, button: w.Button, session, *operations: str, site: str = "server", job: dict | None = None):
        """Enable ``button`` unless ``session``'s user may not do one of ``operations`` (session methods) on
        ``site`` or on the job whose meta is ``job``; a disabled button's tooltip is the refusal sentence the server
        would answer. Where the policy is not known yet (see ``policy``), the button stays enabled: the server
        decides, and its refusal is remembered."""
        self._permit_session = session
        usual = self._permitted.setdefault(button.description, (button, button.tooltip))[1]
        refused = next(
            (v for op in operations if (v := policy.may(session, op, site=site, job=job)).allowed is False), None
        )
        button.disabled = refused is not None
        if refused is None:
            button.tooltip = usual
        else:
            button.tooltip = refusal_sentence(refused.refusal) if refused.refusal else "not allowed for you"
        return refused

    def actions(self) -> pd.DataFrame:
        """This widget's action buttons: ``action``, ``allowed`` (as far as the policy tells) and ``why`` not."""
        rows = [(label, not b.disabled, b.tooltip if b.disabled else "") for label, (b, _) in self._permitted.items()]
        frame = pd.DataFrame(rows, columns=["action", "allowed", "why"])
        return frame.astype({"action": "string", "allowed": bool, "why": "string"})

    @staticmethod
    def refused_inside(operation: str, action):
        """``action``, raising the refusal as NVFlare's ``AuthorizationError`` (one sentence) when a client sent it
        back inside the result instead of raising it (NVFlare's ``restart``, ``get_client_env`` ...)."""

        def run(session):
            result = action(session)
            found = policy.refusals_in(result)
            if found:
                site, user, right = found[0]
                said = refusal_sentence(policy.result_refusal(session, operation, site, right, user))
                raise refusal(compat.AuthorizationError, said)
            return result

        run.__name__ = operation
        return run

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
        self.question.value = render.title(question)
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
