"""One background thread that serves every live widget of the kernel.

Per tick it makes **one** ``list_jobs`` call (the status of every job, shared by all monitors and the jobs panel),
then detail calls only for watched jobs that are running (``show_stats`` on server and clients and the job's
server log; the job's meta and server config once per job), then lets each widget make the few calls only it needs
(the clients panel, a followed log). Ten monitors cost one status call per tick, not ten.

Why a thread, not an asyncio task on the kernel's loop: NVFlare's calls block (sockets, sleeps), and must not run
on the kernel's event loop; a plain daemon thread that only *sets widget traits* is what the real-browser test
shows updating live in JupyterLab with ipykernel 7 (nothing is printed from it, no ``Output`` is captured).

Button clicks do not call NVFlare on the kernel's thread either: they queue an *action* here (``submit``), which
the thread runs before its next poll, so the kernel stays free and the session is only ever used from one place
at a time besides the user's own cells (the session's lock covers those).

A widget is a *subscriber*: an object with

* ``wants_jobs`` (bool): it needs the shared job listing;
* ``watched_jobs(snapshot)``: the job ids it wants details for (``{}`` for none), given this tick's listing;
* ``update(session, snapshot)``: apply the tick (set traits; may make its own calls); called on the poller thread;
* ``poll_failed(message)``: show that this tick failed (a banner); the poller retries with backoff;
* ``poll_succeeded()`` (optional): the server answered this tick: clear an outage banner;
* ``done`` (bool): finished or closed; the poller drops it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from . import compat
from .errors import describe

log = logging.getLogger("flare_jupyter.poller")

MAX_BACKOFF = 30.0
#: ``show_stats`` answers kept per job for ``fj.stats_history`` (two per tick: about 30 minutes at 2 s).
HISTORY_LENGTH = 2000


@dataclass
class JobDetail:
    """What one tick learned about one running, watched job (None where a call failed or was not needed)."""

    meta: dict | None = None
    config: str | None = None
    server_stats: dict | None = None
    client_stats: dict | None = None
    log_text: str | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    """One tick: the job listing (by id) and the details of the running watched jobs."""

    time: float
    jobs: dict[str, dict] | None = None
    details: dict[str, JobDetail] = field(default_factory=dict)


#: Answers that only mean "the job is between states" (just started, just ended): not errors of ours.
TRANSIENT = (compat.JobNotFound, compat.JobNotRunning)


class Poller:
    """The shared poller. ``Poller.shared()`` is the kernel's; tests make their own and call ``tick()``."""

    _shared: Poller | None = None
    _shared_lock = threading.Lock()

    def __init__(self, session_fn=None, interval_fn=None, autostart: bool = True):
        """``autostart=False`` never starts the thread: the owner calls ``tick()`` (tests, recordings)."""
        from .session import session

        self.autostart = autostart
        self._session_fn = session_fn or session
        self._interval_fn = interval_fn or _configured_interval
        self._subs: list = []
        self._actions: deque = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._poll_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._cache: dict[str, dict] = {}  # per job: meta / config fetched once
        self._history: dict[str, deque] = {}  # per job: (time, show_stats answer) of every detail poll
        self.failures = 0
        self.ticks = 0
        self.calls = 0  # NVFlare calls made by the poller (for tests and benchmarks)
        self.calls_by_name: Counter = Counter()  # the same, by operation (list_jobs, show_stats, ...)
        self.last_tick_calls = 0

    @classmethod
    def shared(cls) -> Poller:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    # -- subscribers and actions -------------------------------------------------------------------------------
    def add(self, sub) -> None:
        with self._lock:
            if sub not in self._subs:
                self._subs.append(sub)
        self._ensure_running()

    def remove(self, sub) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> list:
        with self._lock:
            return [s for s in self._subs if not s.done]

    def submit(self, action, on_done=None, on_error=None) -> None:
        """Run ``action(session)`` on the poller thread before its next poll; then ``on_done(result)`` or
        ``on_error(one_line_message)``."""
        with self._lock:
            self._actions.append((action, on_done, on_error))
        self._ensure_running()

    @property
    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def _ensure_running(self) -> None:
        with self._lock:
            self._wake.set()
            if not self.autostart:
                return
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="flare-jupyter-poller", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._subs = [s for s in self._subs if not s.done]
                if not self._subs and not self._actions:
                    self._thread = None
                    return
                self._wake.clear()
            try:
                self.tick()
            except Exception:  # never let the thread die silently: log and keep serving
                log.exception("poller tick failed")
            self._wake.wait(self.delay())

    def delay(self) -> float:
        """Seconds until the next tick: the configured interval, doubled per failed tick in a row (up to 30 s)."""
        interval = self._interval_fn()
        return min(MAX_BACKOFF, interval * 2 ** min(self.failures, 5)) if self.failures else interval

    def config(self, job_id: str) -> str | None:
        """The job's server config, if a monitor's polls already read it (None otherwise)."""
        return self._cache.get(job_id, {}).get("config")

    def wake(self) -> None:
        """Poll now instead of at the next tick (e.g. after a refresh button)."""
        self._ensure_running()

    # -- one tick ----------------------------------------------------------------------------------------------
    def tick(self) -> Snapshot:
        """Run queued actions, then poll once for every live subscriber. Public so tests can drive it."""
        self.ticks += 1
        self.last_tick_calls = 0
        self._run_actions()
        return self._poll(self.subscribers)

    def prime(self, *subs) -> None:
        """Give new widgets their first state now, on the caller's thread (so a panel is never shown empty and its
        text form, which notebooks save, already holds the data). Errors go to the widgets' banners."""
        self._poll([s for s in subs if not s.done])

    def _poll(self, subs) -> Snapshot:
        snapshot = Snapshot(time=time.time())
        if not subs:
            return snapshot
        with self._poll_lock:  # the poller thread and a prime() on the kernel's thread take turns
            try:
                s = self._session_fn()
            except Exception as e:
                return self._failed(subs, describe(e, "poll"), snapshot)
            if any(getattr(sub, "wants_jobs", False) for sub in subs):
                try:
                    listing = self._call(s.list_jobs)
                except Exception as e:
                    return self._failed(subs, describe(e, "list_jobs"), snapshot)
                snapshot.jobs = {j.get("job_id"): j for j in listing or [] if isinstance(j, dict)}
            watched = set()
            for sub in subs:
                watched |= set(sub.watched_jobs(snapshot) or ())
            for job_id in sorted(watched):
                snapshot.details[job_id] = self._detail(s, job_id, (snapshot.jobs or {}).get(job_id) or {})
            self.failures = 0
            for sub in subs:
                try:
                    cleared = getattr(sub, "poll_succeeded", None)
                    if cleared is not None:  # the server answered: an outage banner goes, whatever this widget fetches
                        cleared()
                    sub.update(s, snapshot)
                except Exception as e:  # a widget's own calls failed: show it there, the others go on
                    sub.poll_failed(describe(e, "update"))
        return snapshot

    def _call(self, fn, *args, **kwargs):
        self.calls += 1
        self.calls_by_name[getattr(fn, "__name__", "action")] += 1
        self.last_tick_calls += 1
        return fn(*args, **kwargs)

    def _failed(self, subs, message: str, snapshot: Snapshot) -> Snapshot:
        self.failures += 1
        delay = self.delay()
        for sub in subs:
            try:
                sub.poll_failed(f"{message} (retrying in {delay:.0f} s)")
            except Exception:
                log.exception("poll_failed of %r", sub)
        return snapshot

    def _run_actions(self) -> None:
        while True:
            with self._lock:
                if not self._actions:
                    return
                action, on_done, on_error = self._actions.popleft()
            try:
                s = self._session_fn()
                result = self._call(action, s)
            except Exception as e:
                if on_error:
                    _safe(on_error, describe(e, getattr(action, "__name__", "action")))
                continue
            if on_done:
                _safe(on_done, result)

    def _detail(self, s, job_id: str, listing: dict) -> JobDetail:
        """Detail calls for one watched job. A running job gets its stats and log; a finished one, only its log
        (once, by the monitor's asking). Meta and config are fetched once per job."""
        d = JobDetail()
        cache = self._cache.setdefault(job_id, {})
        status = str(listing.get("status", ""))
        running = status == "RUNNING"
        stale = running and not cache.get("meta", {}).get("job_deploy_detail")
        if "meta" not in cache or stale or status.startswith("FINISHED"):
            cache["meta"] = self._try(d, lambda: self._call(s.get_job_meta, job_id)) or cache.get("meta") or {}
        d.meta = cache["meta"]
        if running and "config" not in cache:
            text = self._try(d, lambda: self._call(compat.job_server_config, s, job_id))
            if text:
                cache["config"] = text
        d.config = cache.get("config")
        if running:
            d.server_stats = self._try(d, lambda: self._call(s.show_stats, job_id, "server"))
            d.client_stats = self._try(d, lambda: self._call(s.show_stats, job_id, "client"))
            history = self._history.setdefault(job_id, deque(maxlen=HISTORY_LENGTH))
            now = time.time()
            for answer in (d.server_stats, d.client_stats):
                if isinstance(answer, dict):
                    history.append((now, answer))
            d.log_text = self._try(d, lambda: self._call(s.job_progress_lines, job_id))
        elif d.meta.get("start_time"):  # finished: its whole log, once (the running job's folder is gone)
            d.log_text = self._try(d, lambda: self._call(s.job_log, job_id, "server"))
        return d

    @staticmethod
    def _try(detail: JobDetail, fn):
        try:
            return fn()
        except TRANSIENT:
            return None
        except compat.NotSupported:  # e.g. a job aborted before it ran has no log: nothing to show, no error
            return None
        except Exception as e:
            detail.errors.append(describe(e, "poll"))
            return None

    def forget(self, job_id: str) -> None:
        self._cache.pop(job_id, None)
        self._history.pop(job_id, None)

    def history(self, job_id: str) -> list:
        """(time, ``show_stats`` answer) pairs recorded while the job ran and a monitor watched it."""
        return list(self._history.get(job_id, ()))


def _configured_interval() -> float:
    from .commands import settings

    return float(settings.poll_interval)


def _safe(fn, *args):
    try:
        fn(*args)
    except Exception:
        log.exception("poller callback failed")
