"""Every NVFlare release difference that ``compat`` handles, checked against the real embedded system of whichever
release is installed (the main suite runs nvflare 2.9; ``scripts/test-nvflare25.sh`` runs this folder on 2.5.2).

Each test states what NVFlare itself answers on the installed release, then what the user gets from us, which is
the same on every release wherever the difference is not NVFlare's own documented answer.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import threading
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from live_jobs import CLIENTS, one_line, wait_finished

import flare_jupyter as fj
from flare_jupyter import compat
from polling import wait_for

#: What ``get_active_sp`` answers (NVFlare 2.5 natively; our single-server answer on 2.7+).
ACTIVE_SP_KEYS = {"name", "fl_port", "admin_port", "service_session_id", "primary", "props"}


@pytest.fixture
def s(live):
    return live


# -- service providers ----------------------------------------------------------------------------------------------
def test_list_sp_and_get_active_sp_answer_in_nvflare_shape(s, flare, poc_system):
    fl, admin = str(poc_system.fl_port), str(poc_system.admin_port)
    sps = s.list_sp()
    assert isinstance(sps, dict) and set(sps) == {"primary_sp", "sp_list", "system"}
    assert sps["system"] == "ready" and len(sps["sp_list"]) == 1
    sp = sps["sp_list"][0]
    assert sps["primary_sp"] == sp
    assert (sp["name"], sp["fl_port"], sp["admin_port"], sp["primary"]) == ("localhost", fl, admin, True)

    active = s.get_active_sp()
    assert set(active) == ACTIVE_SP_KEYS
    where = (active["name"], active["fl_port"], active["admin_port"], active["primary"])
    assert where == ("localhost", fl, admin, True)
    if compat.HAS_SERVICE_PROVIDERS:
        # NVFlare's own: it sends list_sp's dict as text (compat returns the dict), names each provider by its
        # end point (compat adds name/fl_port/admin_port), and the active SP comes in get_active_sp's own shape
        assert isinstance(s._raw.list_sp(), str)
        assert sp["sp_end_point"] == f"localhost:{fl}:{admin}" and sp["state"] == "online"
        assert sp["service_session_id"] == active["service_session_id"] != ""
    else:
        # ours for the single server, in get_active_sp's shape everywhere
        assert not hasattr(compat.RawSession, "list_sp")
        assert active == sp

    df = flare("list_sp")
    assert len(df) == 1
    assert (df["fl_port"].iloc[0], df["admin_port"].iloc[0]) == (poc_system.fl_port, poc_system.admin_port)
    assert bool(df["primary"].iloc[0]) is True
    assert flare("get_active_sp") == active


def test_promote_sp_is_one_clear_line_on_every_release(s, flare, poc_system):
    end_point = f"localhost:{poc_system.fl_port}:{poc_system.admin_port}"
    if compat.HAS_SERVICE_PROVIDERS:
        # what NVFlare's POC (a dummy overseer agent) itself answers: an internal error
        with pytest.raises(compat.InternalError, match="not supported by the dummy agent"):
            s._raw.promote_sp(end_point)
    with pytest.raises(compat.NotSupported) as e:
        s.promote_sp(end_point)
    line = one_line(e.value)
    assert line.startswith("NotSupported: ") and "InternalError" not in line
    assert "without an HA overseer" in line and "nothing to promote" in line
    assert str(compat.NVFLARE_VERSION) in line
    with pytest.raises(UsageError, match="without an HA overseer.*nothing to promote"):
        flare(f"promote_sp {end_point}")
    assert {c.name for c in s.get_connected_client_list()} == CLIENTS  # nothing happened to the system


# -- answers NVFlare's releases give differently, passed through -----------------------------------------------------
def test_abort_job_and_delete_job_answer_what_the_release_answers(s, finished_job):
    clone = s.clone_job(finished_job)
    try:
        # nvflare 2.5 can miss an abort sent while it schedules the job: abort it once it runs
        wait_for(lambda: s.get_job_meta(clone)["status"] == "RUNNING", timeout=60)
        aborted = s.abort_job(clone)
    finally:
        assert wait_finished(s, clone, aborted=True) == "FINISHED:ABORTED"
    deleted = s.delete_job(clone)
    if compat.ABORT_JOB_RETURNS_NONE:
        assert aborted is None
    else:
        assert isinstance(aborted, str) and "bort" in aborted
    if compat.DELETE_JOB_RETURNS_NONE:
        assert deleted is None
    else:
        assert isinstance(deleted, dict) and deleted["job_id"] == clone
    assert clone not in [j["job_id"] for j in s.list_jobs()]


def test_download_job_result_takes_a_destination_on_every_release(s, finished_job, tmp_path):
    moved = Path(s.download_job_result(finished_job, str(tmp_path / "here")))
    assert moved.parent == tmp_path / "here" and moved.name.startswith(finished_job)
    assert (moved / "workspace" / "log.txt").is_file()


# -- job logs ------------------------------------------------------------------------------------------------------
def test_the_log_of_a_finished_job_with_or_without_get_job_logs(s, flare, finished_job, poc_system):
    # the job's folder leaves the server's workspace when the job ends, on every release
    gone = s.cat_target("server", file=f"{finished_job}/log.txt")
    assert gone.startswith("cat: ") and "No such file or directory" in gone
    transfer = Path(poc_system.kit) / "transfer"
    before = sorted(p.name for p in transfer.iterdir()) if transfer.is_dir() else []

    text = s.job_log(finished_job)
    assert "Round 0 started" in text and "Round 2 started" in text and "validation metric" in text
    if compat.HAS_JOB_LOGS:
        assert text == s.get_job_logs(finished_job, target="server")["logs"]["server"]
    else:
        # read from the job's result, downloaded into a temporary folder once: the kit's folder is left alone
        assert not hasattr(compat.RawSession, "get_job_logs")
        assert sorted(p.name for p in transfer.iterdir()) == before
        calls = []
        raw = s._raw
        original = raw.download_job_result
        raw.download_job_result = lambda *a, **k: calls.append(a) or original(*a, **k)
        try:
            assert s.job_log(finished_job) == text
        finally:
            del raw.download_job_result
        assert calls == []
        # the clients keep their job folders: their logs can be read too
        assert "Worker_process started" in s.job_log(finished_job, "site-1")
    shown = flare(f"logs {finished_job}")
    assert "Round 2 started" in shown and shown.title == f"log of job {finished_job} on server"


# -- a dropped connection -----------------------------------------------------------------------------------------
class Relay:
    """A TCP relay on a free loopback port to ``port``, whose connections can be dropped at will: a network cut
    between the admin client and the server, with the server itself untouched."""

    def __init__(self, port: int):
        self.target = port
        self.port = fj.poc.free_ports(1)[0]
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def drop(self) -> None:
        """Refuse new connections and cut every open one."""
        with self._lock:
            socks, self._socks = self._socks, []
            listener, self._listener = self._listener, None
        for sock in [listener, *socks]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                upstream.settimeout(None)
            except OSError:
                return
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def kit_through(kit: str, dest: Path, port: int) -> str:
    """A copy of the admin kit that reaches the server's admin port through ``port`` (where each release's
    ``fed_admin.json`` names it: admin.port, or the overseer agent's sp_end_point before 2.7)."""
    shutil.copytree(kit, dest)
    config_file = dest / "startup" / "fed_admin.json"
    config = json.loads(config_file.read_text())
    agent = config["admin"].get("overseer_agent")
    if agent:
        host, fl_port, _ = agent["args"]["sp_end_point"].split(":")
        agent["args"]["sp_end_point"] = f"{host}:{fl_port}:{port}"
    else:
        config["admin"]["port"] = port
    config_file.write_text(json.dumps(config, indent=2))
    return str(dest)


