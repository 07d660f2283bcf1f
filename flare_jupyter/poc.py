"""The embedded local FLARE system: NVFlare's POC mode, on free ports, in a workspace of its own.

``start()`` provisions a POC project with ``nvflare poc prepare`` (NVFlare's own provisioning), launches the server
and clients with the startup kits' own ``sub_start.sh`` scripts, waits until every client is connected, and connects
the kernel session. Every process it started is stopped by ``stop()``, and at kernel exit.

Two kernels never collide: each system has its own ports and workspace, and NVFlare's per-user configuration
(``~/.nvflare``) is redirected into that workspace.

Users with roles (``users=``): each gets a startup kit of their own, made by NVFlare's own tooling: ``nvflare poc
add-user`` where the release has it (2.9; also on a running system, ``PocSystem.add_user``), else as admin
participants of the project file that ``nvflare poc prepare`` provisions. ``kit_for(name)`` is a user's kit,
``users`` lists them. The system registers its sites' authorization policy with ``policy``, so widgets and
refusals know what each user may do.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
from nvflare.apis.utils.format_check import name_check

from . import compat, kit, policy, render
from ._exit import on_exit
from .connection import connect as connect_session
from .connection import current as current_session
from .connection import disconnect
from .errors import FlareError
from .values import seconds, whole_number

PROJECT = "fjpoc"
ADMIN = "admin@nvidia.com"
#: The organisation of the project admin and of every site of the embedded system.
ORG = "nvidia"
#: The roles a further user may have: those of NVFlare's default authorization policy but the project admin's,
#: of whom NVFlare's provisioning allows one (``lighter/constants.py`` ``DEFINED_ROLES``).
ROLES = ("org_admin", "lead", "member")
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


def project_yaml(n_clients: int, fl_port: int, admin_port: int, admins: dict | None = None) -> str:
    """The project file ``nvflare poc prepare -i`` provisions: a server on the given ports, ``n_clients`` clients
    and the project admin, all of organisation nvidia, any further ``admins`` (name: (role, org)), with the
    builders this release's provisioning takes."""
    clients = "".join(f"  - name: site-{i}\n    type: client\n    org: {ORG}\n" for i in range(1, n_clients + 1))
    clients += "".join(
        f"  - name: {name}\n    type: admin\n    org: {org}\n    role: {role}\n"
        for name, (role, org) in (admins or {}).items()
    )
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
""" + _builders(fl_port, admin_port)


def _builders(fl_port: int, admin_port: int) -> str:
    """The ``builders:`` section of the project file (YAML text)."""
    if compat.POC_PROJECT_HAS_OVERSEER:  # the HA-era provisioning: workspace templates and an overseer agent
        return f"""builders:
  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder
    args:
      template_file:
        - master_template.yml
  - path: nvflare.lighter.impl.template.TemplateBuilder
  - path: nvflare.lighter.impl.static_file.StaticFileBuilder
    args:
      config_folder: config
      overseer_agent:
        path: nvflare.ha.dummy_overseer_agent.DummyOverseerAgent
        overseer_exists: false
        args:
          sp_end_point: server:{fl_port}:{admin_port}
  - path: nvflare.lighter.impl.cert.CertBuilder
  - path: nvflare.lighter.impl.signature.SignatureBuilder
"""
    return """builders:
  - path: nvflare.lighter.impl.workspace.WorkspaceBuilder
  - path: nvflare.lighter.impl.static_file.StaticFileBuilder
    args:
      config_folder: config
  - path: nvflare.lighter.impl.cert.CertBuilder
  - path: nvflare.lighter.impl.signature.SignatureBuilder
