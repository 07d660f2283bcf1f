"""Whether the shared embedded system is whole, and making it whole again after a test that restarted, killed,
held or shut down part of it. ``conftest.system_restored`` runs ``restore`` after every integration test (a full
check after the tests marked ``disruptive``, a quick one after the others), so the next test never starts on a
half-restarted system, whatever the previous one did or how it failed.

Whole means: the server answers, every client is connected, ``list_sp`` names the server with real ports, every
participant's NVFlare process runs and no watchdog is held (stopped). Everything is polled with a deadline.
"""

from __future__ import annotations

import contextlib
import os

import psutil

import flare_jupyter as fj
from polling import wait_until_fixed

#: How long a restore may take: a restarted server (~10 s) and clients that reconnect to it (~10 s more), slowly.
RESTORE_SECONDS = 180


def _session(system):
    s = fj.current()
    if s is None or s.kit != system.kit:
        s = fj.connect(system.kit, timeout=5)
    return s


def _cmdline(p: psutil.Process) -> str:
    """A process's command line, '' once it has gone (processes vanish between listing and reading them)."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def participant_processes(system) -> dict[str, dict[str, list[psutil.Process]]]:
    """For each participant, its NVFlare processes ("flare") and its watchdog loops ("watchdog")."""
    found = {name: {"flare": [], "watchdog": []} for name in system.participants}
    folders = {str(system.prod_dir / name): name for name in system.participants}
    scripts = {f"{folder}/startup/sub_start.sh": name for folder, name in folders.items()}
    for p in system.processes():
        words = _cmdline(p).split()
        if len(words) >= 2 and words[1] in scripts and "--once" not in words:
            found[scripts[words[1]]]["watchdog"].append(p)
        elif any(w.endswith(("server_train", "client_train")) for w in words):
            for w in words:  # nvflare 2.5 names the workspace <folder>/startup/..
                name = folders.get(os.path.normpath(w))
                if name:
                    found[name]["flare"].append(p)
                    break
    return found


def quick_problems(system) -> list[str]:
    """What a test left broken that the next one would meet at once: the server not answering, a client gone."""
    try:
        clients = {c.name for c in _session(system).get_connected_client_list()}
    except Exception as e:
        return [f"server: {type(e).__name__}: {e}"]
    return [] if clients == set(system.clients) else [f"clients connected: {sorted(clients)}"]


def problems(system) -> list[str]:
    """Everything that keeps the system from being whole right now (empty when it is)."""
    found = quick_problems(system)
    if not found:
        try:
            sp = _session(system).get_active_sp()
            if not (str(sp.get("fl_port", "")).isdigit() and str(sp.get("admin_port", "")).isdigit()):
                found.append(f"get_active_sp without real ports: {sp}")
        except Exception as e:
            found.append(f"get_active_sp: {type(e).__name__}: {e}")
    for name, procs in participant_processes(system).items():
        if not procs["flare"]:
            found.append(f"no NVFlare process for {name}")
        if not procs["watchdog"]:
            found.append(f"no watchdog for {name}")
        for dog in procs["watchdog"]:
            with contextlib.suppress(psutil.Error):
                if dog.status() == psutil.STATUS_STOPPED:
                    found.append(f"the watchdog of {name} is held")
    return found


def restore(system, full: bool = True) -> float:
    """Make the system whole again (let held watchdogs go, start participants that were shut down) and poll until
    it is; returns the seconds it took. Fails, saying what is still wrong, after ``RESTORE_SECONDS``."""
    if not full and not quick_problems(system):
        return 0.0

    def still_wrong() -> list[str]:
        for name, procs in participant_processes(system).items():
            for dog in procs["watchdog"]:
                with contextlib.suppress(psutil.Error):
                    if dog.status() == psutil.STATUS_STOPPED:
                        dog.resume()
            if not procs["watchdog"] and not procs["flare"]:  # shut down: its watchdog ended too
                system.start_participant(name)
        return problems(system)

    return wait_until_fixed(still_wrong, "whole", RESTORE_SECONDS)
