"""What every benchmark needs: its own PostgreSQL database and a gunicorn serving the project."""
from __future__ import annotations

import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a benchmark's server: production settings (benchmarks.settings adds only the
    yardstick route), its own database, a throwaway secret, plain HTTP, authorisation off, quiet logs."""
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        SECRET_KEY="bench-" + uuid.uuid4().hex,
        SECURE_SSL_REDIRECT="false",
        FHIR_AUTH_REQUIRED="false",
        REQUEST_LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    env.update(overrides)
    return env


def ensure_database(url: str) -> None:
    """Create the database named by `url` when it does not exist (never touches another one)."""
    import psycopg2

    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def start_gunicorn(port: int, env: dict, *options: str, attempts: int = 200, root: Path = ROOT) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:`port` with `options`, returned once /healthz answers; `root`: the checkout
    it serves (another one for an A/B run)."""
    server = subprocess.Popen([str(root / ".venv/bin/gunicorn"), "fhirserver.wsgi", "-b", f"127.0.0.1:{port}", *options,
                               "--log-level", "warning"], cwd=root, env=env)
    for _ in range(attempts):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start")
