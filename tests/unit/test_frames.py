"""flare_jupyter.frames on answers recorded from a real NVFlare system: row counts, real dtypes, kept columns."""

from __future__ import annotations

import pandas as pd
import pytest

from fakes import RecordedSession, load_recording
from flare_jupyter import compat, frames

JOBS = load_recording()["jobs"]
FINISHED, HOSTILE_ID = JOBS["finished"], JOBS["hostile"]
HOSTILE = "<img src=x onerror=alert(1)>"


def is_utc(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dtype.tz) == "UTC"


def is_timedelta(series: pd.Series) -> bool:
    return pd.api.types.is_timedelta64_dtype(series.dtype)


def is_category(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.CategoricalDtype)


# -- list_jobs ----------------------------------------------------------------------------------------------------
def test_plain_job_list_has_one_row_per_recorded_job(answers):
    jobs = answers("list_jobs")[-1]
    df = frames.jobs_frame(jobs)
    assert len(df) == len(jobs) == 2
    assert list(df["job_id"]) == [FINISHED, HOSTILE_ID]
    assert list(df.columns) == frames.JOB_COLUMNS


def test_plain_job_list_has_real_dtypes(answers):
    df = frames.jobs_frame(answers("list_jobs")[-1])
    assert is_utc(df["submit_time"]) and is_utc(df["start_time"])
    assert is_timedelta(df["duration"])
    assert is_category(df["status"])
    assert pd.api.types.is_string_dtype(df["name"])


def test_plain_job_list_values_are_read_from_the_answer(answers):
    df = frames.jobs_frame(answers("list_jobs")[-1]).set_index("job_id")
    assert df.loc[FINISHED, "submit_time"] == pd.Timestamp("2026-11-29T02:25:58.664702+00:00")
    assert df.loc[FINISHED, "duration"] == pd.Timedelta("0:00:15.904866")
    assert df.loc[FINISHED, "status"] == "FINISHED:COMPLETED"
    assert list(df["name"]) == ["hello-numpy", HOSTILE]  # NVFlare calls it job_name in plain listings
    assert df["start_time"].isna().all()  # plain listings carry no start time


def test_not_yet_started_job_has_nat_duration(answers):
    submitted = answers("list_jobs")[1]  # right after submit_job: duration "N/A"
    assert submitted[0]["duration"] == "N/A"
    df = frames.jobs_frame(submitted)
    assert df["duration"].isna().all() and is_timedelta(df["duration"])
    assert list(df["status"]) == ["SUBMITTED"]


def test_empty_job_list_keeps_columns_and_dtypes(answers):
    empty = answers("list_jobs")[0]  # the first list_jobs, before any submission
    assert empty == []
    df = frames.jobs_frame(empty)
    assert len(df) == 0
    assert list(df.columns) == frames.JOB_COLUMNS
    assert is_utc(df["submit_time"]) and is_timedelta(df["duration"]) and is_category(df["status"])


def test_detailed_job_list_keeps_extra_fields_after_the_job_columns(answers):
    jobs = answers("list_jobs", detailed=True)[-1]
    df = frames.jobs_frame(jobs)
    assert len(df) == len(jobs) == 2
    assert list(df.columns[: len(frames.JOB_COLUMNS)]) == frames.JOB_COLUMNS
    assert {"submitter_name", "deploy_map", "job_folder_name"} <= set(df.columns)
    assert "submit_time_iso" not in df.columns


def test_detailed_job_list_has_real_times(answers):
    df = frames.jobs_frame(answers("list_jobs", detailed=True)[-1]).set_index("job_id")
    assert is_utc(df["start_time"]) and is_utc(df["submit_time"])
    assert df.loc[FINISHED, "start_time"] == pd.Timestamp("2026-11-29T02:25:59.356012+00:00")
    assert df.loc[FINISHED, "duration"] == pd.Timedelta("0:00:15.904866")


def test_detailed_and_plain_listings_agree_on_submit_time(answers):
    plain = frames.jobs_frame(answers("list_jobs")[-1]).set_index("job_id")["submit_time"]
    detailed = frames.jobs_frame(answers("list_jobs", detailed=True)[-1]).set_index("job_id")["submit_time"]
    pd.testing.assert_series_equal(plain, detailed)


