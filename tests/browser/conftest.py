"""A real JupyterLab server and a real Chromium (Debian's, driven by Playwright), both always stopped.

JupyterLab runs on a free port with a random token, with its home, configuration, runtime files and cache in
pytest's temporary folder: the kernels it starts (and the embedded FLARE system a notebook starts, which lives
under ``$XDG_CACHE_HOME``) have that folder in their command lines, so the session-finish hook of
``tests/conftest.py`` sees anything left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from flare_jupyter.poc import processes_under
from polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
#: Debian's Chromium, headless, with nothing that reaches out to the network by itself (never Playwright's own).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: JupyterLab plugins that only add noise to a test run (the "get Jupyter news?" toast).
DISABLED_LAB_PLUGINS = ["@jupyterlab/apputils-extension:announcements"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path  # what the lab serves: holds the notebooks under test
    home: Path  # HOME, config, runtime files and cache of the server and its kernels
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cache(self) -> Path:
        """The kernels' ``XDG_CACHE_HOME``: the embedded FLARE system of a notebook lives under it."""
        return self.home / ".cache"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def api(self, method: str, path: str, timeout: float = 10):
        """A call of the Jupyter server's REST API (``/api/...``): the decoded JSON answer, or None."""
        req = urllib.request.Request(
            self.base_url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return bool(self.api("GET", "/api/status", timeout=2))
        except (OSError, urllib.error.URLError):
            return False

    def kernel_of(self, notebook: str) -> str | None:
        """The id of the kernel of the session that has ``notebook`` open, or None."""
        for s in self.api("GET", "/api/sessions") or []:
            if s.get("path") == notebook and s.get("kernel"):
                return s["kernel"]["id"]
        return None

    def kernel_state(self, kernel_id: str) -> str:
        """The server's view of a kernel: ``idle``, ``busy``, ``starting`` ... (``gone`` once deleted)."""
        try:
            return self.api("GET", f"/api/kernels/{kernel_id}", timeout=5).get("execution_state", "")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return "gone"
            raise

    def shutdown_kernels(self) -> None:
        for k in self.api("GET", "/api/kernels") or []:
            try:
                self.api("DELETE", f"/api/kernels/{k['id']}", timeout=30)
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise

    def flare_processes(self) -> list[psutil.Process]:
        """Processes of the notebooks' embedded FLARE systems (they live under the kernels' cache folder)."""
        return processes_under(self.cache)

    def kernel_died(self) -> str | None:
        """The server log's line saying it restarted a kernel that died, or None."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return None
        return next((line for line in text.splitlines() if "KernelRestarter: restarting kernel" in line), None)

    def wait_executed(self, cell, prompt, timeout: float) -> None:
        """Wait until ``cell``'s input prompt matches ``prompt`` (it ran); fail at once, saying so and with the
        server's log, when a kernel died meanwhile (JupyterLab restarts it and the cell would never run)."""

        def ran() -> bool:
            died = self.kernel_died()
            if died:
                raise AssertionError(f"a kernel died while a cell ran ({died.strip()}):\n{self.log_tail()}")
            return bool(prompt.search(cell.locator(".jp-InputPrompt").inner_text().strip()))

        try:
            wait_for(ran, timeout=timeout, interval=0.5)
        except AssertionError as e:
            if "condition not met" not in str(e):
                raise
            prompt_now = cell.locator(".jp-InputPrompt").inner_text().strip()
            raise AssertionError(f"the cell did not run within {timeout:g} s (prompt {prompt_now!r})") from None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _lab_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "FLARE_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab" / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab" / "workspaces"),
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop_process_group(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a fresh copy of the notebooks, in a home of its own under ``tmp_path``; always stopped,
    and nothing it started (kernels, FLARE processes) may outlive it."""
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    for nb in (ROOT / "notebooks").glob("[0-9]*.ipynb"):
        shutil.copy(nb, root / nb.name)
    labconfig = home / ".jupyter" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in DISABLED_LAB_PLUGINS}})
    )
    # every cell in the page: JupyterLab 4's default windowing ("contentVisibility") skips rendering the cells out of
    # view, whose prompts then read as empty (a test counting prompts saw execution counts come and go as it scrolled)
    tracker = home / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    port, token = free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI and these machines run as root
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, cwd=root, env=_lab_env(home), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Lab(process=process, port=port, token=token, root=root, home=home, log=log)
    try:
        wait_for(server.ready, timeout=90)
        yield server
    finally:
        try:
            if process.poll() is None:
                server.shutdown_kernels()
        except Exception as e:  # the server is stopped below anyway
            print(f"could not shut the kernels down through the REST API: {e}")
        _stop_process_group(process)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / "jupyterlab.log")
        try:
            wait_for(lambda: not processes_under(tmp_path), timeout=30)
        except AssertionError:
            left = []
            for p in processes_under(tmp_path):
                try:
                    left.append((p.pid, " ".join(p.cmdline())[:200]))
                    p.kill()
                except psutil.Error:
                    pass
            raise AssertionError(f"processes left after JupyterLab stopped (now killed): {left}") from None


@pytest.fixture
def artifacts() -> Path:
    """Where a test keeps what CI should show (screenshots, logs): tests/browser/artifacts/, never committed."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser():
    """Debian's Chromium through Playwright's sync API (no browser download); always closed."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise AssertionError(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
