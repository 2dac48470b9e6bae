"""$digitize benchmark: end-to-end seconds per page (sync and async; text PDF and phone photo) and
job-queue throughput with two workers (in-process pool, and Celery over Redis when it is reachable).

Runs gunicorn (production settings, one sync worker, INGESTION_WORKERS=2) on a PostgreSQL database of
its own and posts generated reports over HTTP, as a client would. Every post is a distinct report
(idempotency would otherwise answer from the first result). Prints a Markdown table.

    .venv/bin/python benchmarks/digitize_bench.py           # BENCH_PHOTOS=2 BENCH_PDFS=4 BENCH_QUEUE_JOBS=8
"""
from __future__ import annotations

import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.server import bench_env, start_gunicorn  # noqa: E402

PY = sys.executable
PORT = int(os.environ.get("BENCH_PORT", "8767"))
BASE = f"http://127.0.0.1:{PORT}"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "digitize_bench"
BROKER = "redis://127.0.0.1:6379/14"
PDFS = int(os.environ.get("BENCH_PDFS", "4"))
PHOTOS = int(os.environ.get("BENCH_PHOTOS", "2"))
QUEUE_JOBS = int(os.environ.get("BENCH_QUEUE_JOBS", "8"))
ENV = bench_env(f"{PG}/{DB_NAME}", INGESTION_WORKERS="2", CELERY_BROKER_URL="")


# --- documents -----------------------------------------------------------------------------------
_seed = iter(range(1000, 10**6))


def text_pdf(layout: str = "classic") -> tuple[bytes, str, int]:
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf

    chosen = LAYOUTS[layout]
    pdf = render_pdf(chosen.report(next(_seed)), chosen)
    return pdf, "application/pdf", chosen.pages


def photo(layout: str = "classic") -> tuple[bytes, str, int]:
    from evaluation.corpus.degrade import DEGRADATIONS
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_page_images

    chosen = LAYOUTS[layout]
    seed = next(_seed)
    page = render_page_images(chosen.report(seed), chosen, dpi=300)[0]
    data, media_type = DEGRADATIONS["phone-photo"](page, random.Random(seed))
    return data, media_type, 1


# --- server and client ---------------------------------------------------------------------------
def create_database() -> None:
    import psycopg2

    connection = psycopg2.connect(f"{PG}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS digitize_bench WITH (FORCE)")
        cursor.execute("CREATE DATABASE digitize_bench")
    connection.close()
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True)


def start_server(env: dict) -> subprocess.Popen:
    return start_gunicorn(PORT, env, "-w", "1", "--threads", "4", "--timeout", "600")


def post(data: bytes, media_type: str, *, asynchronous: bool) -> tuple[int, dict, dict]:
    headers = {"Content-Type": media_type, "Accept": "application/fhir+json"}
    if asynchronous:
        headers["Prefer"] = "respond-async"
    request = urllib.request.Request(
        f"{BASE}/fhir/DiagnosticReport/$digitize", data=data, method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def wait(status_url: str) -> tuple[int, dict]:
    delay = 0.1
    while True:
        try:
            with urllib.request.urlopen(status_url, timeout=60) as response:
                if response.status != 202:
                    return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def digitize(document: tuple[bytes, str, int], *, asynchronous: bool) -> float:
    """Seconds per page, from the first byte sent to the result Bundle received."""
    data, media_type, pages = document
    started = time.perf_counter()
    status, headers, body = post(data, media_type, asynchronous=asynchronous)
    if asynchronous and status == 202:
        status, body = wait(headers["Content-Location"])
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"$digitize answered {status}: {json.dumps(body)[:300]}")
    return elapsed / pages


def throughput(documents: list[tuple[bytes, str, int]]) -> tuple[float, float]:
    """All documents posted async at once; (pages per minute, seconds until the last one is done)."""
    started = time.perf_counter()
    urls = []
    for data, media_type, _ in documents:
        status, headers, body = post(data, media_type, asynchronous=True)
        assert status == 202, (status, body)
        urls.append(headers["Content-Location"])
    for url in urls:
        status, body = wait(url)
        assert status == 200, (status, body)
    elapsed = time.perf_counter() - started
    return sum(d[2] for d in documents) / elapsed * 60, elapsed


def redis_up() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 6379)) == 0


# --- main ----------------------------------------------------------------------------------------
def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
    django.setup()  # the corpus generator reads the terminology; nothing here touches the database
    create_database()
    rows = []
    server = start_server(ENV)
    try:
        digitize(text_pdf(), asynchronous=False)  # warm-up: reader processes spawned, OCR-free path loaded
        digitize(photo(), asynchronous=False)  # warm-up: OCR models loaded in a reader process
        for label, make, count in (
            ("text PDF, 1 page", text_pdf, PDFS),
            ("text PDF, 2 pages", lambda: text_pdf("multipage"), PDFS),
            ("phone photo (JPEG)", photo, PHOTOS),
        ):
            for asynchronous in (False, True):
                times = [digitize(make(), asynchronous=asynchronous) for _ in range(count)]
                rows.append((label, "async" if asynchronous else "sync", statistics.median(times), max(times), count))
        mix = [text_pdf() for _ in range(QUEUE_JOBS - QUEUE_JOBS // 4)] + [photo() for _ in range(QUEUE_JOBS // 4)]
        in_process = throughput(mix)
    finally:
        server.terminate()
        server.wait()
    celery = None
    if redis_up():
        celery = celery_throughput(
            [text_pdf() for _ in range(QUEUE_JOBS - QUEUE_JOBS // 4)] + [photo() for _ in range(QUEUE_JOBS // 4)]
        )
    print("| document | mode | s/page (median) | s/page (max) | runs |\n|---|---|---|---|---|")
    for label, mode, median, worst, count in rows:
        print(f"| {label} | {mode} | {median:.2f} | {worst:.2f} | {count} |")
    print(f"\nJob queue, {len(mix)} jobs ({QUEUE_JOBS // 4} photos) posted at once:\n")
    print("| backend | pages/min | seconds for the batch |\n|---|---|---|")
    print(f"| in-process pool, 2 reader processes | {in_process[0]:.1f} | {in_process[1]:.1f} |")
    if celery:
        print(f"| Celery, 2 worker processes, Redis broker | {celery[0]:.1f} | {celery[1]:.1f} |")


def celery_throughput(documents) -> tuple[float, float]:
    env = dict(ENV, CELERY_BROKER_URL=BROKER)
    worker = subprocess.Popen([str(ROOT / ".venv/bin/celery"), "-A", "fhirserver.jobs.celery_app", "worker",
                               "-c", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                              cwd=ROOT, env=env)
    server = start_server(env)
    try:
        digitize(photo(), asynchronous=True)  # warm-up: both worker processes may load OCR models
        digitize(photo(), asynchronous=True)
        return throughput(documents)
    finally:
        server.terminate()
        worker.terminate()
        server.wait()
        worker.wait()


if __name__ == "__main__":
    main()
