"""Pure conversions of NVFlare's answers into pandas DataFrames with real dtypes.

Each function takes exactly what the matching ``Session`` method returns and never calls the server.
Times are timezone-aware (UTC) datetimes, durations timedeltas, statuses categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone

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


_NAT = np.iinfo(np.int64).min  # NaT as int64
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_LOOP_LIMIT = 200  # up to this many values a plain loop beats pandas' vectorized parsers (their set-up cost)


def _micros(value) -> int:
    """One time as microseconds since the epoch: epoch seconds (number or text) or ISO 8601 text (naive means UTC);
    NaT for None, '', and anything unreadable or beyond the year 5000."""
    if isinstance(value, str) and value:
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            try:
                return _micros(float(value))
            except ValueError:
                return _NAT
        return ((t if t.tzinfo else t.replace(tzinfo=timezone.utc)) - _EPOCH) // _MICROSECOND
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return round(value * 1e6) if abs(value) < 1e11 else _NAT  # abs(nan) < 1e11 is False
    return _NAT


def _times(values: list) -> pd.api.extensions.ExtensionArray:
    """Epoch seconds or ISO 8601 texts (or '' / None) to UTC datetimes (microseconds); anything unreadable is NaT.

    A few values go through a plain loop (``_micros``). Many go through numpy (numbers) or pandas' ISO 8601 parser
    (texts), and only the texts that parser cannot read (e.g. an epoch written as text) through ``_micros``."""
    if len(values) <= _LOOP_LIMIT:
        micros = np.fromiter((_micros(v) for v in values), dtype=np.int64, count=len(values))
    elif {type(v) for v in values} <= {int, float, type(None)}:
        seconds = np.array(values, dtype=np.float64)
        ok = np.abs(seconds) < 1e11  # False for NaN (None)
        micros = np.where(ok, np.rint(np.where(ok, seconds, 0) * 1e6), 0).astype(np.int64)
        micros[~ok] = _NAT
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601", cache=False)
        micros = parsed.as_unit("us").asi8.copy()
        for i in np.flatnonzero(parsed.isna()):
            micros[i] = _micros(values[i])
    return pd.array(micros.view("M8[us]")).tz_localize("UTC")


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


def _durations(values: list) -> np.ndarray:
    """Python's ``str(timedelta)`` texts to ``timedelta64[us]``; 'N/A', blanks and anything else to NaT.

    NVFlare's durations are nearly always 'H:MM:SS.ffffff' (14 or 15 characters). Those are read all at once from
    the characters' positions (numpy on the bytes); the rest (days, whole seconds, 'N/A') one by one."""
    n = len(values)
    micros = np.full(n, _NAT, dtype=np.int64)
    texts = [v if isinstance(v, str) and v.isascii() else "" for v in values]
    raw = np.array(texts, dtype="S15") if n else np.empty(0, dtype="S15")  # longer texts are cut: not 14/15
    length = np.char.str_len(raw)
    done = np.zeros(n, dtype=bool)
    for hours in (1, 2):  # 'H:MM:SS.ffffff' and 'HH:MM:SS.ffffff'
        rows = np.flatnonzero(length == 13 + hours)
        if not len(rows):
            continue
        chars = raw[rows].view(np.uint8).reshape(len(rows), 15) - np.uint8(ord("0"))  # a digit is 0..9 now
        separators = {hours: ord(":"), hours + 3: ord(":"), hours + 6: ord(".")}
        ok = np.ones(len(rows), dtype=bool)
        number = np.zeros(len(rows), dtype=np.int64)  # the digits read as one number, HMMSSffffff
        for i in range(13 + hours):
            if i in separators:
                ok &= chars[:, i] == np.uint8((separators[i] - ord("0")) % 256)
            else:
                ok &= chars[:, i] <= 9  # anything else wrapped around past 9
                number = number * 10 + chars[:, i]
        h, rest = np.divmod(number, 10**10)
        m, rest = np.divmod(rest, 10**8)
        sec, frac = np.divmod(rest, 10**6)
        ok &= (m < 60) & (sec < 60)
        micros[rows[ok]] = ((h * 60 + m) * 60 + sec)[ok] * 10**6 + frac[ok]
        done[rows[ok]] = True
    for i in np.flatnonzero(~done):
        seconds = _seconds(values[i])
        if seconds == seconds:  # not NaN
            micros[i] = round(seconds * 1e6)
    return micros.view("m8[us]")


#: The fields of a plain listing (and their detailed twins): the typed columns are made from these.
_PLAIN_KEYS = set(JOB_COLUMNS) | {"job_name", "submit_time_iso"}


def jobs_frame(jobs: Iterable[Mapping] | None) -> pd.DataFrame:
    """``list_jobs`` (plain or ``detailed=True``) as one row per job.

    Columns: job_id, name, status (category), submit_time, start_time (UTC datetimes), duration (timedelta),
    study, then whatever else the server sent (detailed listings), unchanged.

    Built column by column straight from the records (one pandas construction at the end), so a magic listing a
    few jobs costs little more than NVFlare's call, and 100k jobs little more than ``pandas.DataFrame(records)``.
    """
    records = jobs if isinstance(jobs, list) else list(jobs or [])
    first = records[0] if records else {}
    keys = list(first) + sorted(set().union(*records) - set(first)) if records else []

    def column(key: str) -> list:
        return [r.get(key) for r in records]

    name = "name" if "name" in keys else "job_name"
    submit = "submit_time_iso" if "submit_time_iso" in keys else "submit_time"
    data = {
        "job_id": pd.array(column("job_id"), dtype="string"),
        "name": pd.array(column(name), dtype="string"),
        "status": pd.Categorical(column("status")),
        "submit_time": _times(column(submit)),
        "start_time": _times(column("start_time")),
        "duration": _durations(column("duration")),
        "study": pd.array(column("study"), dtype="string"),
    }
    extra = [k for k in keys if k not in _PLAIN_KEYS]
    if extra:  # detailed listings: the other fields as pandas would read them
        rest = pd.DataFrame.from_records(records, columns=extra)
        data.update({k: rest[k].array for k in extra})
    return pd.DataFrame(data, copy=False)


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
    df["last_connect_time"] = _times(list(df["last_connect_time"]))
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
