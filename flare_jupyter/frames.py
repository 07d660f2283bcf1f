"""Pure conversions of NVFlare's answers into pandas DataFrames with real dtypes.

Each function takes exactly what the matching ``Session`` method returns and never calls the server.
Times are timezone-aware (UTC) datetimes, durations timedeltas, statuses categories.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from itertools import compress

import numpy as np
import pandas as pd

from .values import duration_seconds, timestamp

try:  # pandas' own reader of records (the first half of ``pandas.DataFrame(records)``: one C pass over the records
    # for every column) and its reading of a column as it would read it. Private to pandas: ``_read_records`` falls
    # back to the public equivalent (two pandas constructions, about 15% slower at 100k jobs) when they are gone.
    from pandas._libs.lib import dicts_to_array as _dicts_to_array
    from pandas.core.internals.construction import convert_object_array as _convert_object_array
except ImportError:  # pragma: no cover - depends on the pandas release
    _dicts_to_array = _convert_object_array = None
try:  # wraps datetime64 values in a DatetimeArray of a given dtype as they are (``pandas.array`` checks them again:
    # 0.2 ms for a one-job listing right after NVFlare's call, a sixth of what ``pandas.DataFrame(records)`` costs)
    from pandas.arrays import DatetimeArray

    _wrap_datetimes = DatetimeArray._simple_new
except (ImportError, AttributeError):  # pragma: no cover - depends on the pandas release
    _wrap_datetimes = None

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
#: The column dtypes, made once (naming a dtype by its text costs a lookup on every call).
_STRING = pd.StringDtype()
_UTC = pd.DatetimeTZDtype("us", "UTC")
_ZERO = np.uint8(ord("0"))


def _micros(value) -> int:
    """One time (see ``values.timestamp``) as microseconds since the epoch; NaT when it is not one."""
    t = timestamp(value)
    return _NAT if t is None else (t - _EPOCH) // _MICROSECOND


def _by_width(values, widths) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """For each of ``widths``: the positions of the values that are ASCII texts of exactly that many characters, and
    their characters as digit values (``byte - ord('0')``: 0..9 for a digit, anything else for the rest), one row per
    text. Read in one piece (one join, one buffer): many texts cost what numpy costs, not a Python call each."""
    n = len(values)
    try:
        text = "".join(values)  # the common case: every value a text (and all of one width)
    except TypeError:  # not every value is a text
        text = None
    if text is not None:
        lengths = np.fromiter(map(len, values), np.int64, n)
        if n and text.isascii() and (lengths == lengths[0]).all():
            width = len(text) // n
            return {width: (np.arange(n), _digit_values(text, n, width))} if width in widths else {}
    else:
        lengths = np.fromiter((len(v) if type(v) is str else -1 for v in values), np.int64, n)
    found = {}
    for width in widths:
        picked = lengths == width
        if picked.any():
            text = "".join(compress(values, picked))
            if not text.isascii():  # rare: a non-ASCII character is no digit or separator: leave those texts out
                picked &= np.fromiter((type(v) is str and v.isascii() for v in values), bool, n)
                text = "".join(compress(values, picked))
            rows = np.flatnonzero(picked)
            found[width] = (rows, _digit_values(text, len(rows), width))
    return found


def _digit_values(text: str, rows: int, width: int) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(rows, width) - _ZERO


def _number(chars: np.ndarray, first: int, last: int) -> np.ndarray:
    """The number written by the digits ``chars[:, first:last]`` (checked to be digits by the caller)."""
    number = chars[:, first].astype(np.int64)
    for i in range(first + 1, last):
        number = number * 10 + chars[:, i]
    return number


def _all_digits(chars: np.ndarray, positions) -> np.ndarray:
    """Whether every character at ``positions`` of each row is a digit (anything else wrapped around past 9)."""
    return (chars[:, positions] <= 9).all(axis=1)


def _is(chars: np.ndarray, i: int, *allowed: str) -> np.ndarray:
    """Whether character ``i`` of each row is one of ``allowed``."""
    found = np.zeros(len(chars), dtype=bool)
    for c in allowed:
        found |= chars[:, i] == np.uint8((ord(c) - ord("0")) % 256)
    return found


#: ISO 8601 layouts NVFlare writes (``datetime.isoformat``), by length: (has microseconds, has a UTC offset).
_ISO_LAYOUTS = {32: (True, True), 26: (True, False), 25: (False, True), 19: (False, False)}
_DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]


def _iso_micros(chars: np.ndarray, fraction: bool, offset: bool) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch of 'YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]' rows, and which rows were valid
    times (a naive time is UTC, as ``values.timestamp`` reads it)."""
    end = 26 if fraction else 19
    digits = (
        _DATE_DIGITS
        + (list(range(20, 26)) if fraction else [])
        + ([end + 1, end + 2, end + 4, end + 5] if offset else [])
    )
    # any character may separate date and time, as Python's ``datetime.fromisoformat`` (``values.timestamp``) reads it
    ok = (
        _all_digits(chars, digits) & _is(chars, 4, "-") & _is(chars, 7, "-") & _is(chars, 13, ":") & _is(chars, 16, ":")
    )
    year, month, day = _number(chars, 0, 4), _number(chars, 5, 7), _number(chars, 8, 10)
    hour, minute, sec = _number(chars, 11, 13), _number(chars, 14, 16), _number(chars, 17, 19)
    ok &= (hour < 24) & (minute < 60) & (sec < 60)
    micros = ((hour * 60 + minute) * 60 + sec) * 1_000_000
    if fraction:
        ok &= _is(chars, 19, ".")
        micros += _number(chars, 20, 26)
    if offset:
        ok &= _is(chars, end, "+", "-") & _is(chars, end + 3, ":")
        hours, minutes = _number(chars, end + 1, end + 3), _number(chars, end + 4, end + 6)
        ok &= (hours < 24) & (minutes < 60)
        micros -= np.where(_is(chars, end, "-"), -1, 1) * (hours * 60 + minutes) * 60_000_000
    # the first day of the month and of the next one, by numpy's calendar (months since 1970 as datetime64)
    ok &= (year >= 1) & (month >= 1) & (month <= 12)
    months = np.where(ok, (year - 1970) * 12 + month - 1, 0)
    first = months.astype("M8[M]").astype("M8[D]").astype(np.int64)
    ok &= (day >= 1) & (day <= (months + 1).astype("M8[M]").astype("M8[D]").astype(np.int64) - first)
    return (first + day - 1) * 86_400_000_000 + micros, ok


