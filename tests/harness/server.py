"""The production server as `make serve` starts it (gunicorn, production settings, 2 workers), on the
test database, for tests that need real HTTP and more than one worker's worth of state.

The command is read from the Makefile's `serve` target, so the tests run what a deployment runs.
Tests that use it need `transactional_db`: the workers only see committed rows.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """The URL of the database Django's test runner set up (the workers must use the same one)."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user, host, port = settings_dict.get("USER") or "postgres", settings_dict.get("HOST") or "127.0.0.1", \
        settings_dict.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings_dict['NAME']}"


def serve_command(port: int, workers: int, timeout: int) -> tuple[dict, list[str]]:
    """The Makefile's `serve` recipe, with its variables filled in: (environment, argv)."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^serve:.*\n\t(.+)$", text, re.M).group(1)
    recipe = (recipe.replace("$(HOST)", "127.0.0.1").replace("$(PORT)", str(port))
              .replace("$${WORKERS:-2}", str(workers)).replace("$${TIMEOUT:-300}", str(timeout)))
    words = shlex.split(recipe)
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[0].startswith(".venv/"):
        words[0] = str(Path(sys.executable).parent / Path(words[0]).name)
    return env, words


class Server:
    def __init__(self, database: str, *, workers: int = 2, timeout: int = 300, env: dict | None = None):
        self.port = free_port()
        self.spool = tempfile.mkdtemp(prefix=f"audit-spool-{self.port}-")
        self.url = f"http://127.0.0.1:{self.port}"
        make_env, argv = serve_command(self.port, workers, timeout)
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("FHIR_", "PYTEST", "REDIS_URL"))}
        environment.update(make_env)
        environment.update({
            "DATABASE_URL": database,
            "SECRET_KEY": "harness-secret-key-not-for-production",
            "SECURE_SSL_REDIRECT": "false",
            "REQUEST_LOG_LEVEL": "WARNING",
            "INGESTION_WORKERS": "1",
            # Its own audit spool: its workers reclaim each other's records, never another run's.
            "FHIR_AUDIT_SPOOL_DIR": self.spool,
        })
        environment.update(env or {})
        self.log = open(ROOT / "var" / f"harness-server-{self.port}.log", "w")
        self.process = subprocess.Popen(argv, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200 and len(self.workers()) > 0:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log.name}")

    def workers(self) -> list[psutil.Process]:
        """gunicorn's worker processes (the reader processes they spawn are their children, not listed)."""
        try:
            return psutil.Process(self.process.pid).children(recursive=False)
        except psutil.NoSuchProcess:
            return []

    def wait_workers(self, count: int, timeout: float = 180) -> None:  # a loaded machine boots Django slowly
        deadline = time.monotonic() + timeout
        while len(self.workers()) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(self.workers()) >= count, "gunicorn did not bring its workers back"

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 60), **kwargs)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, timeout=kwargs.pop("timeout", 60), **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.spool, ignore_errors=True)

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")
