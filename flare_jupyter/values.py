"""Plain values, checked and read in one place: whole numbers, seconds, times and durations.

Every user-facing size or timeout goes through ``whole_number`` / ``seconds`` (one clear line for a bad one, of the
type NVFlare itself would raise); every time NVFlare sends (epoch seconds or ISO 8601 text) through ``timestamp``;
every duration (Python's ``str(timedelta)``: ``'0:00:12.8'``, ``'2 days, 1:00:00'``) through ``duration_seconds``.

What a person reads is written here too (render.py puts it into HTML): ``local_time`` (a time to the second in the
kernel's time zone, the zone's UTC offset said once by ``utc_offset``), ``human_duration`` (``12.8 s``,
``3 min 04 s``, ``2 h 05 min``) and ``short_id`` (a job id cut to its first characters). DataFrames handed to users
keep their real dtypes: these are for display only.
Pure: no IPython, no widgets, no NVFlare calls.
"""

from __future__ import annotations

import math
import numbers
from datetime import datetime, timedelta, timezone, tzinfo

from .errors import ArgumentError, refusal

_EPOCH_LIMIT = 1e11  # epoch seconds beyond the year 5000 are not a time NVFlare sent


def whole_number(label: str, value, low: int = 1, high: int | None = None, hint: str = "") -> int:
    """``value`` if it is a whole number in [low, high] (``high`` None: no upper bound), else one clear line
    (``hint``, e.g. " (0 for all)", follows the range in it)."""
    ok = not isinstance(value, bool) and isinstance(value, int) and value >= low and (high is None or value <= high)
    if not ok:
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ArgumentError(f"{label} must be a whole number {span}{hint}, not {value!r}")
    return value


def seconds(label: str, value, zero_means: str | None = None) -> float:
    """``value`` as seconds if it is a finite positive number, else one clear line (a ``TypeError`` for what is no
    number, a ``ValueError`` for a bad one, as NVFlare raises). With ``zero_means`` (what 0 stands for, e.g. "never
    time out"), 0 is allowed too, as NVFlare's own ``timeout=0`` is."""
    what = "a positive number of seconds" + (f" (or 0 to {zero_means})" if zero_means else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # NVFlare raises TypeError for these
        raise refusal(TypeError, f"{label} must be {what}, not {value!r}")
    if math.isfinite(value) and (value > 0 or (zero_means and value == 0)):
        return float(value)
    raise ArgumentError(f"{label} must be {what}, not {value!r}")


def timestamp(value) -> datetime | None:
    """A time NVFlare sent, as an aware UTC datetime: epoch seconds (number or text) or ISO 8601 text (naive means
    UTC); None for None, '', 'N/A' and anything unreadable."""
    if isinstance(value, str):
        if not value or value == "N/A":
            return None
        try:
            t = datetime.fromisoformat(value)
        except ValueError:
            try:
                return timestamp(float(value))
            except ValueError:
                return None
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and abs(value) < _EPOCH_LIMIT:
        return datetime.fromtimestamp(value, tz=timezone.utc)  # abs(nan) < limit is False
    return None


def duration_seconds(value) -> float:
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


# -- what a person reads -------------------------------------------------------------------------------------------
def local_time(value, zone: tzinfo | None = None) -> str:
    """A time (anything ``timestamp`` reads, or a datetime; naive means UTC) to the second in ``zone`` (default:
    the kernel's local zone), without the offset: ``'2026-11-30 18:50:04'``. '' when it is no time."""
    t = _aware(value)
    return "" if t is None else _in_zone(t, zone).strftime("%Y-%m-%d %H:%M:%S")


def utc_offset(value=None, zone: tzinfo | None = None) -> str:
    """The UTC offset of ``zone`` (default: local) at the time ``value`` (default: now), as ``'UTC+01:00'``; a
    table of times says it once, in its header. Zones with daylight saving time change offset during the year, so
    the offset is the one at that time."""
    t = _aware(value) or datetime.now(timezone.utc)
    offset = _in_zone(t, zone).utcoffset() or timedelta(0)
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _in_zone(t: datetime, zone: tzinfo | None) -> datetime:
    """``t`` in ``zone``; without one, in the kernel's local zone with the rules in force at ``t`` (daylight
    saving time included: ``astimezone()`` asks the system about that very time)."""
    return t.astimezone(zone) if zone is not None else t.astimezone()


def _aware(value) -> datetime | None:
    if isinstance(value, datetime):  # pandas Timestamps too, made plain datetimes here
        if value != value:  # NaT
            return None
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return datetime.fromtimestamp(aware.timestamp(), tz=timezone.utc)
    return timestamp(value)


def human_duration(value) -> str:
    """A duration as a person writes it: ``'12.8 s'`` under a minute, ``'3 min 04 s'`` under an hour,
    ``'2 h 05 min'`` under a day, ``'3 d 04 h'`` beyond. Takes seconds, a ``timedelta`` (pandas' too) or NVFlare's
    ``str(timedelta)`` text; '' for what is no duration (None, NaN, NaT, 'N/A', negative)."""
    if isinstance(value, timedelta):
        value = value.total_seconds() if value == value else float("nan")
    elif isinstance(value, str):
        value = duration_seconds(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        return ""
    tenths = round(value * 10)
    if tenths < 600:
        return f"{tenths / 10:.1f} s"
    whole = round(value)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = round(value / 60)
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    hours = round(value / 3600)
    return f"{hours // 24} d {hours % 24:02d} h"


#: How many characters of a job id a table shows (the full id is one hover away).
SHORT_ID = 8


def short_id(job_id, keep: int = SHORT_ID) -> str:
    """The first ``keep`` characters of a job id, with an ellipsis when it was cut (``'3f2a1b2c…'``)."""
    text = str(job_id)
    return text if len(text) <= keep + 1 else text[:keep] + "\u2026"
