"""What a reader sees in widgets and HTML views reads like a person wrote it (values.py rules, render.py HTML):
times to the second in the kernel's time zone with the UTC offset once in the header, durations as `12.8 s` /
`3 min 04 s` / `2 h 05 min`, job ids shortened with the full id on hover; the DataFrames themselves keep their
dtypes. Tables are built from answers recorded from a real NVFlare system."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from fakes import load_recording
from flare_jupyter import frames, render
from flare_jupyter.values import human_duration, local_time, short_id, utc_offset

JOBS = load_recording()["jobs"]
FINISHED, HOSTILE_ID = JOBS["finished"], JOBS["hostile"]
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    "value, shown",
    [
        (0, "0.0 s"),
        (12.84, "12.8 s"),
        (59.94, "59.9 s"),
        (59.96, "1 min 00 s"),  # rounding up to a minute moves to minutes
        (184, "3 min 04 s"),
        (3599.4, "59 min 59 s"),
        (3599.6, "1 h 00 min"),
        (7500, "2 h 05 min"),
        (3 * 86400 + 4 * 3600, "3 d 04 h"),
        (timedelta(seconds=12.8), "12.8 s"),
        (pd.Timedelta("0 days 00:00:12.811607"), "12.8 s"),
        ("0:00:12.811607", "12.8 s"),  # NVFlare's str(timedelta)
        ("2 days, 1:00:00", "2 d 01 h"),
    ],
)
def test_durations_read_as_a_person_writes_them(value, shown):
    assert human_duration(value) == shown


@pytest.mark.parametrize("value", [None, float("nan"), pd.NaT, "N/A", "", -1, True, "soon"])
def test_what_is_no_duration_shows_blank(value):
    assert human_duration(value) == ""


def test_times_are_local_to_the_second_and_the_offset_follows_daylight_saving():
    winter = "2026-11-30T17:50:04.949196+00:00"
    summer = datetime(2026, 7, 1, 12, 0, 0, 600000, tzinfo=timezone.utc)
    assert local_time(winter, PARIS) == "2026-11-30 18:50:04"  # cut to the second, not rounded
    assert utc_offset(winter, PARIS) == "UTC+01:00"
    assert local_time(summer, PARIS) == "2026-07-01 14:00:00"
    assert utc_offset(summer, PARIS) == "UTC+02:00"
    assert utc_offset(winter, ZoneInfo("America/St_Johns")) == "UTC-03:30"
    assert local_time(1764525004.9, timezone.utc) == "2025-11-30 17:50:04"  # epoch seconds, as in job metas
    assert local_time(None) == local_time("N/A") == local_time(pd.NaT) == ""


def test_long_job_ids_are_cut_short_ones_kept():
    assert short_id(FINISHED) == FINISHED[:8] + "\u2026"
    assert short_id("abc") == "abc"


@pytest.fixture
def paris(monkeypatch):
    """The kernel's local time zone set to Paris for the test (Unix: TZ and tzset)."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_jobs_table_reads_like_a_person_wrote_it(answers, paris):
    frame = frames.jobs_frame(answers("list_jobs")[-1])
    html = render.frame_html(frame[["job_id", "name", "status", "submit_time", "duration"]])
    finished = frame.set_index("job_id").loc[FINISHED]
    assert html.count("(UTC+01:00)") == 1  # the offset once, in the submit_time header
    assert "<th>submit_time (UTC+01:00)</th>" in html
    assert f"<td>{local_time(finished['submit_time'], PARIS)}</td>" in html
    assert "+00:00" not in html and "days" not in html and ".664702" not in html
    assert f"<td>{human_duration(finished['duration'])}</td>" in html and " s</td>" in html
    assert f"<bdi title='{FINISHED}'>{FINISHED[:8]}\u2026</bdi>" in html  # the full id on hover
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html


def test_the_frame_users_get_keeps_its_dtypes(answers):
    frame = frames.jobs_frame(answers("list_jobs")[-1])
    before = frame.dtypes.copy()
    render.frame_html(frame)
    assert frame.dtypes.equals(before)
    assert isinstance(frame["submit_time"].dtype, pd.DatetimeTZDtype)
    assert pd.api.types.is_timedelta64_dtype(frame["duration"])


def test_the_clients_table_shows_local_connect_times(answers, paris):
    frame = frames.clients_frame(answers("get_connected_client_list")[-1])
    html = render.frame_html(frame)
    assert "<th>last_connect_time (UTC+01:00)</th>" in html
    for t in frame["last_connect_time"]:
        assert f"<td>{local_time(t, PARIS)}</td>" in html


def test_comma_separated_job_ids_are_each_shortened():
    html = render.frame_html(pd.DataFrame({"jobs": [f"{FINISHED}, {HOSTILE_ID}", ""]}))
    assert f"<bdi title='{FINISHED}'>" in html and f"<bdi title='{HOSTILE_ID}'>" in html
    assert FINISHED not in html.replace(f"title='{FINISHED}'", "")


def test_times_across_a_daylight_saving_change_say_their_own_offsets(paris):
    frame = pd.DataFrame({"t": pd.to_datetime(["2026-01-10T10:00:00Z", "2026-07-10T10:00:00Z"], utc=True)})
    html = render.frame_html(frame)
    assert "<th>t</th>" in html
    assert "<td>2026-01-10 11:00:00 UTC+01:00</td>" in html and "<td>2026-07-10 12:00:00 UTC+02:00</td>" in html


def test_the_monitor_header_writes_the_elapsed_time_and_a_short_id():
    header = render.job_header("<b>x</b>", FINISHED, "RUNNING", 184.2)
    assert header.endswith("<span style='color:#666'>3 min 04 s</span>")
    assert f"<bdi title='{FINISHED}'>{FINISHED[:8]}\u2026</bdi>" in header
    assert "&lt;b&gt;x&lt;/b&gt;" in header and "<b>x</b>" not in header


def test_a_job_meta_table_reads_times_and_durations(answers, paris):
    meta = answers("get_job_meta", job_id=FINISHED)[-1]
    html = render.key_value_table("meta", meta)
    assert "submit_time (UTC+01:00)" in html and f">{local_time(meta['submit_time'], PARIS)}<" in html
    assert f">{human_duration(meta['duration'])}<" in html and " s<" in html
    assert f">{meta['job_id']}<" in html  # the detail view shows the whole id
