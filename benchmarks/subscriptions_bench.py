"""Subscriptions benchmark: notifications per second with 1,000 active subscriptions while the
transaction ingest of rest_bench.py runs, and that ingest's slowdown against the same run without them.

Runs gunicorn (production settings, 2 sync workers, as `make serve`) on its own PostgreSQL database.
1,000 rest-hook subscriptions on the new-lab-result topic, id-only, each filtered to one patient, are
created and handshaken against four threaded receivers on loopback; then, in each of ROUNDS rounds
back to back (a shared machine's load changes by the minute): (1) the ingest with every subscription
`off` (the yardstick: no write leaves an event); (2) the same ingest with them active, every
Observation a lab result of a subscribed patient, counting notifications until the last event of the
round has arrived; (3) the same ingest for patients no subscription filters on (the write path and
matching, nothing to send). Prints Markdown: medians of the rounds, and every round's slowdown.

    .venv/bin/python benchmarks/subscriptions_bench.py      (SUBS_BENCH_DATABASE_URL to choose the database)
    SUBS_BENCH_CELERY=redis://127.0.0.1:6379/12 .venv/bin/python benchmarks/subscriptions_bench.py
        (matching and delivery on a Celery worker process at nice 10 instead of the web workers' threads;
        that Redis database is emptied first)
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("REST_BENCH_DATABASE_URL",
                      os.environ.get("SUBS_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/subs_bench"))
os.environ.setdefault("BENCH_PORT", "8766")
from benchmarks import rest_bench  # noqa: E402 - reads the two variables above

SUBSCRIPTIONS = int(os.environ.get("SUBS_BENCH_SUBSCRIPTIONS", "1000"))
BUNDLES = int(os.environ.get("SUBS_BENCH_BUNDLES", "40"))
IG = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
CELERY = os.environ.get("SUBS_BENCH_CELERY", "")
rest_bench.ENV.update(SUBSCRIPTIONS_REQUIRE_HTTPS="false", SUBSCRIPTIONS_WEBSOCKET_PORT="0",
                      SUBSCRIPTIONS_TIMEOUT_SECONDS="10", SECRET_KEY="bench-" + uuid.uuid4().hex)
if CELERY:
    rest_bench.ENV.update(CELERY_BROKER_URL=CELERY)


class Receivers:
    def __init__(self, count: int = 4):
        self.lock = threading.Lock()
        self.handshakes = 0
        self.events: dict[str, list[int]] = {}
        self.last_event_at = 0.0
        self.servers = []
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                params = body["entry"][0]["resource"]["parameter"]
                kind = next(p["valueCode"] for p in params if p["name"] == "type")
                sub = next(p["valueReference"]["reference"] for p in params if p["name"] == "subscription")
                numbers = [int(part["valueString"]) for p in params if p["name"] == "notification-event"
                           for part in p["part"] if part["name"] == "event-number"]
                with receivers.lock:
                    if kind == "handshake":
                        receivers.handshakes += 1
                    elif numbers:
                        receivers.events.setdefault(sub, []).extend(numbers)
                        receivers.last_event_at = time.perf_counter()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        for _ in range(count):
            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.servers[i % len(self.servers)].server_address[1]}/hook"

    def delivered(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.events.values())

    def duplicates(self) -> int:
        with self.lock:
            return sum(len(v) - len(set(v)) for v in self.events.values())

    def out_of_order(self) -> int:
        with self.lock:
            return sum(v != sorted(v) for v in self.events.values())

    def close(self):
        for server in self.servers:
            server.shutdown()


def subscribe(receivers: Receivers, n: int) -> None:
    for i in range(n):
        rest_bench.post("/fhir/Subscription", {
            "resourceType": "Subscription", "status": "requested", "reason": "benchmark",
            "criteria": "http://fhirserver.example.org/fhir/SubscriptionTopic/new-lab-result",
            "_criteria": {"extension": [{"url": IG + "backport-filter-criteria",
                                         "valueString": f"Observation?patient=Patient/bench-{i}"}]},
            "channel": {"type": "rest-hook", "endpoint": receivers.url(i), "payload": "application/fhir+json",
                        "_payload": {"extension": [{"url": IG + "backport-payload-content", "valueCode": "id-only"}]}},
        })


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


ROUNDS = int(os.environ.get("SUBS_BENCH_ROUNDS", "3"))


def main() -> None:
    receivers = Receivers()
    _reset_database()
    server = rest_bench.start_server(int(os.environ.get("BENCH_WORKERS", "2")))
    worker = _start_celery_worker() if CELERY else None
    rounds = []
    try:
        patients = rest_bench.seed_patients(SUBSCRIPTIONS)
        _ingest(server, worker, patients)  # the first Bundles of an empty database: not measured
        started = time.perf_counter()
        subscribe(receivers, SUBSCRIPTIONS)
        created = time.perf_counter() - started
        wait_until(lambda: receivers.handshakes >= SUBSCRIPTIONS, 600)
        handshaken = time.perf_counter() - started
        # Rounds of the three ingests back to back, so a change in the shared machine's load falls on all three.
        for _ in range(ROUNDS):
            _analyze()
            _switch(on=False)
            alone = _ingest(server, worker, patients)
            _switch(on=True)
            before = receivers.delivered()
            ingest_started = time.perf_counter()
            loaded = _ingest(server, worker, patients)
            events = loaded["n"] + 400  # rest_bench.ingest's 4 warm-up Bundles are lab results too
            wait_until(lambda: receivers.delivered() >= before + events, 600)
            loaded["delivered"] = receivers.delivered() - before
            loaded["events"] = events
            loaded["span"] = (receivers.last_event_at or time.perf_counter()) - ingest_started
            # The write path and matching alone: the same ingest for patients no subscription filters on.
            unmatched = _ingest(server, worker, [f"nobody-{i}" for i in range(SUBSCRIPTIONS)])
            rounds.append((alone, loaded, unmatched))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        receivers.close()
    mode = (f"a Celery worker (`--concurrency {WORKER_PROCESSES}`, nice 10)" if CELERY
            else "the web workers' own threads (nice 10)")
    print(f"matching and delivery in {mode}; {ROUNDS} rounds, medians of the rounds\n")
    print(f"| measure | ingest, subscriptions off (yardstick) | with {SUBSCRIPTIONS:,} subscriptions, every "
          "Observation notified | same subscriptions, no Observation matching |")
    print("|---|---|---|---|")
    rows = [("transaction ingest (resources/s)", "rate", "{:.0f}"), ("gunicorn CPU per resource (ms)", "server_ms",
            "{:.3f}"), ("PostgreSQL CPU per resource (ms)", "db_ms", "{:.3f}")]
    if CELERY:
        rows.append(("Celery worker CPU per resource (ms)", "worker_ms", "{:.3f}"))
    for label, key, form in rows:
        print(f"| {label} | " + " | ".join(form.format(statistics.median(r[i][key] for r in rounds))
                                          for i in range(3)) + " |")
    print("| load average at start, per round | " + " | ".join(", ".join(r[i]["load"] for r in rounds)
                                                           for i in range(3)) + " |")
    for i, label in ((1, "every Observation notified"), (2, "write path and matching only, nothing notified")):
        slowdowns = [100 * (1 - r[i]["rate"] / r[0]["rate"]) for r in rounds]
        print(f"\ningest slowdown, {label}: median {statistics.median(slowdowns):.1f} % "
              f"(rounds: {', '.join(f'{x:.1f}' for x in slowdowns)} %)", end="")
    print()
    # CPU per resource of everything serving the ingest (web workers, their database backends, the Celery
    # worker): what a shared machine's changing load moves far less than the wall-clock rate.
    cpu = [statistics.median(r[i]["server_ms"] + r[i]["db_ms"] + r[i].get("worker_ms", 0) for r in rounds)
           for i in range(3)]
    print(f"CPU per resource, all the server's processes: {cpu[0]:.3f} ms -> {cpu[1]:.3f} ms notified "
          f"({100 * (cpu[1] / cpu[0] - 1):+.1f} %), {cpu[2]:.3f} ms nothing notified "
          f"({100 * (cpu[2] / cpu[0] - 1):+.1f} %)")
    delivered = sum(r[1]["delivered"] for r in rounds)
    events = sum(r[1]["events"] for r in rounds)
    span = sum(r[1]["span"] for r in rounds)
    print(f"notifications: {delivered:,} of {events:,} events delivered; {delivered / span:.0f} notifications/s "
          f"(each round from its first ingest POST to its last event: "
          f"{', '.join(format(r[1]['span'], '.1f') for r in rounds)} s); duplicates {receivers.duplicates()}, "
          f"subscriptions out of order {receivers.out_of_order()}")
    print(f"setup: {SUBSCRIPTIONS:,} subscriptions created in {created:.1f} s, all handshaken after {handshaken:.1f} s")


def _switch(*, on: bool) -> None:
    """The yardstick is the same server with no subscription listening: all of them set `off` in their
    state rows (and back to `active`), what the write path reads to decide whether a write leaves an
    event. Then a pause for every process's cache of the watched types (a second) to see it."""
    import psycopg2

    frm, to = ("off", "active") if on else ("active", "off")
    conn = psycopg2.connect(rest_bench.DB)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("UPDATE subscriptions_subscriptionstate SET status = %s, revision = revision + 1 "
                       "WHERE status = %s", [to, frm])
    conn.close()
    time.sleep(2)


