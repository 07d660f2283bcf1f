"""How the poller asks the server about jobs, at a cost that follows what is watched, not the server's history.

Pure: no NVFlare calls. NVFlare's ``list_jobs`` reads every job the server keeps, whatever its filters (measured
here: about 0.1 ms per job on nvflare 2.9, 6 ms with a few jobs and over half a second with 5,000), while
``get_job_meta`` reads one (about 5 ms, flat). So:

* ``CallCosts`` keeps this server's own timings of both, and says which is cheaper for a number of jobs;
* ``JobQuery`` is a page of the job list as the server filters it (name and id prefix, the newest ``limit``), and
  picks the same page out of a whole listing when one was made anyway;
* ``listing_entry`` reads a job's meta as a listing entry, so monitors and panels read statuses alike from either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .values import timestamp

#: The share of the time automatic page listings may take (a listing's cost grows with the server's history): a
#: listing of 5,000 jobs (about 0.6 s here) then comes once a minute, one of 100 (20 ms) every other second.
LISTING_SHARE = 0.01


@dataclass(frozen=True)
class JobQuery:
    """A page of the server's job list as NVFlare's ``list_jobs`` filters it on the server: jobs whose name and id
    start with the prefixes, the newest ``limit`` of them (0 or None: all, as NVFlare reads it), newest first when
    ``reverse``. The server
    cannot filter by status: a panel filters its page by status itself."""

    limit: int | None = None
    reverse: bool = False
    name_prefix: str | None = None
    id_prefix: str | None = None

    def arguments(self) -> dict:
        """``list_jobs`` keyword arguments. NVFlare sends them as one command line split at spaces: a prefix that is
        not one plain word (a space, a quote) cannot be sent, so then the whole list is asked for and ``select``
        takes the page from it."""
        if not all(_plain(p) for p in (self.name_prefix, self.id_prefix)):
            return {"limit": None, "reverse": self.reverse, "name_prefix": None, "id_prefix": None}
        return {
            "limit": self.limit or None,  # 0 is "all" to NVFlare: sent as None, which every release reads so
            "reverse": self.reverse,
            "name_prefix": self.name_prefix or None,
            "id_prefix": self.id_prefix or None,
        }

    def select(self, entries) -> list[dict]:
        """The page the server would answer, taken from a whole listing: matching jobs ordered by submit time
        (newest first when ``reverse``), then the first ``limit`` newest-first or the last ``limit`` oldest-first,
        as NVFlare's ``list_jobs`` does."""
        picked = [
            e for e in entries if _starts(e.get("job_id"), self.id_prefix) and _starts(_name(e), self.name_prefix)
        ]
        picked.sort(key=_submitted, reverse=self.reverse)
        if self.limit:
            picked = picked[: self.limit] if self.reverse else picked[-self.limit :]
        return picked


def _plain(prefix: str | None) -> bool:
    return not prefix or not any(c.isspace() or c in "'\"\\" for c in prefix)


def _starts(value, prefix: str | None) -> bool:
    return not prefix or (isinstance(value, str) and value.startswith(prefix))


def _name(entry: dict):
    return entry.get("job_name", entry.get("name"))


def _submitted(entry: dict) -> float:
    t = timestamp(entry.get("submit_time"))
    return t.timestamp() if t else 0.0


def listing_entry(meta: dict) -> dict:
    """A job's meta in the shape of a ``list_jobs`` entry (what monitors and panels read from either)."""
    entry = {
        "job_id": meta.get("job_id"),
        "job_name": meta.get("name"),
        "status": meta.get("status"),
        "submit_time": meta.get("submit_time_iso") or meta.get("submit_time"),
        "duration": meta.get("duration"),
    }
    if "study" in meta:
        entry["study"] = meta["study"]
    return entry


class CallCosts:
    """How long NVFlare's calls take on this server, by operation (a running average that follows changes). With
    ``fixed`` costs (seconds by operation) it never changes: recordings and their replays then choose alike."""

    def __init__(self, fixed: dict[str, float] | None = None):
        self._average: dict[str, float] = dict(fixed or {})
        self._fixed = fixed is not None

    def observe(self, name: str, seconds: float) -> None:
        if self._fixed:
            return
        old = self._average.get(name)
        self._average[name] = seconds if old is None else old + 0.3 * (seconds - old)

    def get(self, name: str) -> float | None:
        return self._average.get(name)

    def listing_is_cheaper(self, jobs: int) -> bool:
        """Whether one listing costs less than ``jobs`` calls of ``get_job_meta``. Before any listing was timed,
        a listing is made for two or more jobs: it tells what it costs, and serves the tick."""
        listing, meta = self.get("list_jobs"), self.get("get_job_meta")
        if listing is None:
            return jobs >= 2
        if meta is None:
            return False
        return listing < jobs * meta

    def listing_every(self, interval: float) -> int:
        """Ticks (``interval`` seconds apart) between automatic listings: every tick while a listing is cheap,
        fewer as the server's history makes it dear, so that they take at most ``LISTING_SHARE`` of the time."""
        cost = self.get("list_jobs")
        if cost is None:
            return 1
        return max(1, math.ceil(cost / (LISTING_SHARE * interval)))