def test_running_job_in_detailed_listing(answers):
    df = frames.jobs_frame(answers("list_jobs", detailed=True)[0])
    assert list(df["status"]) == ["RUNNING"]
    assert df["duration"][0] == pd.Timedelta("0:00:02.780367")


def test_hostile_job_name_is_escaped_in_dataframe_html(answers):
    df = frames.jobs_frame(answers("list_jobs")[-1])
    assert HOSTILE in list(df["name"])
    for page in (df._repr_html_(), df.to_html()):
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "<img" not in page


# -- show_stats / show_errors -------------------------------------------------------------------------------------
def test_server_stats_one_row_per_component_key(answers):
    stats = answers("show_stats", job_id=FINISHED, target_type="server")[-1]
    df = frames.stats_frame(stats)
    assert list(df.columns) == frames.NESTED_COLUMNS
    assert set(zip(df["component"], df["key"], strict=True)) == {
        ("FedAvg", "tasks"),
        ("ServerRunner", "job_id"),
        ("ServerRunner", "status"),
        ("ServerRunner", "workflow"),
    }
    assert set(df["target"]) == {"server"}
    assert df.set_index("key").loc["tasks", "value"] == {"train": ["site-1"]}


def test_client_stats_rows_for_the_reporting_client(answers):
    df = frames.stats_frame(answers("show_stats", job_id=FINISHED, target_type="client")[-1])
    site1 = df[df["target"] == "site-1"]
    assert len(site1) == 2
    assert set(site1["key"]) == {"current_tasks", "job_id"}
    assert set(site1["component"]) == {"ClientRunner"}


def test_client_stats_of_one_named_client(answers):
    df = frames.stats_frame(answers("show_stats", job_id=FINISHED, target_type="client", targets=["site-1"])[-1])
    assert len(df) == 2 and set(df["target"]) == {"site-1"}


def test_clean_server_errors_no_error_string_gives_empty_frame(answers):
    clean = answers("show_errors", job_id=FINISHED, target_type="server")[-1]
    assert clean == {"server": "No Error"}
    df = frames.errors_frame(clean)
    assert len(df) == 0 and list(df.columns) == frames.NESTED_COLUMNS


def test_clean_client_errors_empty_dicts_give_empty_frame(answers):
    clean = answers("show_errors", job_id=FINISHED, target_type="client")[-1]
    assert clean == {"site-1": {}, "site-2": {}}
    df = frames.errors_frame(clean)
    assert len(df) == 0 and list(df.columns) == frames.NESTED_COLUMNS


# -- sites --------------------------------------------------------------------------------------------------------
def test_connected_clients_with_utc_connect_times(answers):
    clients = answers("get_connected_client_list")[-1]
    df = frames.clients_frame(clients)
    assert list(df["name"]) == ["site-2", "site-1"]
    assert is_utc(df["last_connect_time"])
    for row, client in zip(df.itertuples(), clients, strict=True):
        assert abs(row.last_connect_time.timestamp() - client.last_connect_time) < 1e-3


def test_client_job_status_while_a_job_runs(answers):
    df = frames.client_job_status_frame(answers("get_client_job_status")[0])
    assert len(df) == 2
    assert set(df["job_id"]) == {FINISHED}
    assert is_category(df["status"]) and set(df["status"]) == {"started"}
    assert set(df["app_name"]) == {"app"}


def test_idle_client_job_status_keeps_job_columns(answers):
    df = frames.client_job_status_frame(answers("get_client_job_status")[-1])
    assert list(df.columns) == ["client_name", "job_id", "app_name", "status"]
    assert list(df["client_name"]) == ["site-2", "site-1"]
    assert df["job_id"].isna().all()
    assert set(df["status"]) == {"no_jobs"}


def test_client_env_secure_mode_is_boolean(answers):
    df = frames.client_env_frame(answers("get_client_env")[-1])
    assert list(df["site_name"]) == ["site-2", "site-1"]
    assert df["secure_mode"].dtype == "boolean" and df["secure_mode"].all()
    assert set(df["root_url"]) == {"http://localhost:55807"}


def test_client_env_of_one_site(answers):
    df = frames.client_env_frame(answers("get_client_env", client_names=["site-2"])[-1])
    assert list(df["site_name"]) == ["site-2"]