def test_a_dropped_connection_raises_the_releases_error_and_the_session_reconnects(poc_system, tmp_path):
    relay = Relay(poc_system.admin_port)
    relay.start()
    try:
        s = fj.connect(kit_through(poc_system.kit, tmp_path / "kit", relay.port), timeout=20)
        assert {c.name for c in s.get_connected_client_list()} == CLIENTS

        relay.drop()
        raw = s._raw  # NVFlare's own session, underneath ours
        new_releases = issubclass(compat.NoConnection, ConnectionError)  # nvflare >= 2.8
        if not new_releases:  # what nvflare 2.5 itself raises for a refused connection
            with pytest.raises(compat.InternalError, match="Failed to communicate with Admin Server"):
                compat._api.Session._do_command(raw, "list_jobs")
        with pytest.raises(ConnectionError) as lost:
            raw.list_jobs()
        # NoConnection from 2.8 on; the builtin ConnectionError before (compat's RawSession for the case above)
        assert type(lost.value) is (compat.NoConnection if new_releases else ConnectionError)
        assert isinstance(lost.value, compat.SESSION_LOST_ERRORS)

        reconnects = s.reconnects
        relay.start()
        jobs = s.list_jobs()
        # nvflare 2.5 opens a connection per command, so its session works again as is; newer ones reconnect
        assert isinstance(jobs, list) and s.reconnects == reconnects + (1 if new_releases else 0)

        relay.drop()
        back = threading.Timer(1.0, relay.start)
        back.start()
        try:
            reconnects = s.reconnects
            assert [j["job_id"] for j in s.list_jobs()] == [j["job_id"] for j in jobs]  # transparently
            assert s.reconnects == reconnects + 1
        finally:
            back.join()
        assert fj.session() is s
    finally:
        relay.drop()
        fj.connect(poc_system.kit)
    wait_for(lambda: {c.name for c in fj.session().get_connected_client_list()} == CLIENTS, timeout=60)


