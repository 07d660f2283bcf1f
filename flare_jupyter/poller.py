"""One background thread that serves every live widget of the kernel, at a cost that follows what is watched, not
how many jobs the server has ever run (``job_list`` says why: a listing reads every job the server keeps).

Per tick the poller learns

* the **status of the watched jobs** (every monitor's job, the unfinished rows a jobs panel shows), each asked once
  however many widgets watch it, by one ``get_job_meta`` per job or by one listing, whichever this server's own
  timings say is cheaper for that many jobs (``job_list.CallCosts``; a listing also serves every panel's page);
* the **page each jobs panel shows** through the server's own filters (``job_list.JobQuery``: name and id prefix,
  the newest ``limit`` jobs), when the panel asks for it: at once after a change or a Refresh, else every few
  ticks, so that automatic listings take at most ``job_list.LISTING_SHARE`` of the time (``listing_every``);
* for the running watched jobs, their details: what their server log and round records gained since the last tick
  (``job_files.JobFiles``: a tick costs the same in round 500 as in round 5) and ``show_stats`` on server and
  clients, from when the log says the job's runner started (``STATS_AFTER_SECONDS``) until it says the run began
  to end (``progress.RUNNER_ENDING``: asked then, the job's process may log an ERROR); the job's server config once;
  once a job ended, its final metrics once (its round records from its result when it wrote them, else its whole
  log);

then lets each widget make the few calls only it needs (the clients panel, a followed log). Before the poll it
runs the actions the widgets' buttons queued, and sends again an abort whose job has not ended
(``ABORT_AGAIN_SECONDS``: NVFlare can lose one). Ten monitors of one job cost what one costs. A whole listing is
made only when a subscriber asks for one (``wants_jobs``) or when it is the cheaper way to the statuses.

Why a thread, not an asyncio task on the kernel's loop: NVFlare's calls block (sockets, sleeps), and must not run
on the kernel's event loop; a plain daemon thread that only *sets widget traits* is what the real-browser test
shows updating live in JupyterLab with ipykernel 7 (nothing is printed from it, no ``Output`` is captured).

Button clicks do not call NVFlare on the kernel's thread either: they queue an *action* here (``submit``), which
the thread runs before its next poll, so the kernel stays free and the session is only ever used from one place
at a time besides the user's own cells (the session's lock covers those).

A widget is a *subscriber*: an object with

* ``status_jobs()`` (optional): the ids of the jobs whose status it needs this tick;
* ``job_page(tick)`` (optional): ``(JobQuery, due)``, the page of the job list it shows and whether it needs it
  listed this tick (a listing made anyway answers every page, due or not); or None;
* ``wants_jobs`` (optional bool): it needs the whole job list every tick;
* ``watched_jobs(snapshot)``: the job ids it wants details for (``{}`` for none), given this tick's statuses;
* ``update(session, snapshot)``: apply the tick (set traits; may make its own calls); called on the poller thread;
* ``poll_failed(message)``: show that this tick failed (a banner); the poller retries with backoff;
* ``poll_disconnected(message)`` (optional, else ``poll_failed``): the session was closed on purpose
  (``fj.disconnect``, ``fj.poc.stop``, ``shutdown_system``): show this one calm line; nothing is asked of the
  server until a session is back (``connect`` again), and the widgets then resume by themselves;
* ``poll_succeeded()`` (optional): the server answered this tick: clear an outage banner;
* ``update_failed(message)`` (optional, else ``poll_failed``): its own ``update`` raised; ``update_succeeded()``
  (optional): its ``update`` worked, clear what the last failed one showed;
* ``done`` (bool): finished or closed; the poller drops it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from . import compat, settings
from .connection import session
from .errors import NotConnected, describe
from .job_files import JobFiles
from .job_list import CallCosts, JobQuery, listing_entry
from .metrics import ROUND_METRICS, ROUND_METRICS_READABLE

log = logging.getLogger("flare_jupyter.poller")

MAX_BACKOFF = 30.0
#: ``show_stats`` answers kept per job for ``fj.stats_history`` (two per tick: about 30 minutes at 2 s).
HISTORY_LENGTH = 2000
#: A running job is asked its ``show_stats`` once its server log says its runner started: NVFlare's server job
#: process answers a command that reaches it before its engine is ready with an ERROR and a traceback in the job's
#: log (``'NoneType' object has no attribute 'get_widget'``), which a monitor opened at submission would put there.
#: A job seen running this long is asked anyway (a log that cannot be read, or never says so).
STATS_AFTER_SECONDS = 30.0
#: NVFlare (2.5 to 2.9) can lose an abort: its job store updates a job's meta by reading, merging and writing it,
#: unlocked, and the scheduler does so for a job it keeps trying to schedule (or deploys), so the abort's
#: FINISHED:ABORTED can be written over (a held job stays SUBMITTED; one being deployed runs). An abort sent from a
#: widget (``Poller.abort``) whose job has not ended this long after is sent again, at most ``ABORT_SENDS`` in all.
ABORT_AGAIN_SECONDS = 20.0
ABORT_SENDS = 3


@dataclass
class JobDetail:
    """What one tick learned about one watched job (None where a call failed or was not needed).

    ``round`` (1-based) and ``metrics`` are what the job's log and round records told so far, ``metrics_source``
    says which (``progress.ROUND_RECORDS`` or ``progress.SERVER_LOG``)."""

    meta: dict | None = None
    config: str | None = None
    server_stats: dict | None = None
    client_stats: dict | None = None
    log_text: str | None = None
    round: int | None = None
    metrics: list | None = None
    metrics_source: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass
class Snapshot:
    """One tick: the status entries learned (by id; ``complete`` when they are the whole job list), the pages the
    jobs panels asked for, and the details of the watched jobs."""

    time: float
    jobs: dict[str, dict] | None = None
    complete: bool = False
    pages: dict[JobQuery, list[dict]] = field(default_factory=dict)
    details: dict[str, JobDetail] = field(default_factory=dict)
    tick: int = 0


def default_costs() -> CallCosts:
    """The call costs a poller made without any chooses by: this server's own timings, as they come."""
    return CallCosts()