def test_service_provider_frame_from_compat_list_sp(kit):
    answer = compat.list_sp(RecordedSession(startup_path=str(kit)), "localhost", 57561)  # the kit's endpoint
    df = frames.sp_frame(answer)
    assert len(df) == 1
    row = df.iloc[0]
    assert row["name"] == "localhost"
    assert row["fl_port"] == 55807  # from the recorded get_client_env root_url
    assert row["admin_port"] == 57561
    assert bool(row["primary"]) is True
    assert df["fl_port"].dtype == "Int64" and df["primary"].dtype == "boolean"
    assert "props" not in df.columns


@pytest.mark.parametrize(
    "convert, columns",
    [
        (frames.clients_frame, ["name", "last_connect_time"]),
        (frames.client_job_status_frame, ["client_name", "job_id", "app_name", "status"]),
        (frames.client_env_frame, ["site_name", "workspace", "root_url", "secure_mode"]),
        (frames.sp_frame, ["name", "fl_port", "admin_port", "primary", "service_session_id"]),
        (frames.stats_frame, frames.NESTED_COLUMNS),
    ],
)
def test_no_answer_keeps_the_columns(convert, columns):
    df = convert(None)
    assert len(df) == 0 and list(df.columns) == columns


def test_durations_of_a_day_or_more_and_unreadable_ones():
    # NVFlare writes durations with Python's str(timedelta): days appear as "N day(s), H:MM:SS.ffffff"
    df = frames.jobs_frame(
        [
            {"job_id": "a", "job_name": "x", "status": "FINISHED:COMPLETED", "duration": "2 days, 0:00:01.500000"},
            {"job_id": "b", "job_name": "y", "status": "FINISHED:COMPLETED", "duration": "1 day, 23:59:59"},
            {"job_id": "c", "job_name": "z", "status": "RUNNING", "duration": "N/A"},
            {"job_id": "d", "job_name": "w", "status": "RUNNING", "duration": "soon"},
        ]
    )
    assert df["duration"].tolist()[:2] == [pd.Timedelta(days=2, seconds=1.5), pd.Timedelta(days=1, seconds=86399)]
    assert df["duration"].isna().tolist() == [False, False, True, True]


# every shape of time and duration NVFlare writes (and some it should not), with what a reader expects of each
TIMES = [
    ("2026-11-29T02:25:58.664702+00:00", pd.Timestamp("2026-11-29T02:25:58.664702Z")),  # submit_time_iso
    ("2026-11-29T03:25:58.664702+01:00", pd.Timestamp("2026-11-29T02:25:58.664702Z")),  # another zone
    ("2026-11-29T02:25:58", pd.Timestamp("2026-11-29T02:25:58Z")),  # naive: UTC
    (1795919158.6647022, pd.Timestamp("2026-11-29T02:25:58.664702Z")),  # detailed submit_time (epoch seconds)
    ("1795919158.5", pd.Timestamp("2026-11-29T02:25:58.5Z")),  # an epoch written as text
    (None, pd.NaT),
    ("", pd.NaT),
    ("N/A", pd.NaT),
    (float("nan"), pd.NaT),
    (1e300, pd.NaT),  # beyond any calendar
    ("2026-11-29 02:25:58.664702+00:00", pd.Timestamp("2026-11-29T02:25:58.664702Z")),  # str(datetime)
    ("2026-11-29T02:25:58.664702", pd.Timestamp("2026-11-29T02:25:58.664702Z")),  # naive, with microseconds
    ("2026-11-29T03:25:58+01:00", pd.Timestamp("2026-11-29T02:25:58Z")),  # whole seconds, with a zone
    ("2026-11-29T02:25:58.664702-05:30", pd.Timestamp("2026-11-29T07:55:58.664702Z")),  # west of UTC
    ("2024-02-29T00:00:00.000000+00:00", pd.Timestamp("2024-02-29T00:00:00Z")),  # a leap day
    ("2026-02-29T00:00:00.000000+00:00", pd.NaT),  # not a leap year
    ("2026-04-31T00:00:00.000000+00:00", pd.NaT),  # April has 30 days
    ("2026-13-01T00:00:00.000000+00:00", pd.NaT),  # no 13th month
    ("2026-11-29T24:00:00.000000+00:00", pd.NaT),  # no 24th hour
    ("2026-11-29T02:25:58.6647é2+00:00", pd.NaT),  # a non-ASCII character where a digit belongs
    ("2026-11-29X02:25:58.664702+00:00", pd.Timestamp("2026-11-29T02:25:58.664702Z")),  # any separator (Python's)
    ("2026-11-29T02-25:58.664702+00:00", pd.NaT),  # a time written wrong
]
DURATIONS = [
    ("0:00:15.904866", pd.Timedelta("0:00:15.904866")),
    ("13:05:01.000001", pd.Timedelta("13:05:01.000001")),
    ("0:00:15", pd.Timedelta(seconds=15)),  # str(timedelta) drops whole-second fractions
    ("1 day, 0:00:01", pd.Timedelta(days=1, seconds=1)),
    ("-1 day, 23:59:59.500000", pd.Timedelta(seconds=-0.5)),
    ("0:00:15.90486x", pd.NaT),
    ("N/A", pd.NaT),
    (None, pd.NaT),
    (["0:00:01.000000"], pd.NaT),
]