def test_a_grep_pattern_never_reaches_a_shell_on_the_server(s, tmp_path):
    canary = tmp_path / "canary"
    pattern = f"$(touch {canary})"
    if compat.SERVER_COMMANDS_USE_A_SHELL:  # nvflare 2.5 would run it: refused before it is sent, in one line
        with pytest.raises(compat.InvalidArgumentError) as e:
            s.grep_target("server", pattern=pattern, file="log.txt")
        assert "holds shell syntax" in one_line(e.value)
    else:  # newer servers grep for it literally
        assert s.grep_target("server", pattern=pattern, file="log.txt") == ""
    assert not canary.exists()
    assert "New client" in s.grep_target("server", pattern="New client\\|Round ", file="log.txt")


# -- the admin client's TLS contexts ---------------------------------------------------------------------------------
def test_commands_reuse_one_tls_context_per_identity_where_nvflare_makes_one_per_command(s, poc_system):
    """Up to 2.6 NVFlare's admin client makes a TLS context for every command (30 ms of CPU each, the system's CA
    bundle read again); compat makes each once per kit and user. The commands still answer, through a context that
    checks the server's certificate against the kit's root CA as NVFlare's does."""
    s.list_jobs()  # this kit's context made, where contexts are made per command
    before = dict(compat._contexts)
    for _ in range(20):
        assert len(s.get_connected_client_list()) == len(poc_system.clients)
        s.list_jobs()
    assert compat._contexts == before  # twenty more commands, no new context
    if not compat.ADMIN_API_CONTEXT_PER_COMMAND:  # 2.7+: the cell network's own TLS, which compat leaves alone
        assert before == {}
        return
    ca = str(Path(poc_system.kit) / "startup" / "rootCA.pem")
    mine = [c for (steps, _), c in before.items() if ("load_verify_locations", (ca,), ()) in steps]
    assert len(mine) == 1, before
    assert mine[0].verify_mode == ssl.CERT_REQUIRED
    root = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    root.load_verify_locations(ca)
    assert root.get_ca_certs()[0] in mine[0].get_ca_certs()  # the project's root CA is what it trusts the server by
