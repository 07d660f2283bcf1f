"""Helpers for the fault and load tests on the real embedded system: finding, killing and holding its processes,
checking that it is healthy again, watching the poller's ticks, interrupting the main thread, recording figures.

Each participant runs under its ``startup/sub_start.sh``: a bash loop that wakes every 5 s and restarts the NVFlare
process (its ``pid.fl``) when it is gone, unless ``shutdown.fl`` exists. Holding that loop (SIGSTOP) keeps a killed
participant down; releasing it (SIGCONT) lets the loop restart it by itself. The loop gives up after its fifth
restart within 300 s of the previous one (``restart_count``), so a test session may restart one participant at most
four times in a row: the server is restarted twice here, once each by test_reconnect and test_operations_live (and
from 2.9 a server restart restarts the clients too). A loop that gave up all the same has ended: ``health.restore``
starts that participant again, the server first (ready once it answers), then each client.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

import psutil
from live_jobs import CLIENTS

from flare_jupyter import compat, settings
from flare_jupyter.poc import port_open
from flare_jupyter.poller import Poller
from polling import wait_for, wait_until_fixed

#: The figures the lead asked for (recovery times, load figures), printed per test and once at the end.
FIGURES: list[str] = []


def figure(text: str) -> None:
    FIGURES.append(text)
    print(f"\n[figure] {text}", flush=True)


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


@contextlib.contextmanager
def fast_shared_poller(monkeypatch):
    """The kernel's shared poller at a 1 s interval; every widget opened meanwhile is closed afterwards and the
    poller's thread has ended."""
    monkeypatch.setattr(settings, "poll_interval", 1.0)
    yield Poller.shared()
    for sub in Poller.shared().subscribers:
        sub.close()
    wait_for(lambda: not Poller.shared().running, timeout=30)


def _folder(system, name: str) -> str:
    return str(system.prod_dir / name)


def flare_process(system, name: str) -> psutil.Process:
    """The NVFlare process of participant ``name`` (``server_train`` / ``client_train``), not its watchdog."""
    module = "server_train" if name == "server" else "client_train"
    folder = _folder(system, name)
    found = []
    for p in system.processes():
        words = [os.path.normpath(w) for w in _cmdline(p).split()]  # nvflare 2.5 passes <folder>/startup/..
        if any(module in w for w in words) and folder in words:
            found.append(p)
    assert len(found) == 1, f"expected one {module} process for {name}, found {[(p.pid, _cmdline(p)) for p in found]}"
    return found[0]


def watchdog_process(system, name: str) -> psutil.Process:
    """The ``sub_start.sh`` bash loop of participant ``name``."""
    script = os.path.join(_folder(system, name), "startup", "sub_start.sh")
    found = [p for p in system.processes() if script in _cmdline(p).split()[1:2]]
    assert len(found) == 1, f"expected one watchdog for {name}, found {[(p.pid, _cmdline(p)) for p in found]}"
    return found[0]


def gone(process: psutil.Process) -> bool:
    """Dead: exited, or a zombie its (possibly held) watchdog has not reaped yet."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill(process: psutil.Process) -> float:
    """SIGKILL ``process`` and wait until it is dead; returns the monotonic time of the kill."""
    process.send_signal(signal.SIGKILL)
    t = time.monotonic()
    wait_for(lambda: gone(process), timeout=10, interval=0.05)
    return t


@contextlib.contextmanager
def held(watchdog: psutil.Process):
    """Stop a participant's watchdog loop (SIGSTOP) so it restarts nothing; always let it go again (SIGCONT)."""
    watchdog.suspend()
    try:
        yield watchdog
    finally:
        with contextlib.suppress(psutil.Error):
            watchdog.resume()


def new_server_answers(system, old_pid: int) -> float | None:
    """The time (monotonic) once a new server process (not ``old_pid``) runs and the admin port accepts; else None."""
    try:
        if flare_process(system, "server").pid == old_pid:
            return None
    except AssertionError:  # not started yet
        return None
    return time.monotonic() if port_open(system.admin_port) else None


def admin_session(system):
    """A separate admin session (an operator's console), not the kernel's."""
    return compat.open_session(system.username, system.kit, True, 10.0)


def remove_client(system, name: str) -> None:
    """The admin's ``remove_client NAME``: the server forgets a client (releases its token) at once, instead of
    after its heartbeat timeout (600 s in a POC). Sent from a separate admin session."""
    other = admin_session(system)
    try:
        if hasattr(other, "remove_client"):
            other.remove_client(name)
        else:  # releases whose flare_api has no method for the server's command
            other._do_command(f"remove_client {name}", enforce_meta=False)
    finally:
        other.close()


def connected(s) -> set[str]:
    return {c.name for c in s.get_connected_client_list()}


def job_table(s) -> dict[str, tuple[str, str]]:
    """The server's jobs: id -> (name, status)."""
    return {j["job_id"]: (j.get("job_name") or j.get("name"), j["status"]) for j in s.list_jobs()}


def frame_table(frame) -> dict[str, tuple[str, str]]:
    """A ``jobs_frame`` (a panel's or a magic's) as id -> (name, status)."""
    return {str(r.job_id): (str(r.name), str(r.status)) for r in frame.itertuples()}