#: What every widget shows, in one calm line, while the session is closed on purpose (no error, nothing retried).
DISCONNECTED = "Disconnected — reconnect with fj.connect(...) or %flare connect, and these widgets resume"
SHUT_DOWN = "Disconnected: the FLARE system was shut down — start it again, then reconnect with fj.connect(...)"

#: Answers that only mean "the job is between states" (just started, just ended): not errors of ours.
TRANSIENT = (compat.JobNotFound, compat.JobNotRunning)


class Poller:
    """The shared poller. ``Poller.shared()`` is the kernel's; tests make their own and call ``tick()``."""

    _shared: Poller | None = None
    _shared_lock = threading.Lock()

    def __init__(self, session_fn=None, interval_fn=None, autostart: bool = True, costs: CallCosts | None = None):
        """``autostart=False`` never starts the thread: the owner calls ``tick()`` (tests, recordings). ``costs``:
        fixed call costs (recordings and their replays), else this server's own timings."""
        self.autostart = autostart
        self._session_fn = session_fn or session
        self._interval_fn = interval_fn or _configured_interval
        self.costs = costs or default_costs()
        self._subs: list = []
        self._actions: deque = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._paused = False
        self._poll_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._cache: dict[str, dict] = {}  # per job: meta / config
        self._files: dict[str, JobFiles] = {}  # per job: its files as read so far
        self._history: dict[str, deque] = {}  # per job: (time, show_stats answer) of every detail poll
        self._metas_now: set[str] = set()  # jobs whose meta this tick already fetched
        self._assumed: set[str] = set()  # running jobs assumed still running until their show_stats says
        self._running_since: dict[str, float] = {}  # per job: when a tick first found it running
        self._aborts: dict[str, list] = {}  # per job aborted from a widget: [last send, sends, on_again]
        self.failures = 0
        self.disconnected = ""  # what the widgets were told while the session is closed on purpose ("" when open)
        self.ticks = 0
        self.calls = 0  # NVFlare calls made by the poller (for tests and benchmarks)
        self.calls_by_name: Counter = Counter()  # the same, by operation (list_jobs, show_stats, ...)
        self.seconds = 0.0  # time spent in those calls
        self.seconds_by_name: Counter = Counter()
        self.last_tick_calls = 0
        self.last_tick_seconds = 0.0
        self.bytes_read = 0  # what running jobs' files gave since the last reads (for benchmarks)

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

    def abort(self, s, job_id: str, on_again=None):
        """Abort ``job_id`` (an action: on the poller thread) and see it through: while the job has not ended,
        ``ABORT_AGAIN_SECONDS`` after the last send, the abort is sent again (``ABORT_SENDS`` in all) and
        ``on_again(one_line_message)`` says so. Returns NVFlare's answer to the first send."""
        answer = s.abort_job(job_id)
        self._aborts[job_id] = [time.monotonic(), 1, on_again]
        return answer

    @property
    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def pause(self) -> None:
        """Stop ticking (the thread waits; widgets keep their last state) until ``resume()``. Returns once a poll
        that was under way has ended."""
        self._paused = True
        with self._poll_lock:
            pass

    def resume(self) -> None:
        self._paused = False
        self._ensure_running()

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
                if not self._subs and not self._actions and not self._aborts:
                    self._thread = None
                    return
                self._wake.clear()
            if self._paused:
                self._wake.wait(1.0)
                continue
            try:
                self.tick()
            except Exception:  # never let the thread die silently: log and keep serving
                log.exception("poller tick failed")
            self._wake.wait(self.delay())

    def delay(self) -> float:
        """Seconds until the next tick: the configured interval, doubled per failed tick in a row (up to 30 s)."""
        interval = self._interval_fn()
        return min(MAX_BACKOFF, interval * 2 ** min(self.failures, 5)) if self.failures else interval

    def listing_every(self) -> int:
        """Ticks between a jobs panel's automatic listings (``CallCosts.listing_every`` at this poll interval)."""
        return self.costs.listing_every(self._interval_fn())

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
        self.last_tick_seconds = 0.0
        self._run_actions()
        self._abort_again()
        return self._poll(self.subscribers)

    def prime(self, *subs) -> None:
        """Give new widgets their first state now, on the caller's thread (so a panel is never shown empty and its
        text form, which notebooks save, already holds the data). Errors go to the widgets' banners."""
        self._poll([s for s in subs if not s.done])

    def _poll(self, subs) -> Snapshot:
        snapshot = Snapshot(time=time.time(), tick=self.ticks)
        if not subs:
            return snapshot
        with self._poll_lock:  # the poller thread and a prime() on the kernel's thread take turns
            try:
                return self._poll_session(subs, snapshot)
            except NotConnected as e:  # closed on purpose, before or during this tick: say so calmly, ask nothing
                return self._disconnected(subs, e, snapshot)

    def _poll_session(self, subs, snapshot: Snapshot) -> Snapshot:
        try:
            s = self._session_fn()
            ensure_open = getattr(s, "ensure_open", None)
            if ensure_open is not None:
                ensure_open()  # a closed session: no call, not even one that fails
        except NotConnected:
            raise
        except Exception as e:
            return self._failed(subs, describe(e, "poll"), snapshot)
        self._metas_now, self._assumed = set(), set()
        try:
            self._statuses(s, subs, snapshot)
        except NotConnected:
            raise
        except Exception as e:
            return self._failed(subs, describe(e, "list_jobs"), snapshot)
        watched = set()
        for sub in subs:
            watched |= set(sub.watched_jobs(snapshot) or ())
        try:
            self._statuses_of(s, sorted(self._assumed - watched), snapshot)  # no show_stats will tell
        except NotConnected:
            raise
        except Exception as e:
            return self._failed(subs, describe(e, "get_job_meta"), snapshot)
        for job_id in sorted(watched):
            snapshot.details[job_id] = self._detail(s, job_id, snapshot)
        self.failures, self.disconnected = 0, ""
        for sub in subs:
            answered = getattr(sub, "poll_succeeded", None)
            if answered is not None:  # the server answered: an outage banner goes, whatever this widget fetches
                answered()
            try:
                sub.update(s, snapshot)
            except NotConnected:
                raise
            except Exception as e:  # a widget's own calls failed: show it there, the others go on
                getattr(sub, "update_failed", sub.poll_failed)(describe(e, "update"))
                continue
            # its update worked this time: the error of an earlier one goes (only now: an error that persists stays
            # shown through the next update's calls, instead of blinking away during each)
            drawn = getattr(sub, "update_succeeded", None)
            if drawn is not None:
                drawn()
        return snapshot

    def _statuses(self, s, subs, snapshot: Snapshot) -> None:
        """The status entries and pages the subscribers asked for, by the cheaper way (see the module docstring):
        a job last seen running needs no call (``_detail`` learns from its server ``show_stats`` whether it still
        runs), the others one listing or one ``get_job_meta`` each. ``snapshot.jobs`` stays None when none asked."""
        whole = any(getattr(sub, "wants_jobs", False) for sub in subs)
        ids: set[str] = set()
        pages: dict[JobQuery, bool] = {}
        for sub in subs:
            ids |= set(_ask(sub, "status_jobs") or ())
            page = _ask(sub, "job_page", self.ticks)
            if page:
                query, due = page
                pages[query] = pages.get(query, False) or due
        if not (whole or ids or any(pages.values())):
            return
        needed = {j for j in ids if self._cache.get(j, {}).get("entry", {}).get("status") != "RUNNING"}
        if whole or (needed and self.costs.listing_is_cheaper(len(needed))):
            entries = [j for j in self._call(s.list_jobs) or [] if isinstance(j, dict)]
            snapshot.jobs, snapshot.complete = {j.get("job_id"): j for j in entries}, True
            snapshot.pages = {query: query.select(entries) for query in pages}
            for job_id in ids & set(snapshot.jobs):
                self._cache.setdefault(job_id, {})["entry"] = snapshot.jobs[job_id]
            return
        snapshot.jobs = {}
        for query, due in pages.items():
            if due:
                listed = [j for j in self._call(s.list_jobs, **query.arguments()) or [] if isinstance(j, dict)]
                page = query.select(listed)  # the same page; taken here when the server could not filter it
                snapshot.pages[query] = page
                snapshot.jobs.update((j.get("job_id"), j) for j in page)
        for job_id in ids & set(snapshot.jobs):
            self._cache.setdefault(job_id, {})["entry"] = snapshot.jobs[job_id]
        unknown = []
        for job_id in sorted(ids - set(snapshot.jobs)):
            entry = self._cache.get(job_id, {}).get("entry")
            if entry and entry.get("status") == "RUNNING":  # still running, unless its show_stats says otherwise
                snapshot.jobs[job_id] = entry
                self._assumed.add(job_id)
            else:
                unknown.append(job_id)
        self._statuses_of(s, unknown, snapshot)

    def _statuses_of(self, s, job_ids, snapshot: Snapshot) -> None:
        """The status of each of ``job_ids`` by its ``get_job_meta`` (a job the server does not know is left out)."""
        for job_id in job_ids:
            self._assumed.discard(job_id)
            snapshot.jobs.pop(job_id, None)
            try:
                meta = self._call(s.get_job_meta, job_id)
            except compat.JobNotFound:  # deleted, or never was: not in the job list (the monitor says so)
                continue
            if isinstance(meta, dict):
                cache = self._cache.setdefault(job_id, {})
                cache["meta"], cache["entry"] = meta, listing_entry(meta)
                self._metas_now.add(job_id)
                snapshot.jobs[job_id] = cache["entry"]

    def _call(self, fn, *args, **kwargs):
        name = getattr(fn, "__name__", "action")
        self.calls += 1
        self.calls_by_name[name] += 1
        self.last_tick_calls += 1
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        except NotConnected:  # no call was made: nothing to time
            t0 = None
            raise
        finally:
            if t0 is not None:
                self._timed(name, time.perf_counter() - t0)

    def _timed(self, name: str, seconds: float) -> None:
        self.seconds += seconds
        self.seconds_by_name[name] += seconds
        self.last_tick_seconds += seconds
        self.costs.observe(name, seconds)

    def _disconnected(self, subs, error: NotConnected, snapshot: Snapshot) -> Snapshot:
        """The session was closed on purpose: every widget shows one calm line (the same line again changes no
        trait, so nothing is redrawn per tick), nothing is retried with backoff, and nothing is asked of the server
        until ``session_fn`` gives an open session again."""
        self.failures = 0
        self.disconnected = SHUT_DOWN if error.shut_down else DISCONNECTED
        for sub in subs:
            tell = getattr(sub, "poll_disconnected", None) or sub.poll_failed
            try:
                tell(self.disconnected)
            except Exception:
                log.exception("poll_disconnected of %r", sub)
        return snapshot

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

    def _abort_again(self) -> None:
        """The aborts sent ``ABORT_AGAIN_SECONDS`` ago: sent again if their job has not ended (``ABORT_SENDS``)."""
        now = time.monotonic()
        due = [job for job, (sent, _n, _cb) in list(self._aborts.items()) if now - sent >= ABORT_AGAIN_SECONDS]
        if not due:
            return
        try:
            s = self._session_fn()
        except Exception as e:  # not connected any more: nothing more to see through
            log.debug("aborts not sent again: %s", e)
            self._aborts.clear()
            return
        for job_id in due:
            _sent, sends, on_again = self._aborts[job_id]
            try:
                status = str(self._call(s.get_job_meta, job_id).get("status", ""))
                if status.startswith("FINISHED") or sends >= ABORT_SENDS:
                    del self._aborts[job_id]
                    continue
                self._call(s.abort_job, job_id)
            except Exception as e:  # the job went (deleted), or the server is away: nothing more to see through
                log.debug("abort of %s not sent again: %s", job_id, e)
                self._aborts.pop(job_id, None)
                continue
            self._aborts[job_id] = [time.monotonic(), sends + 1, on_again]
            if on_again is not None:
                said = f"it was still {status} {ABORT_AGAIN_SECONDS:.0f} s after the previous one"
                _safe(on_again, f"abort of job {job_id} sent again ({sends + 1} of {ABORT_SENDS}): {said}")

    # -- details of one watched job ----------------------------------------------------------------------------
    def _detail(self, s, job_id: str, snapshot: Snapshot) -> JobDetail:
        """Detail calls for one watched job. A running job gets its stats and what its files gained; a finished
        one, its final metrics once. Meta (unless this tick's status call fetched it) and config are fetched once
        per job, the meta again while it lacks its deployment and once the job ended.

        A job that was running needs no status call of its own: its server ``show_stats`` answering says it still
        runs; only when it does not (NVFlare: "not running", "no such job"), or may not be asked yet (its log does
        not yet say its runner started: ``STATS_AFTER_SECONDS``), is its meta asked, as its status."""
        d = JobDetail()
        cache = self._cache.setdefault(job_id, {})
        files = self._files.setdefault(job_id, JobFiles())
        asked = job_id in self._assumed and self._stats_due(job_id, files)
        if asked:
            d.server_stats = self._try(d, lambda: self._call(s.show_stats, job_id, "server"))
        if job_id in self._assumed and d.server_stats is None:
            self._try(d, lambda: self._statuses_of(s, [job_id], snapshot))
        listing = (snapshot.jobs or {}).get(job_id) or {}
        status = str(listing.get("status", ""))
        running = status == "RUNNING"
        stale = running and not cache.get("meta", {}).get("job_deploy_detail")
        if job_id not in self._metas_now and ("meta" not in cache or stale or status.startswith("FINISHED")):
            cache["meta"] = self._try(d, lambda: self._call(s.get_job_meta, job_id)) or cache.get("meta") or {}
        d.meta = cache["meta"]
        if running and "config" not in cache:
            text = self._try(d, lambda: self._call(s.job_server_config, job_id))
            if text and text.lstrip().startswith("{"):  # not the server's "cat: ... No such file" (not yet deployed)
                cache["config"] = text
        d.config = cache.get("config")
        if d.config:
            files.configure(d.config)
        if running:
            self._read_growth(s, job_id, files, d)
            if self._stats_due(job_id, files):
                if not asked:
                    d.server_stats = self._try(d, lambda: self._call(s.show_stats, job_id, "server"))
                d.client_stats = self._try(d, lambda: self._call(s.show_stats, job_id, "client"))
            history = self._history.setdefault(job_id, deque(maxlen=HISTORY_LENGTH))
            now = time.time()
            for answer in (d.server_stats, d.client_stats):
                if isinstance(answer, dict):
                    history.append((now, answer))
        elif status.startswith("FINISHED") and d.meta.get("start_time") and not files.final:
            self._read_final(s, job_id, files, d)  # once: the running job's folder is gone
        d.round, d.metrics, d.metrics_source = files.told()
        return d

    def _stats_due(self, job_id: str, files: JobFiles) -> bool:
        """Whether a running job may be asked its ``show_stats``: once its log says its runner started (or it ran
        ``STATS_AFTER_SECONDS``), until the log says its run began to end (``RUNNER_ENDING``); its process answers
        nothing reliably before and after, and its status is then asked from its meta."""
        since = self._running_since.setdefault(job_id, time.monotonic())
        if files.log.runner_ending:
            return False
        return files.log.runner_started or time.monotonic() - since >= STATS_AFTER_SECONDS

    def _read_growth(self, s, job_id: str, files: JobFiles, d: JobDetail) -> None:
        """What the running job's server log (and round records) gained since the last tick."""
        text = self._try(d, lambda: self._call(s.job_file_since, job_id, "log.txt", files.log_file.since()))
        if text is not None:
            self.bytes_read += len(text.encode())
            files.log_grew(text)
        if files.has_records:
            since = files.records_file.since()
            text = self._try(d, lambda: self._call(s.job_file_since, job_id, ROUND_METRICS_READABLE, since))
            if text is not None:
                self.bytes_read += len(text.encode())
                files.records_grew(text)

    def _read_final(self, s, job_id: str, files: JobFiles, d: JobDetail) -> None:
        """A job that ended: its round records from its result when it wrote them (every round, exactly), else
        its whole server log, once."""
        if files.records_seen:
            found = self._try(d, lambda: self._call(s.finished_job_files, job_id, ROUND_METRICS))
            text = (found or {}).get(ROUND_METRICS)
            if text is not None:
                files.ended_with_records(text)
                return
        text = self._try(d, lambda: self._call(s.job_log, job_id, "server"))
        if text is not None:
            files.ended_with_log(text)
            d.log_text = text

    @staticmethod
    def _try(detail: JobDetail, fn):
        try:
            return fn()
        except NotConnected:  # closed during this tick: the whole tick says so (``_poll``), not this detail
            raise
        except TRANSIENT:
            return None
        except compat.NotSupported:  # e.g. a job aborted before it ran has no log: nothing to show, no error
            return None
        except Exception as e:
            detail.errors.append(describe(e, "poll"))
            return None

    def history(self, job_id: str) -> list:
        """(time, ``show_stats`` answer) pairs recorded while the job ran and a monitor watched it."""
        return list(self._history.get(job_id, ()))


def _ask(sub, name: str, *args):
    """``sub.<name>(*args)`` if the subscriber has it (the optional parts of the protocol), else None."""
    method = getattr(sub, name, None)
    return method(*args) if method is not None else None


def _configured_interval() -> float:
    return float(settings.poll_interval)


def _safe(fn, *args):
    try:
        fn(*args)
    except Exception:
        log.exception("poller callback failed")
