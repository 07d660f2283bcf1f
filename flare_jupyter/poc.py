"""The embedded local FLARE system: NVFlare's POC mode, on free ports, in a workspace of its own.

``start()`` provisions a POC project with ``nvflare poc prepare`` (NVFlare's own provisioning), launches the server
and clients with the startup kits' own ``sub_start.sh`` scripts, waits until every client is connected, and connects
the kernel session. Every process it started is stopped by ``stop()``, and at kernel exit.

Two kernels never collide: each system has its own ports and workspace, and NVFlare's per-user configuration
(``~/.nvflare``) is redirected into that workspace.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from ._exit import on_exit
from .errors import FlareError

PROJECT = "fjpoc"
ADMIN = "admin@nvidia.com"
_current: PocSystem | None = None
_lock = threading.Lock()


def default_root() -> Path:
    """Where embedded systems live by default: the user's cache folder, never the current directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "flare-jupyter" / "poc"


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free on this machine right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``port`` right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def project_yaml(n_clients: int, fl_port: int, admin_port: int) -> str:
    from . import compat

    clients = "".join(f"  - name: site-{i}\n    type: client\n    org: nvidia\n" for i in range(1, n_clients + 1))
    return f"""api_version: 3
name: {PROJECT}
description: flare-jupyter embedded system
participants:
  - name: server
    type: server
    org: nvidia
    fed_learn_port: {fl_port}
    admin_port: {admin_port}
{clients}  - name: {ADMIN}
    type: admin
    org: nvidia
    role: project_admin
""" + compat.poc_project_builders(fl_port, admin_port)


