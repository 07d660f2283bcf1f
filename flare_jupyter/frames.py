"""Pure conversions of NVFlare's answers into pandas DataFrames with real dtypes.

Each function takes exactly what the matching ``Session`` method returns and never calls the server.
Times are timezone-aware (UTC) datetimes, durations timedeltas, statuses categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

JOB_COLUMNS = ["job_id", "name", "status", "submit_time", "start_time", "duration", "study"]
NESTED_COLUMNS = ["target", "component", "key", "value"]


def _with_columns(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``df`` with every column in ``columns`` present (missing ones all None), so empty answers keep their schema."""
    for col in columns:
        if col not in df:
            df[col] = pd.Series([None] * len(df), dtype=object, index=df.index)
    return df


def _times(values: pd.Series) -> pd.Series:
    """Epoch seconds or ISO strings (or '' / None) to UTC datetimes; anything unreadable becomes NaT.

    Vectorized fast paths: a numeric column is epoch seconds; text is parsed as ISO 8601 in one call; only text that
    fails (e.g. an epoch written as a string) is tried as a number."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    out = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    other = (out.isna() & values.notna() & values.ne("")).to_numpy()
    if other.any():
        numeric = pd.to_numeric(values.where(other), errors="coerce")
        out = out.where(~other, pd.to_datetime(numeric, unit="s", utc=True, errors="coerce"))
    return out


def _seconds(value) -> float:
    """Python's ``str(timedelta)`` back to seconds ('1:02:03.5' is 3723.5, '2 days, 0:00:01' is 172801); NaN for
    'N/A', '' and anything else."""
    try:
        days = 0
        if "day" in value:
            head, value = value.split(",", 1)
            days = int(head.split()[0])
        h, m, sec = value.split(":")
        return days * 86400 + int(h) * 3600 + int(m) * 60 + float(sec)
    except (AttributeError, TypeError, ValueError, IndexError):
        return float("nan")


def _durations(values: pd.Series) -> pd.Series:
    """'0:00:14.906670' to a timedelta (microseconds); 'N/A' and blanks to NaT. A plain loop: 3x faster than
    ``pd.to_timedelta`` on object strings, which matters at 100k jobs."""
    micros = np.rint(np.fromiter((_seconds(v) for v in values), dtype=np.float64, count=len(values)) * 1e6)
    return pd.Series(pd.to_timedelta(micros, unit="us"), index=values.index).astype("timedelta64[us]")


def jobs_frame(jobs: Iterable[Mapping] | None) -> pd.DataFrame:
    """``list_jobs`` (plain or ``detailed=True``) as one row per job.

    Columns: job_id, name, status (category), submit_time, start_time (UTC datetimes), duration (timedelta),
    study, then whatever else the server sent (detailed listings), unchanged.
    """
    records = jobs if isinstance(jobs, list) else list(jobs or [])
    df = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    if "name" not in df and "job_name" in df:
        df = df.rename(columns={"job_name": "name"})
    elif "job_name" in df:
        df = df.drop(columns=["job_name"])
    df = _with_columns(df, JOB_COLUMNS)
    submit = df["submit_time_iso"] if "submit_time_iso" in df else df["submit_time"]
    df["submit_time"] = _times(submit)
    df["start_time"] = _times(df["start_time"])
    df["duration"] = _durations(df["duration"])
    df["status"] = df["status"].astype("category")
    for col in ("job_id", "name", "study"):
        df[col] = df[col].astype("string")
    df = df.drop(columns=[c for c in ("submit_time_iso",) if c in df])
    return df[JOB_COLUMNS + [c for c in df.columns if c not in JOB_COLUMNS]]


def _nested_frame(answer: Mapping | None, skip=lambda v: False) -> pd.DataFrame:
    """{target: {component: {key: value}}} as rows (target, component, key, value)."""
    rows = []
    for target, per_target in (answer or {}).items():
        if skip(per_target):
            continue
        if not isinstance(per_target, Mapping) or not per_target:  # a plain value, or a target with nothing to say
            rows.append((target, None, None, per_target if not isinstance(per_target, Mapping) else None))
            continue
        for component, per_component in per_target.items():
            if isinstance(per_component, Mapping) and per_component:
                rows.extend((target, component, k, v) for k, v in per_component.items())
            else:
                rows.append((target, component, None, per_component))
    df = pd.DataFrame(rows, columns=NESTED_COLUMNS)
    for col in ("target", "component", "key"):
        df[col] = df[col].astype("string")
    return df


def stats_frame(stats: Mapping | None) -> pd.DataFrame:
    """``show_stats`` as one row per (target, component, key) with the value as NVFlare gave it; a target that
    reported nothing (a client between tasks answers ``{}``) keeps one row with empty component, key and value."""
    return _nested_frame(stats)


def _is_clean(value) -> bool:
    """NVFlare's "no errors" answers: the string "No Error" (server) and {} (client)."""
    return value in (None, {}, "") or (isinstance(value, str) and value.strip().lower() == "no error")


def errors_frame(errors: Mapping | None) -> pd.DataFrame:
    """``show_errors`` as one row per reported error; empty when every target is clean."""
    return _nested_frame(errors, skip=_is_clean)


def clients_frame(clients: Iterable | None) -> pd.DataFrame:
    """``get_connected_client_list`` (``ClientInfo`` objects) as name and last_connect_time (UTC datetime)."""
    rows = [(getattr(c, "name", None), getattr(c, "last_connect_time", None)) for c in (clients or [])]
    df = pd.DataFrame(rows, columns=["name", "last_connect_time"])
    df["name"] = df["name"].astype("string")
    df["last_connect_time"] = _times(df["last_connect_time"].astype(object))
    return df


def client_job_status_frame(status: Iterable[Mapping] | None) -> pd.DataFrame:
    """``get_client_job_status`` as one row per (client, job); empty when no client answered."""
    cols = ["client_name", "job_id", "app_name", "status"]
    df = pd.DataFrame.from_records([dict(s) for s in (status or [])])
    df = _with_columns(df, cols)
    for col in ("client_name", "job_id", "app_name"):
        df[col] = df[col].astype("string")
    df["status"] = df["status"].astype("category")
    return df[cols + [c for c in df.columns if c not in cols]]


def client_env_frame(envs: Iterable[Mapping] | None) -> pd.DataFrame:
    """``get_client_env`` as one row per site: site_name, workspace, root_url, secure_mode (bool)."""
    cols = ["site_name", "workspace", "root_url", "secure_mode"]
    df = pd.DataFrame.from_records([dict(e) for e in (envs or [])])
    df = _with_columns(df, cols)
    for col in cols[:3]:
        df[col] = df[col].astype("string")
    df["secure_mode"] = df["secure_mode"].astype("boolean")
    return df[cols + [c for c in df.columns if c not in cols]]


def sp_frame(answer: Mapping | None) -> pd.DataFrame:
    """``list_sp`` as one row per service provider, with the primary one flagged."""
    cols = ["name", "fl_port", "admin_port", "primary", "service_session_id"]
    sps = list((answer or {}).get("sp_list") or [])
    df = pd.DataFrame.from_records([dict(sp) for sp in sps])
    df = _with_columns(df, cols)
    df["name"] = df["name"].astype("string")
    for col in ("fl_port", "admin_port"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["primary"] = df["primary"].astype("boolean")
    df["service_session_id"] = df["service_session_id"].astype("string")
    return df[cols + [c for c in df.columns if c not in cols and c != "props"]]
