"""What another thread sees while the poller's thread redraws a widget, on answers recorded from a real system.

The poller draws each widget on its own thread while the user's cells and clicks run on the kernel's. A redraw is
several steps; these tests stand at the worst step and look, as a click or a waiting cell would:

* a dropdown given new options passes through row 0 (ipywidgets selects it): the buttons neither act on nor are
  judged for that passing row, only for the row the user chose;
* a widget whose own update keeps failing keeps its error shown while the next update runs (it does not blink away
  for the length of each call), and loses it once an update works;
* a log viewer's Refresh asked for during its call is not lost;
* ``shown`` is the last step of a jobs panel's redraw: a table and choice that match it are already in place.
"""

from __future__ import annotations

from test_widgets import ABORTED, ACTIONS, HOSTILE_ID, RECORDING, THREE, panel_on_recorded_jobs, replay

from flare_jupyter.widgets import ClientsPanel, LogViewer
from flare_jupyter.widgets._base import LiveWidget


def by_status(panel, poller, *statuses) -> None:
    """Filter the recorded page (newest first: the aborted job, the hostile one, THREE) by each status in turn, a
    tick each: every one gives the dropdown new options."""
    for status in statuses:
        panel.status_filter.value = status
        poller.tick()


def test_a_redraw_never_judges_the_buttons_for_a_row_nobody_chose():
    _raw, poller, panel = panel_on_recorded_jobs()
    panel.select.value = THREE  # the last row
    judged, passing = [], []
    real = panel._job_meta
    panel._job_meta = lambda session, job_id, fetch: judged.append(job_id) or real(session, job_id, fetch)
    panel.select.observe(lambda change: passing.append(change["new"]), names="value")
    by_status(panel, poller, "FINISHED:COMPLETED", "any")
    assert set(passing) - {THREE}, "no redraw passed through another row: this test no longer looks where it should"
    assert judged and set(judged) == {THREE}, judged
    assert panel.chosen == THREE and panel.select.value == THREE


def test_a_click_in_the_middle_of_a_redraw_acts_on_the_chosen_row():
    _raw, poller, panel = panel_on_recorded_jobs()
    panel.select.value = THREE
    asked = []

    def click_now(change):  # the user clicks Delete at the instant the options were replaced
        if change["new"] == 0 and not asked:
            panel.buttons["Delete"].click()
            asked.append(panel.confirm.question.value)

    panel.select.observe(click_now, names="index")
    by_status(panel, poller, "FINISHED:COMPLETED", "any")
    assert asked, "no redraw passed through row 0: this test no longer looks where it should"
    assert THREE in asked[0]
    assert panel.select.value == THREE


def test_the_choice_goes_to_the_first_row_when_the_chosen_job_is_gone_and_stays_there():
    _raw, poller, panel = panel_on_recorded_jobs()
    panel.select.value = THREE
    by_status(panel, poller, "FINISHED:ABORTED")
    assert list(panel.shown["job_id"]) == [ABORTED]
    assert panel.chosen == ABORTED and panel.select.value == ABORTED
    by_status(panel, poller, "any")
    assert panel.chosen == ABORTED and panel.select.value == ABORTED


def test_when_shown_changes_the_table_and_the_choice_already_match_it():
    _raw, poller, panel = panel_on_recorded_jobs()
    panel.select.value = THREE
    seen = []

    class Watched(type(panel)):
        def __setattr__(self, name, value):
            if name == "shown":
                seen.append((list(value["job_id"]), self.chosen, self.table.value))
            super().__setattr__(name, value)

    panel.__class__ = Watched
    by_status(panel, poller, "FINISHED:COMPLETED")
    ids, chosen, table = seen[-1]
    assert ids == [HOSTILE_ID, THREE] and chosen == THREE
    assert HOSTILE_ID in table and THREE in table and ABORTED not in table


class FailingUpdate(LiveWidget):
    """A widget whose own update fails while ``failing`` (as a log viewer's of an unknown site does, its call
    refused); it notes the banner it finds at the start of each update."""

    def __init__(self, poller):
        super().__init__(poller=poller)
        self.failing, self.found = True, []
        self._start()

    def update(self, session, snapshot) -> None:
        self.found.append(self.message)
        if self.failing:
            raise LookupError("target 'site-9' is not known")

    def _text(self) -> str:
        return "failing widget"


def test_an_error_that_persists_stays_shown_through_the_next_update_then_goes_once_one_works():
    _raw, poller = replay(RECORDING, sequence=False)
    widget = FailingUpdate(poller)
    poller.tick()
    first = widget.message
    assert "site-9" in first and "site-9" in widget.banner.value
    poller.tick()
    assert widget.found[-1] == first  # while the second update ran, the error was still on show
    widget.failing = False
    poller.tick()
    assert widget.message == "" and widget.banner.value == ""


def test_an_outage_banner_goes_at_the_next_tick_the_server_answers():
    _raw, poller = replay(ACTIONS, sequence=False)
    panel = ClientsPanel(poller=poller, every=0)
    panel.poll_failed("the server did not answer (retrying in 2 s)")
    poller.tick()
    assert panel.message == "" and panel.banner.value == ""


def test_a_refresh_asked_for_during_the_log_call_is_read_at_the_next_tick():
    calls = []

    class Clicking:
        """The recorded session; the user clicks Refresh while the first tail call is on its way."""

        def __init__(self, raw):
            self._raw = raw

        def __getattr__(self, name):
            return getattr(self._raw, name)

        def tail_target_log(self, target, options=None):
            calls.append(options)
            if len(calls) == 1:
                viewer.refresh_button.click()
            return self._raw.tail_target_log(target, options=options)

    _raw, poller = replay(RECORDING, sequence=False, wrap=Clicking)
    viewer = LogViewer("server", lines=20, poller=poller)  # not following: it reads when asked to
    poller.tick()
    poller.tick()
    assert calls == ["-n 20", "-n 20"]
    assert viewer.message == "" and len(viewer.buffer) > 0