def _env(workspace: Path) -> dict:
    """Environment for NVFlare's tools and participants: this Python first on PATH (the startup scripts call
    ``python3``), NVFlare's POC workspace variable, and a HOME inside the workspace so ``~/.nvflare`` stays ours."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["NVFLARE_POC_WORKSPACE"] = str(workspace / "poc")
    home = workspace / "home"
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env.pop("PYTHONPATH", None)
    env.pop("NVFL_WORKSPACE", None)  # sub_start.sh would run the participant in that folder instead
    return env


class PocSystem:
    """A running embedded FLARE system. ``.kit``, ``.username``, ``.clients``, ``.stop()``; a context manager."""

    def __init__(self, workspace: Path, n_clients: int, fl_port: int, admin_port: int, owns_workspace: bool):
        self.workspace = Path(workspace)
        self.clients = [f"site-{i}" for i in range(1, n_clients + 1)]
        self.fl_port = fl_port
        self.admin_port = admin_port
        self.username = ADMIN
        self.owns_workspace = owns_workspace
        self.started_at: float | None = None
        self.ready_seconds: float | None = None
        self._procs: dict[str, subprocess.Popen] = {}
        self._stopped = False

    @property
    def prod_dir(self) -> Path:
        return self.workspace / "poc" / PROJECT / "prod_00"

    @property
    def kit(self) -> str:
        return str(self.prod_dir / ADMIN)

    @property
    def participants(self) -> list[str]:
        return ["server", *self.clients]

    # -- lifecycle -------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Provision the project with NVFlare's ``nvflare poc prepare`` (certificates, kits, configs)."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        project = self.workspace / "project.yml"
        project.write_text(project_yaml(len(self.clients), self.fl_port, self.admin_port))
        from . import compat

        flags, answer = compat.poc_prepare_args()
        cmd = [sys.executable, "-m", "nvflare.cli", "poc", "prepare", "-i", str(project), *flags]
        out = subprocess.run(cmd, env=_env(self.workspace), capture_output=True, text=True, input=answer)
        if out.returncode != 0 or not Path(self.kit, "startup", "fed_admin.json").is_file():
            tail = ((out.stderr or "").strip() or (out.stdout or "").strip()).splitlines()[-5:]
            raise FlareError(f"nvflare poc prepare failed (exit {out.returncode}): {' | '.join(tail)}")

    def launch(self) -> None:
        """Start the server and every client at once, each under its kit's own ``sub_start.sh`` watchdog (which
        restarts it after a crash or a ``restart`` command), each in its own process group.

        The watchdog waits 5 s before its first start. Where the script has a run-once mode (2.9; not 2.5), the
        first run is started at once in that mode and handed to the watchdog through ``pid.fl``, the file the
        watchdog itself reads: it then only watches, and restarts the participant when it exits."""
        from . import compat

        env = _env(self.workspace)
        first = {}
        for name in self.participants:
            once = compat.sub_start_once_flag(self.prod_dir / name / "startup" / "sub_start.sh")
            if once:
                first[name] = self._spawn(f"{name} (first run)", name, env, once)
        for name, proc in first.items():
            pid = self._participant_pid(name, proc)
            (self.prod_dir / name / "pid.fl").write_text(f"{pid}\n")
            # the first run is our child, not the watchdog's: reap it the moment it exits, or the watchdog's
            # ``kill -0`` would see a zombie as alive and never restart the participant
            threading.Thread(target=proc.wait, name=f"flare-jupyter reaper ({name})", daemon=True).start()
        for name in self.participants:
            self._spawn(name, name, env)
        self.started_at = time.monotonic()

    def _spawn(self, key: str, name: str, env: dict, *args: str) -> subprocess.Popen:
        folder = self.prod_dir / name
        with open(folder / "poc_console.log", "ab") as console:
            proc = subprocess.Popen(
                ["bash", str(folder / "startup" / "sub_start.sh"), *args],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[key] = proc
        return proc

    def _participant_pid(self, name: str, proc: subprocess.Popen, timeout: float = 30.0) -> int:
        """The pid of the FLARE process a run-once ``sub_start.sh`` became (it ``exec``s python), once it has."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise FlareError(f"{name} exited during start-up: {self.log_tail(name)}")
            try:
                if any("nvflare.private.fed.app" in part for part in psutil.Process(proc.pid).cmdline()):
                    return proc.pid
            except psutil.Error:
                pass
            time.sleep(0.01)
        raise FlareError(f"{name} did not start within {timeout:g} s: {self.log_tail(name)}")

    def wait_ready(self, timeout: float, progress=None) -> None:
        """Poll until the admin port answers and every client is connected; on failure, say which part failed
        and show the tail of its log."""
        from . import compat

        deadline = time.monotonic() + timeout
        raw, last_error, seen = None, "", set()
        try:
            while time.monotonic() < deadline:
                dead = [key.split()[0] for key, p in self._procs.items() if p.poll() is not None]
                if dead:
                    raise FlareError(f"{dead[0]} exited during start-up: {self.log_tail(dead[0])}")
                try:
                    if raw is None:
                        if not port_open(self.admin_port):
                            last_error = f"admin port {self.admin_port} not open yet"
                            time.sleep(0.25)
                            continue
                        raw = compat.open_session(self.username, self.kit, True, 5.0)
                    seen = {c.name for c in raw.get_connected_client_list()}
                    if progress:
                        progress(f"server up, clients connected: {len(seen & set(self.clients))}/{len(self.clients)}")
                    if set(self.clients) <= seen:
                        self.ready_seconds = time.monotonic() - self.started_at
                        return
                except FlareError:
                    raise
                except Exception as e:  # not up yet
                    last_error = f"{type(e).__name__}: {e}"
                time.sleep(0.25)
        finally:
            if raw is not None:
                try:
                    raw.close()
                except Exception:
                    pass
        missing = [c for c in self.clients if c not in seen]
        who = missing[0] if raw is not None and missing else "server"
        raise FlareError(
            f"the embedded system was not ready within {timeout:g} s ({who} not up; last: {last_error or 'none'}): "
            f"{self.log_tail(who)}"
        )

    def log_tail(self, participant: str, lines: int = 5) -> str:
        """The last lines of a participant's log (its log.txt, else its console log)."""
        for name in ("log.txt", "poc_console.log"):
            f = self.prod_dir / participant / name
            if f.is_file():
                text = f.read_text(errors="replace").strip().splitlines()[-lines:]
                return f"{f}: " + " | ".join(text)
        return f"no log found under {self.prod_dir / participant}"

    def processes(self) -> list[psutil.Process]:
        """Every live process of this system: the launchers and all their descendants (jobs included)."""
        found = {}
        for p in self._procs.values():
            try:
                root = psutil.Process(p.pid)
                found[root.pid] = root
                found.update({c.pid: c for c in root.children(recursive=True)})
            except psutil.NoSuchProcess:
                pass
        found.update({p.pid: p for p in _processes_under(self.prod_dir)})  # job processes started elsewhere
        return [p for p in found.values() if _alive(p)]

    def running(self) -> bool:
        return not self._stopped and any(p.poll() is None for p in self._procs.values())

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process this system started (SIGTERM, then SIGKILL after ``timeout``). Idempotent."""
        global _current
        if self._stopped:
            return
        self._stopped = True
        from .session import current as current_session
        from .session import disconnect

        s = current_session()
        if s is not None and s.kit == self.kit:
            disconnect()
        procs = self.processes()
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=timeout)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=5)
        for p in self._procs.values():
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        with _lock:
            if _current is self:
                _current = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- display ---------------------------------------------------------------------------------------------
    def status(self) -> dict:
        alive = {n: False for n in self.participants}
        for key, p in self._procs.items():  # a participant is up while its watchdog or its first run is
            alive[key.split()[0]] |= p.poll() is None
        return {
            "state": "running" if self.running() else "stopped",
            "server": f"localhost:{self.admin_port} (admin), {self.fl_port} (federated learning)",
            "clients": ", ".join(self.clients),
            "processes": ", ".join(f"{n}: {'up' if up else 'down'}" for n, up in alive.items()),
            "workspace": str(self.workspace),
            "admin kit": self.kit,
            "ready in": f"{self.ready_seconds:.1f} s" if self.ready_seconds else "-",
        }

    def __repr__(self):
        try:
            return "Embedded FLARE system " + ", ".join(f"{k}: {v}" for k, v in self.status().items())
        except Exception:
            return "Embedded FLARE system (unavailable)"

    def _repr_html_(self):
        try:
            from .render import key_value_table

            return key_value_table("Embedded FLARE system (POC)", self.status())
        except Exception:
            return "<pre>Embedded FLARE system (unavailable)</pre>"


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _processes_under(folder: Path) -> list[psutil.Process]:
    """Live processes whose command line names ``folder`` (FLARE participants and their job processes)."""
    marker, found = str(folder), []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _prune_stale(root: Path) -> None:
    """Clean up after kernels that died without stopping their system: default workspaces are named after the
    kernel's pid; for each whose kernel is gone, stop what still runs from it and remove the folder."""
    if not root.is_dir():
        return
    for d in root.iterdir():
        pid = d.name.split("-", 1)[0]
        if d.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not psutil.pid_exists(int(pid)):
            leftovers = _processes_under(d)
            for p in leftovers:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(leftovers, timeout=5)
            shutil.rmtree(d, ignore_errors=True)