"""


def check_users(users) -> dict[str, tuple[str, str]]:
    """``users`` as {name: (role, org)}: a plain role string means the project admin's organisation. Names, roles
    and organisations are checked as NVFlare's provisioning checks them, so a mistake is one line before any
    provisioning starts."""
    if users is None:
        return {}
    if not isinstance(users, dict):
        raise FlareError(
            "users must be a dict of user name: role or (role, org), e.g. "
            "{'lead@org-b.com': ('lead', 'org_b'), 'member@nvidia.com': 'member'}"
        )
    checked = {}
    for name, spec in users.items():
        pair = (spec, ORG) if isinstance(spec, str) else tuple(spec) if isinstance(spec, (tuple, list)) else ()
        if len(pair) != 2 or not all(isinstance(v, str) for v in pair):
            raise FlareError(f"user {name!r}: give a role or (role, org), e.g. ('lead', 'org_b'), not {spec!r}")
        role, org = pair
        checked[_checked_name(name, "admin", "a user name is an email address, e.g. lead@org-b.com")] = (
            _checked_role(name, role),
            _checked_name(org, "org", "an organisation name holds only letters, digits and '_', e.g. org_b"),
        )
    if ADMIN in checked:
        raise FlareError(f"{ADMIN} is the embedded system's project admin already: give the other users")
    return checked


def _checked_name(name, kind: str, hint: str) -> str:
    if not isinstance(name, str) or name_check(name, kind)[0]:
        raise FlareError(f"{name!r} is not a valid {'user' if kind == 'admin' else 'organisation'} name: {hint}")
    return name


def _checked_role(name: str, role: str) -> str:
    if role == "project_admin":
        raise FlareError(f"user {name!r}: a project has one project_admin ({ADMIN}): give org_admin, lead or member")
    if role not in ROLES:
        raise FlareError(f"user {name!r}: role {role!r} is not one of {', '.join(ROLES)} (NVFlare's roles)")
    return role


def _env(workspace: Path) -> dict:
    """Environment for NVFlare's tools and participants: this Python first on PATH (the startup scripts call
    ``python3``), NVFlare's POC workspace variable, a HOME inside the workspace so ``~/.nvflare`` stays ours, a
    TMPDIR inside it too (2.9's server receives each client's job log into ``<tmp>/<job id>/<site>`` and leaves
    the folders: they go with the workspace instead of piling up in the machine's /tmp), and gRPC's settings for
    processes that fork (``compat.PARTICIPANT_ENV``)."""
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["NVFLARE_POC_WORKSPACE"] = str(workspace / "poc")
    for name, folder in (("HOME", "home"), ("TMPDIR", "tmp")):
        (workspace / folder).mkdir(parents=True, exist_ok=True)
        env[name] = str(workspace / folder)
    env.pop("PYTHONPATH", None)
    env.pop("NVFL_WORKSPACE", None)  # sub_start.sh would run the participant in that folder instead
    for name, value in compat.PARTICIPANT_ENV.items():  # gRPC's fork handlers off, as 2.9 does it (see compat)
        env.setdefault(name, value)
    return env


def _connected_since(client, starting: set, since: float | None) -> bool:
    """Whether a listed client counts as connected: a client just started, once it connected after ``since``."""
    last = getattr(client, "last_connect_time", None)
    return since is None or client.name not in starting or last is None or float(last) >= since


class PocSystem:
    """A running embedded FLARE system. ``.kit``, ``.username``, ``.clients``, ``.stop()``; a context manager."""

    def __init__(
        self,
        workspace: Path,
        n_clients: int,
        fl_port: int,
        admin_port: int,
        users: dict | None = None,
        secure: bool = True,
    ):
        self.workspace = Path(workspace)
        self.secure = secure
        self.clients = [f"site-{i}" for i in range(1, n_clients + 1)]
        self.fl_port = fl_port
        self.admin_port = admin_port
        self.username = ADMIN
        self._users = {ADMIN: ("project_admin", ORG), **check_users(users)}
        if not secure and len(self._users) > 1:
            raise FlareError("an insecure system has no users but its project admin: give users= to a secure one")
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

    # -- users -------------------------------------------------------------------------------------------------
    @property
    def users(self) -> pd.DataFrame:
        """The system's users: name, org, role and the folder of their startup kit (the project admin first)."""
        rows = [(name, org, role, str(self.prod_dir / name)) for name, (role, org) in self._users.items()]
        frame = pd.DataFrame(rows, columns=["name", "org", "role", "kit"])
        return frame.astype("string")

    def kit_for(self, name: str) -> str:
        """The startup kit of user ``name`` (``fj.connect(system.kit_for(name))`` acts as that user)."""
        if name not in self._users:
            known = ", ".join(self._users)
            raise FlareError(f"{name!r} is not a user of this system ({known}): add it with users= or add_user()")
        return str(self.prod_dir / name)

    def add_user(self, name: str, role: str, org: str = ORG) -> str:
        """Give the system another user, with a startup kit of their own, and return the kit. The system may be
        running: NVFlare's server takes a user's name, organisation and role from the kit's certificate, signed by
        the project's root CA, so nothing restarts. Needs ``nvflare poc add-user`` (nvflare 2.9; with 2.5 users
        are provisioned with the project: ``fj.poc.start(users=...)``)."""
        (name, (role, org)), *_ = check_users({name: (role, org)}).items()
        if not self.secure:
            raise FlareError("an insecure system has no users but its project admin: give users= to a secure one")
        if name in self._users:
            if self._users[name] == (role, org):
                return self.kit_for(name)
            raise FlareError(
                f"{name} is already a user of this system, as {self._users[name][0]} of "
                f"{self._users[name][1]}: a user keeps the role of their certificate"
            )
        if role not in compat.poc_user_roles():
            raise FlareError(
                f"nvflare {compat.NVFLARE_VERSION} cannot add a {role} to a prepared system "
                f"(nvflare poc add-user adds {', '.join(compat.poc_user_roles()) or 'nobody'}): "
                "give every user to fj.poc.start(users=...) instead"
            )
        cmd = [sys.executable, "-m", "nvflare.cli", *compat.poc_add_user_args(role, name, org)]
        out = subprocess.run(cmd, env=_env(self.workspace), capture_output=True, text=True)
        if out.returncode != 0 or not Path(self.prod_dir, name, "startup", "client.crt").is_file():
            said = ((out.stdout or "").strip() or (out.stderr or "").strip()).splitlines()[-1:] or ["no output"]
            command = f"nvflare poc add-user {role} {name} --org {org}"
            raise FlareError(f"{command} failed (exit {out.returncode}): {said[0]}")
        self._users[name] = (role, org)
        return self.kit_for(name)

    def _provisioned_users(self) -> dict:
        """The users the project file provisions: all of them where ``nvflare poc add-user`` cannot add them."""
        can_add = compat.poc_user_roles()
        return {n: ro for n, ro in self._users.items() if n != ADMIN and ro[0] not in can_add}

    # -- lifecycle -------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Provision the project with NVFlare's ``nvflare poc prepare`` (certificates, kits, configs)."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        project = self.workspace / "project.yml"
        admins = self._provisioned_users()
        project.write_text(project_yaml(len(self.clients), self.fl_port, self.admin_port, admins))
        flags, answer = compat.poc_prepare_args()
        cmd = [sys.executable, "-m", "nvflare.cli", "poc", "prepare", "-i", str(project), *flags]
        out = subprocess.run(cmd, env=_env(self.workspace), capture_output=True, text=True, input=answer)
        if out.returncode != 0 or not Path(self.kit, "startup", "fed_admin.json").is_file():
            tail = ((out.stderr or "").strip() or (out.stdout or "").strip()).splitlines()[-5:]
            raise FlareError(f"nvflare poc prepare failed (exit {out.returncode}): {' | '.join(tail)}")
        for name, (role, org) in list(self._users.items()):  # the rest, with NVFlare's add-user (2.9)
            if name != ADMIN and name not in admins:
                del self._users[name]
                self.add_user(name, role, org)
        if not self.secure and compat.INSECURE_SESSIONS_NEED_AN_INSECURE_SYSTEM:
            for name in self.participants:
                compat.make_kit_insecure(self.prod_dir / name / "startup")

    def bring_up(self, timeout: float = 120.0, say=None) -> None:
        """Provision, launch and wait until every client is connected (stopping everything again on failure)."""
        say = say or (lambda msg: None)
        t0 = time.monotonic()
        n_users = len(self._users) - 1
        more = f" and {n_users} more user{'s' * (n_users != 1)}" if n_users else ""
        say(f"provisioning a FLARE project with {len(self.clients)} clients{more} in {self.workspace} ...")
        self.prepare()
        say(f"starting the server (admin port {self.admin_port}) and {len(self.clients)} clients ...")
        try:
            self.launch()
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        say(f"ready in {time.monotonic() - t0:.1f} s: server and {len(self.clients)} clients connected")

    def launch(self, names: list[str] | None = None) -> None:
        """Start the server and every client (or only ``names``) at once, each under its kit's own ``sub_start.sh``
        watchdog (which restarts it after a crash or a ``restart`` command), each in its own process group.

        The watchdog waits 5 s before its first start. Where the script has a run-once mode (2.9; not 2.5), the
        first run is started at once in that mode and handed to the watchdog through ``pid.fl``, the file the
        watchdog itself reads: it then only watches, and restarts the participant when it exits."""
        names = list(names or self.participants)
        env = _env(self.workspace)
        first = {}
        for name in names:
            once = compat.sub_start_once_flag(self.prod_dir / name / "startup" / "sub_start.sh")
            if once:
                first[name] = self._spawn(f"{name} (first run)", name, env, once)
        for name, proc in first.items():
            pid = self._participant_pid(name, proc)
            (self.prod_dir / name / "pid.fl").write_text(f"{pid}\n")
            # the first run is our child, not the watchdog's: reap it the moment it exits, or the watchdog's
            # ``kill -0`` would see a zombie as alive and never restart the participant
            threading.Thread(target=proc.wait, name=f"flare-jupyter reaper ({name})", daemon=True).start()
        for name in names:
            self._spawn(name, name, env)
        self.started_at = time.monotonic()
        if "server" in names:  # the sites read their authorization policy at start: so do we (``policy``)
            policy.know_system(self.prod_dir, dict.fromkeys(self.participants, ORG))

    def start_participant(self, name: str, timeout: float = 60.0) -> None:
        """Start one participant again after ``shutdown`` stopped it (its watchdog then ended too), and wait until
        it is back: the server's admin port answering, or the client connected."""
        if name not in self.participants:
            raise FlareError(f"{name!r} is not a participant of this system ({', '.join(self.participants)})")
        folder = self.prod_dir / name
        deadline = time.monotonic() + timeout
        while processes_under(folder):  # its watchdog ends a few seconds after the shutdown (it sleeps 5 s)
            if time.monotonic() > deadline:
                raise FlareError(f"{name} is still running ({timeout:g} s after it was asked to start again)")
            time.sleep(0.25)
        for leftover in ("shutdown.fl", "restart.fl", "pid.fl", "daemon_pid.fl"):
            (folder / leftover).unlink(missing_ok=True)
        launched = time.time()
        self.launch([name])
        self.wait_ready(max(1.0, deadline - time.monotonic()), starting=[name], since=launched)

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

    def wait_ready(
        self, timeout: float, progress=None, starting: list[str] | None = None, since: float | None = None
    ) -> None:
        """Poll until the admin port answers and the starting clients are connected (every client, when the whole
        system starts); on failure, say which part failed and show the tail of its log. ``starting``: the
        participants just launched (default all), whose exit during the wait is a failure; the server alone is
        ready once it answers (a client that is down, e.g. shut down, is not waited for). ``since``: when they
        were launched (``time.time()``); a starting client counts once the server saw it connect after that: a
        client shut down just before can still be listed (NVFlare re-activates one whose last message arrives
        after its logout, until its heartbeat timeout)."""
        starting = set(starting or self.participants)
        awaited = [c for c in self.clients if c in starting]
        deadline = time.monotonic() + timeout
        raw, last_error, seen = None, "", set()
        try:
            while time.monotonic() < deadline:
                dead = [
                    key.split()[0]
                    for key, p in self._procs.items()
                    if key.split()[0] in starting and p.poll() is not None
                ]
                if dead:
                    raise FlareError(f"{dead[0]} exited during start-up: {self.log_tail(dead[0])}")
                try:
                    if raw is None:
                        if not port_open(self.admin_port):
                            last_error = f"admin port {self.admin_port} not open yet"
                            time.sleep(0.25)
                            continue
                        raw = compat.open_session(self.username, self.kit, self.secure, 5.0)
                    seen = {c.name for c in raw.get_connected_client_list() if _connected_since(c, starting, since)}
                    if progress:
                        progress(f"server up, clients connected: {len(seen & set(self.clients))}/{len(self.clients)}")
                    last_error = f"clients connected: {', '.join(sorted(seen)) or 'none'}"
                    if set(awaited) <= seen:
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
        missing = [c for c in awaited if c not in seen]
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
        found.update({p.pid: p for p in processes_under(self.prod_dir)})  # job processes started elsewhere
        return [p for p in found.values() if _alive(p)]

    def running(self) -> bool:
        return not self._stopped and any(p.poll() is None for p in self._procs.values())

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process this system started (SIGTERM, then SIGKILL after ``timeout``). Idempotent."""
        global _current
        if self._stopped:
            return
        self._stopped = True
        policy.forget_system(self.prod_dir)
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
            "users": ", ".join(f"{n} ({r}, {o})" for n, (r, o) in self._users.items()),
            "ready in": f"{self.ready_seconds:.1f} s" if self.ready_seconds else "-",
        }

    def __repr__(self):
        try:
            return "Embedded FLARE system " + ", ".join(f"{k}: {v}" for k, v in self.status().items())
        except Exception:
            return "Embedded FLARE system (unavailable)"

    def _repr_html_(self):
        try:
            return render.key_value_table("Embedded FLARE system (POC)", self.status())
        except Exception as e:
            return render.unavailable("Embedded FLARE system", type(e).__name__)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def processes_under(folder: str | os.PathLike, exclude=frozenset()) -> list[psutil.Process]:
    """Live processes (but ``exclude``'s pids) whose command line names ``folder`` or a path inside it: FLARE
    participants and their job processes, a kernel started from it. A sibling whose name merely begins the same is
    not under it (``site-1`` is not ``site-10``, pytest's ``test_x1`` is not ``test_x10``)."""
    names_it = re.compile(re.escape(os.fspath(folder).rstrip(os.sep)) + r"(?![\w.-])").search
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if proc.pid not in exclude and any(names_it(part) for part in proc.info["cmdline"] or []):
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
            leftovers = processes_under(d)
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
    users: dict | None = None,
    secure: bool = True,
) -> PocSystem:
    """Start an embedded FLARE system (server + ``n_clients`` clients) and connect the kernel session to it as its
    project admin (admin@nvidia.com).

    ``users`` gives it more users, each with a startup kit of their own: ``{"lead@org-b.com": ("lead", "org_b"),
    "member@nvidia.com": "member"}`` (a plain role means the project admin's organisation, nvidia; roles are
    org_admin, lead and member: NVFlare's provisioning allows one project admin). ``system.kit_for(name)`` is a
    user's kit (``fj.connect(kit)`` acts as them), ``system.users`` lists them. ``secure=False`` starts a system for
    insecure admin sessions (NVFlare's ``new_insecure_session``), which has no users but the project admin.
    ``workspace`` defaults to a fresh folder in the user's cache. ``progress`` receives one-line status messages
    (pass ``None`` for silence). Returns the running system; a second call while one runs returns that one, with any
    user it lacks added (nvflare 2.9), unless it names another workspace (a one-line error: one system per kernel).
    """
    global _current
    whole_number("n_clients", n_clients, 1, 16)
    seconds("timeout", timeout)
    wanted = check_users(users)
    say = progress or (lambda msg: None)
    with _lock:
        if _current is not None and _current.running():
            if workspace is not None and Path(workspace).resolve() != _current.workspace:
                raise FlareError(
                    f"an embedded FLARE system is already running in {_current.workspace}, not in {workspace}: "
                    "stop it first (fj.poc.stop() or %flare poc stop), or leave out the workspace to use it"
                )
            say("the embedded FLARE system is already running")
            system = _current
            for name, (role, org) in wanted.items():
                system.add_user(name, role, org)
        else:
            if workspace is None:
                root = default_root()
                _prune_stale(root)
                root.mkdir(parents=True, exist_ok=True)
                workspace = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root)
            fl_port, admin_port = free_ports(2)
            system = PocSystem(Path(workspace).resolve(), n_clients, fl_port, admin_port, wanted, secure=secure)
            system.bring_up(timeout, say)
            _current = system
            kit.use_embedded_kit(_running_kit)
    if connect:
        connect_session(system.kit, system.username, secure=system.secure)
    return system


def _running_kit() -> str | None:
    system = current()
    return system.kit if system is not None else None


def current() -> PocSystem | None:
    """The running embedded system of this kernel, or None."""
    s = _current
    return s if s is not None and s.running() else None


def stop() -> None:
    """Stop this kernel's embedded system (a no-op when none runs)."""
    s = _current
    if s is not None:
        s.stop()


#: ``fj.poc.status()``: the running embedded system (its repr shows ports, clients, processes), or None.
status = current


@on_exit
def _stop_at_exit() -> None:
    stop()
