"""The server exactly as a newcomer starts it: `make run` (or `make serve`) in a subprocess, with the real
settings module (DEBUG off, WhiteNoise serving what collectstatic gathered), on a database of its own.

Browser and first-run tests talk to it over real HTTP only, so they fail when a newcomer's page or the
README's lines would fail. The database is created fresh for the test session and dropped afterwards.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 900  # a fresh database is migrated and the demo data loaded first


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    token: str  # from the banner's `export TOKEN=...` line
    database_url: str
    banner: str
    process: subprocess.Popen
    log: Path

    @property
    def fhir(self) -> str:
        return f"{self.url}/fhir"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(test_database: dict, tmp: Path) -> str:
    """A database URL for the server: a new PostgreSQL database beside the test one, or an SQLite file."""
    if test_database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{tmp / 'newcomer.sqlite3'}"
    import psycopg2

    name = f"{test_database['NAME']}_newcomer"
    user, host, port = test_database.get("USER") or "postgres", test_database.get("HOST") or "127.0.0.1", \
        test_database.get("PORT") or 5432
    admin = psycopg2.connect(dbname="postgres", user=user, host=host, port=port,
                             password=test_database.get("PASSWORD") or None)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"postgres://{user}@{host}:{port}/{name}"


def drop_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg2

    base, name = url.rsplit("/", 1)
    admin = psycopg2.connect(base + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def newcomer_env(database_url: str, **extra: str) -> dict:
    """The environment of a newcomer's shell: none of pytest's settings, the server's own database."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DJANGO_SETTINGS_MODULE", "MAKEFLAGS", "MAKELEVEL", "MFLAGS") and not k.startswith("PYTEST")}
    env.update(DATABASE_URL=database_url, **extra)
    return env


def start(target: str, database_url: str, log: Path, *, port: int | None = None, wait_for_token: bool = True,
          **env: str) -> Server:
    """`make <target> PORT=...` in its own process group; returned once /healthz answers."""
    port = port or free_port()
    out = log.open("wb")
    process = subprocess.Popen(["make", "-s", target, f"PORT={port}"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                               env=newcomer_env(database_url, **env), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"make {target} stopped ({process.returncode}):\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"make {target} did not answer in {START_TIMEOUT} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
    banner = log.read_text(errors="replace")
    token = ""
    if wait_for_token:
        found = re.search(r"^\s*export TOKEN=(\S+)\s*$", banner, re.M)
        assert found, f"the banner prints no export TOKEN=... line:\n{banner}"
        token = found[1]
    return Server(url=url, token=token, database_url=database_url, banner=banner, process=process, log=log)


def stop(process: subprocess.Popen) -> None:
    """The whole process group: make, the server and its reader processes."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
    try:  # reader processes left behind by a server that died first
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