def start(
    n_clients: int = 2,
    workspace: str | os.PathLike | None = None,
    timeout: float = 120.0,
    connect: bool = True,
    progress=print,
) -> PocSystem:
    """Start an embedded FLARE system (server + ``n_clients`` clients) and connect the kernel session to it.

    ``workspace`` defaults to a fresh folder in the user's cache. ``progress`` receives one-line status messages
    (pass ``None`` for silence). Returns the running system; a second call while one runs returns that one.
    """
    global _current
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or not 1 <= n_clients <= 16:
        raise FlareError(f"n_clients must be a whole number from 1 to 16, not {n_clients!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise FlareError(f"timeout must be a positive number of seconds, not {timeout!r}")
    say = progress or (lambda msg: None)
    with _lock:
        if _current is not None and _current.running():
            say("the embedded FLARE system is already running")
            system = _current
        else:
            owns = workspace is None
            if owns:
                root = default_root()
                _prune_stale(root)
                root.mkdir(parents=True, exist_ok=True)
                workspace = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root)
            fl_port, admin_port = free_ports(2)
            system = PocSystem(Path(workspace).resolve(), n_clients, fl_port, admin_port, owns)
            t0 = time.monotonic()
            say(f"provisioning a FLARE project with {n_clients} clients in {system.workspace} ...")
            system.prepare()
            say(f"starting the server (admin port {admin_port}) and {n_clients} clients ...")
            try:
                system.launch()
                system.wait_ready(timeout, progress=None)
            except BaseException:
                system.stop()
                raise
            say(f"ready in {time.monotonic() - t0:.1f} s: server and {n_clients} clients connected")
            _current = system
    if connect:
        from .session import connect as _connect

        s = _connect(system.kit, system.username)
        s.origin = "poc"
    return system


def current() -> PocSystem | None:
    """The running embedded system of this kernel, or None."""
    s = _current
    return s if s is not None and s.running() else None


def stop() -> None:
    """Stop this kernel's embedded system (a no-op when none runs)."""
    s = _current
    if s is not None:
        s.stop()


def status() -> PocSystem | None:
    """The running embedded system (its repr shows ports, clients, processes), or None."""
    return current()


@on_exit
def _stop_at_exit() -> None:
    stop()