def healthy_problems(s, system) -> list[str]:
    """What keeps the system from being healthy right now (empty when it is): server answering, both clients
    connected, no job submitted or running, every participant's NVFlare process and watchdog alive and not stopped."""
    problems = []
    try:
        clients = connected(s)
        if clients != CLIENTS:
            problems.append(f"clients connected: {sorted(clients)}")
        busy = [(j["job_id"], j["status"]) for j in s.list_jobs() if not j["status"].startswith("FINISHED")]
        if busy:
            problems.append(f"jobs not finished: {busy}")
    except Exception as e:
        problems.append(f"server: {type(e).__name__}: {e}")
    for name in system.participants:
        try:
            flare_process(system, name)
            dog = watchdog_process(system, name)
            if dog.status() == psutil.STATUS_STOPPED:
                problems.append(f"watchdog of {name} is stopped")
        except AssertionError as e:
            problems.append(str(e))
    return problems


def wait_healthy(s, system, timeout: float = 180) -> float:
    """Poll until the system is healthy (see ``healthy_problems``); returns the seconds it took."""
    return wait_until_fixed(lambda: healthy_problems(s, system), "healthy", timeout)


def release_everything(system) -> None:
    """Let every stopped watchdog go again (a test that failed while holding one must not leave it stopped)."""
    for p in system.processes():
        with contextlib.suppress(psutil.Error):
            if p.status() == psutil.STATUS_STOPPED:
                p.resume()


class TickProbe:
    """A poller subscriber that only records: when each tick succeeded (it got the job listing) and what each
    failure said. Added to a poller next to real widgets, it measures how long they were left without news."""

    wants_jobs = True

    def __init__(self):
        self.ok: list[float] = []
        self.failures: list[tuple[float, str]] = []
        self.done = False
        self._lock = threading.Lock()

    def watched_jobs(self, snapshot):
        return set()

    def update(self, session, snapshot):
        if snapshot.jobs is not None:
            with self._lock:
                self.ok.append(time.monotonic())

    def poll_failed(self, message):
        with self._lock:
            self.failures.append((time.monotonic(), message))

    def close(self):
        self.done = True

    def failures_after(self, t: float) -> list[str]:
        with self._lock:
            return [m for x, m in self.failures if x > t]

    def first_ok_after(self, t: float) -> float | None:
        with self._lock:
            return next((x for x in self.ok if x > t), None)

    def ticks_after(self, t: float) -> int:
        with self._lock:
            return sum(1 for x in self.ok if x > t)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without a successful tick between ``start`` and ``end``."""
        with self._lock:
            times = [start, *[x for x in self.ok if start < x < end], end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


class MessageLog:
    """Every banner text a set of widgets showed, sampled by a background thread (a banner that came and went
    between two checks of a test is still seen)."""

    def __init__(self, **widgets):
        self.widgets = widgets
        self.seen: dict[str, list[tuple[float, str]]] = {name: [] for name in widgets}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="banner-sampler")

    def _run(self):
        while not self._stop.is_set():
            for name, w in self.widgets.items():
                msg = w.message
                history = self.seen[name]
                if (history[-1][1] if history else "") != msg:
                    history.append((time.monotonic(), msg))
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def messages(self, name: str) -> list[str]:
        return [m for _, m in self.seen[name] if m]

    def all_messages(self) -> dict[str, list[str]]:
        return {name: self.messages(name) for name in self.widgets if self.messages(name)}


def main_thread_in(*functions: str) -> bool:
    """Whether the main thread is running (somewhere in its stack) one of these functions: ``"name"`` or
    ``"file.py:name"`` (a function of that name in a file of that name)."""
    wanted = [f.rpartition(":")[::-2] for f in functions]  # (name, file or "")
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        code = frame.f_code
        if any(code.co_name == name and os.path.basename(code.co_filename).endswith(file) for name, file in wanted):
            return True
        frame = frame.f_back
    return False


class MainInterrupter:
    """Deliver one SIGINT to the main thread (what Jupyter's "interrupt kernel" does) as soon as ``condition()``
    holds, polled from a helper thread; ``then()`` runs right after. Used as a context manager around the blocking
    call, which must only return because of the interrupt (or after a timeout longer than ``deadline``)."""

    def __init__(self, condition, deadline: float = 60, then=None):
        self.condition = condition
        self.deadline = deadline
        self.then = then
        self.fired_at: float | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="interrupter")

    def _run(self):
        end = time.monotonic() + self.deadline
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                if self.condition():
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                    self.fired_at = time.monotonic()
                    break
                time.sleep(0.02)
        except BaseException as e:  # shown by the test, not lost in a thread
            self.error = e
        finally:
            if self.then is not None:
                try:
                    self.then()
                except BaseException as e:
                    self.error = self.error or e

    def __enter__(self):
        # Python's own Ctrl-C handler, as a kernel has one: a process started as a background job of a shell (CI's
        # scripts, `cmd &`) inherits SIGINT ignored, and the interrupt would never reach the blocking call
        self._previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        signal.signal(signal.SIGINT, self._previous)