def _times(values) -> pd.api.extensions.ExtensionArray:
    """Epoch seconds or ISO 8601 texts (or '' / None) to UTC datetimes (microseconds); anything unreadable is NaT.

    A few values go through a plain loop (``_micros``). Many: numbers through numpy; ISO 8601 texts in the layouts
    ``datetime.isoformat`` writes (NVFlare's) read all at once from their characters' positions; whatever is left
    (another layout, an epoch written as text) through pandas' ISO 8601 parser, then ``_micros``."""
    n = len(values)
    if n <= _LOOP_LIMIT:
        micros = np.fromiter((_micros(v) for v in values), dtype=np.int64, count=n)
    elif type(values[0]) is not str and set(map(type, values)) <= {int, float, type(None)}:
        seconds = np.array(values, dtype=np.float64)
        ok = np.abs(seconds) < 1e11  # False for NaN (None)
        micros = np.where(ok, np.rint(np.where(ok, seconds, 0) * 1e6), 0).astype(np.int64)
        micros[~ok] = _NAT
    else:
        micros = np.full(n, _NAT, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        for width, (rows, chars) in _by_width(values, _ISO_LAYOUTS).items():
            read, ok = _iso_micros(chars, *_ISO_LAYOUTS[width])
            micros[rows[ok]] = read[ok]
            done[rows[ok]] = True
        _read_the_rest(values, micros, ~done)
    return _utc(micros.view("M8[us]"))


def _utc(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``datetime64[us]`` values (UTC) as a UTC datetime array."""
    if _wrap_datetimes is not None:
        try:
            return _wrap_datetimes(values, dtype=_UTC)
        except (TypeError, ValueError, AssertionError):  # pragma: no cover - its private constructor changed
            pass
    return pd.array(values, dtype=_UTC)


def _read_the_rest(values, micros: np.ndarray, left: np.ndarray) -> None:
    """Times the fast readers left (``left``), into ``micros``: blanks stay NaT; pandas' ISO 8601 parser for many,
    then ``_micros`` for whatever it cannot read (e.g. an epoch written as text)."""
    rows = [i for i in np.flatnonzero(left) if values[i] not in (None, "", "N/A") and values[i] == values[i]]
    if len(rows) > _LOOP_LIMIT:
        parsed = pd.to_datetime([values[i] for i in rows], utc=True, errors="coerce", format="ISO8601", cache=False)
        micros[rows] = parsed.as_unit("us").asi8
        rows = [i for i, bad in zip(rows, parsed.isna(), strict=True) if bad]
    for i in rows:
        micros[i] = _micros(values[i])


def _durations(values) -> np.ndarray:
    """Python's ``str(timedelta)`` texts to ``timedelta64[us]``; 'N/A', blanks and anything else to NaT.

    NVFlare's durations are nearly always 'H:MM:SS.ffffff' (14 or 15 characters). Many of those are read all at once
    from the characters' positions; a few values, and the rest (days, whole seconds, 'N/A'), one by one."""
    n = len(values)
    micros = np.full(n, _NAT, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    fixed = _by_width(values, (14, 15)) if n > _LOOP_LIMIT else {}  # 'H:MM:SS.ffffff' and 'HH:MM:SS.ffffff'
    for width, (rows, chars) in fixed.items():
        hours = width - 13
        digits = [i for i in range(width) if i not in (hours, hours + 3, hours + 6)]
        ok = _all_digits(chars, digits) & _is(chars, hours, ":") & _is(chars, hours + 3, ":")
        ok &= _is(chars, hours + 6, ".")
        h, m = _number(chars, 0, hours), _number(chars, hours + 1, hours + 3)
        sec, frac = _number(chars, hours + 4, hours + 6), _number(chars, hours + 7, hours + 13)
        ok &= (m < 60) & (sec < 60)
        micros[rows[ok]] = (((h * 60 + m) * 60 + sec) * 1_000_000 + frac)[ok]
        done[rows[ok]] = True
    for i in np.flatnonzero(~done):
        value = values[i]
        if value != "N/A":
            seconds = duration_seconds(value)
            if seconds == seconds:  # not NaN
                micros[i] = round(seconds * 1e6)
    return micros.view("m8[us]")


def _category(values) -> pd.Categorical:
    """Texts (None or NaN for none) as a ``Categorical`` with its categories sorted, as ``pd.Categorical`` makes it;
    coded by one dict lookup per value (a status has a handful of values), not by hashing in pandas."""
    distinct = list(dict.fromkeys(values))
    present = [v for v in distinct if v is not None and v == v]  # not None, not NaN
    if not all(type(v) is str for v in present):
        return pd.Categorical(values)
    categories = tuple(sorted(present))
    rank = {v: i for i, v in enumerate(categories)}
    code = {v: rank.get(v, -1) if type(v) is str else -1 for v in distinct}
    codes = np.fromiter(map(code.__getitem__, values), np.int64, len(values))
    return pd.Categorical.from_codes(codes, dtype=_category_dtype(categories), validate=False)  # codes made valid


@functools.lru_cache(maxsize=64)
def _category_dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    """The dtype of these categories, made once (a handful of statuses: making it costs more than the column)."""
    return pd.CategoricalDtype(list(categories))


#: The fields of a plain listing (and their detailed twins): the typed columns are made from these.
_PLAIN_KEYS = set(JOB_COLUMNS) | {"job_name", "submit_time_iso"}


def _read_records(records: list, keys: list[str], extra: list[str]) -> tuple[dict, dict]:
    """(each of ``keys`` as a column of the records' values, None or NaN where a record lacks it; each of ``extra`` as
    pandas reads it in ``pandas.DataFrame(records)``), from one pass of pandas' own reader of records when this
    pandas has it where we know it, else from its public equivalent."""
    if _dicts_to_array is not None:
        try:
            table = _dicts_to_array(records, keys + extra)
            columns = {k: table[:, i] for i, k in enumerate(keys + extra)}
            converted = _convert_object_array([columns[k] for k in extra], dtype=None) if extra else []
            return columns, dict(zip(extra, converted, strict=True))
        except (TypeError, ValueError, AttributeError):  # a pandas whose private reader changed: the public one
            pass
    if len(records) <= _LOOP_LIMIT:
        columns = {k: [r.get(k) for r in records] for k in keys}
    else:
        table = pd.DataFrame(records, columns=keys, dtype=object)
        columns = {k: table[k].to_numpy() for k in keys}
    rest = pd.DataFrame(records, columns=extra) if extra else {}
    return columns, {k: rest[k].array for k in extra}


def jobs_frame(jobs: Iterable[Mapping] | None) -> pd.DataFrame:
    """``list_jobs`` (plain or ``detailed=True``) as one row per job.

    Columns: job_id, name, status (category), submit_time, start_time (UTC datetimes), duration (timedelta),
    study, then whatever else the server sent (detailed listings), as ``pandas.DataFrame(records)`` reads them.

    Built column by column from one read of the records and one pandas construction at the end, so a magic listing
    a few jobs costs little more than NVFlare's call, and 100k jobs about what ``pandas.DataFrame(records)`` costs.
    """
    records = jobs if isinstance(jobs, list) else list(jobs or [])
    first = records[0] if records else {}
    keys = list(first) + sorted(set().union(*records) - set(first)) if len(records) > 1 else list(first)
    name = "name" if "name" in keys else "job_name"
    submit = "submit_time_iso" if "submit_time_iso" in keys else "submit_time"
    extra = [k for k in keys if k not in _PLAIN_KEYS]
    col, rest = _read_records(records, ["job_id", name, "status", submit, "start_time", "duration", "study"], extra)
    data = {
        "job_id": pd.array(col["job_id"], dtype=_STRING),
        "name": pd.array(col[name], dtype=_STRING),
        "status": _category(col["status"]),
        "submit_time": _times(col[submit]),
        "start_time": _times(col["start_time"]),
        "duration": _durations(col["duration"]),
        "study": pd.array(col["study"], dtype=_STRING),
        **rest,
    }
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