WORKER_PROCESSES = int(os.environ.get("SUBS_BENCH_WORKER_PROCESSES", "2"))


def _start_celery_worker():
    """A Celery worker on the benchmark's settings and database, at nice 10 (as one would run it beside
    the web workers on the same machine), after emptying its Redis database."""
    import redis

    redis.Redis.from_url(CELERY).flushdb()
    worker = subprocess.Popen(["nice", "-n", "10", str(ROOT / ".venv/bin/celery"), "-A", "fhirserver.jobs.celery_app",
                               "worker", "--concurrency", str(WORKER_PROCESSES), "--pool", "prefork",
                               "--loglevel", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                              cwd=ROOT, env=rest_bench.ENV)
    time.sleep(8)  # its processes are up and listening before the first event
    return worker


def _ingest(server, worker, patients: list[str]) -> dict:
    """rest_bench's ingest, with the Celery worker's CPU per resource measured over the same interval."""
    if worker is None:
        return rest_bench.ingest(server, patients, BUNDLES)
    pids = rest_bench.server_pids(worker)
    before = rest_bench.cpu_seconds(pids)
    result = rest_bench.ingest(server, patients, BUNDLES)
    # Over the whole call, warm-up Bundles included, per measured resource: if anything, too high.
    result["worker_ms"] = 1000 * (rest_bench.cpu_seconds(pids) - before) / result["n"]
    return result


def _analyze() -> None:
    """What autovacuum would have done by then, before each measured ingest: this machine's PostgreSQL
    runs with autovacuum off. Without statistics the planner takes the growing index tables of the
    fresh database for empty, and a subscription's search (a few ids and one patient) scans every
    laboratory Observation (340 ms instead of 1 ms); without a vacuum the outbox, every row of which
    is deleted within a second, keeps each dead row it ever had."""
    import psycopg2

    conn = psycopg2.connect(rest_bench.DB)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    conn.close()


def _reset_database() -> None:
    """A fresh benchmark database each run: the counts above start from nothing."""
    import psycopg2

    url = rest_bench.DB
    name = url.rsplit("/", 1)[1]
    admin = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


if __name__ == "__main__":
    main()