@pytest.mark.parametrize("copies", [1, frames._LOOP_LIMIT + 1], ids=["few jobs (loop)", "many jobs (vectorized)"])
def test_times_read_alike_for_few_and_many_values(copies):
    values = [v for v, _ in TIMES] * copies
    out = pd.Series(frames._times(values))
    assert str(out.dtype) == "datetime64[us, UTC]"
    for i, (value, expected) in enumerate(TIMES):
        got = out[i]
        assert (pd.isna(got) and pd.isna(expected)) or got == expected, f"{value!r} read as {got}"


@pytest.mark.parametrize("copies", [1, 1000])
def test_durations_read_alike_for_few_and_many_values(copies):
    values = [v for v, _ in DURATIONS] * copies
    out = pd.Series(frames._durations(values))
    assert str(out.dtype) == "timedelta64[us]"
    for i, (value, expected) in enumerate(DURATIONS * copies):
        got = out[i]
        assert (pd.isna(got) and pd.isna(expected)) or got == expected, f"{value!r} read as {got}"


def test_job_list_keeps_fields_only_some_jobs_have(answers):
    jobs = answers("list_jobs", detailed=True)[-1]
    first, second = dict(jobs[0]), dict(jobs[1])
    second["custom_field"] = "only here"
    df = frames.jobs_frame([first, second])
    assert df["custom_field"].isna().tolist() == [True, False]
    assert list(df.columns[: len(frames.JOB_COLUMNS)]) == frames.JOB_COLUMNS


@pytest.mark.parametrize("reader", ["pandas' own reader", "its public equivalent"])
def test_a_large_detailed_listing_reads_its_other_fields_as_pandas_does(answers, monkeypatch, reader):
    if reader == "its public equivalent":  # a pandas without the private reader frames uses
        monkeypatch.setattr(frames, "_dicts_to_array", None)
    # past the loop limit the records are read in one pass of pandas' own reader: the fields beyond the job columns
    # come out exactly as pandas.DataFrame(records) reads them, and the job columns as a small listing reads them
    jobs = answers("list_jobs", detailed=True)[-1] * (frames._LOOP_LIMIT // 2 + 1)
    df = frames.jobs_frame(jobs)
    assert len(df) == len(jobs) > frames._LOOP_LIMIT
    extra = [c for c in df.columns if c not in frames.JOB_COLUMNS]
    pd.testing.assert_frame_equal(df[extra], pd.DataFrame(jobs)[extra])
    small = frames.jobs_frame(jobs[:2])
    pd.testing.assert_frame_equal(df[frames.JOB_COLUMNS].head(2), small[frames.JOB_COLUMNS])


def test_times_read_the_same_through_the_public_constructor(answers, monkeypatch):
    # frames wraps the read times in pandas' DatetimeArray as they are (a private constructor); a pandas without it
    # goes through pandas.array: the same frame either way
    assert frames._wrap_datetimes is not None  # the pandas installed here has it
    jobs = answers("list_jobs", detailed=True)[-1]
    wrapped = frames.jobs_frame(jobs)
    monkeypatch.setattr(frames, "_wrap_datetimes", None)
    public = frames.jobs_frame(jobs)
    pd.testing.assert_frame_equal(wrapped, public)
    assert is_utc(public["submit_time"]) and public["submit_time"].notna().all()
