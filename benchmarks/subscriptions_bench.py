"""Subscriptions benchmark: notifications per second with 1,000 active subscriptions while the
transaction ingest of rest_bench.py runs, and that ingest's slowdown against the same run without them.

Runs gunicorn (production settings, 2 sync workers, as `make serve`) on its own PostgreSQL database.
In one run: (1) the ingest alone (the yardstick); (2) 1,000 rest-hook subscriptions on the
new-lab-result topic, id-only, each filtered to one patient, all handshaken against four threaded
receivers on loopback; (3) the same ingest again, with every Observation a lab result of a
subscribed patient, counting notifications until the last event has arrived. Prints Markdown.

    .venv/bin/python benchmarks/subscriptions_bench.py      (SUBS_BENCH_DATABASE_URL to choose the database)
"""
from __future__ import annotations

import json
import os
import signal
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
rest_bench.ENV.update(SUBSCRIPTIONS_REQUIRE_HTTPS="false", SUBSCRIPTIONS_WEBSOCKET_PORT="0",
                      SUBSCRIPTIONS_TIMEOUT_SECONDS="10", SECRET_KEY="bench-" + uuid.uuid4().hex)


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


def main() -> None:
    receivers = Receivers()
    _reset_database()
    server = rest_bench.start_server(int(os.environ.get("BENCH_WORKERS", "2")))
    try:
        patients = rest_bench.seed_patients(SUBSCRIPTIONS)
        _analyze()
        alone = rest_bench.ingest(server, patients, BUNDLES)
        started = time.perf_counter()
        subscribe(receivers, SUBSCRIPTIONS)
        created = time.perf_counter() - started
        wait_until(lambda: receivers.handshakes >= SUBSCRIPTIONS, 600)
        handshaken = time.perf_counter() - started
        _analyze()
        before = receivers.delivered()
        ingest_started = time.perf_counter()
        loaded = rest_bench.ingest(server, patients, BUNDLES)
        expected = before + loaded["n"] + 400  # rest_bench.ingest's 4 warm-up Bundles are lab results too
        wait_until(lambda: receivers.delivered() >= expected, 600)
        span = (receivers.last_event_at or time.perf_counter()) - ingest_started
        # The write path and matching alone: the same ingest for patients no subscription filters on.
        _analyze()
        unmatched = rest_bench.ingest(server, [f"nobody-{i}" for i in range(SUBSCRIPTIONS)], BUNDLES)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        receivers.close()
    delivered = receivers.delivered() - before
    events = loaded["n"] + 400
    print(f"| measure | ingest alone (yardstick) | with {SUBSCRIPTIONS:,} subscriptions, every Observation "
          "notified | same subscriptions, no Observation matching |")
    print("|---|---|---|---|")
    rows = [("transaction ingest (resources/s)", "rate", "{:.0f}"), ("gunicorn CPU per resource (ms)", "server_ms",
            "{:.3f}"), ("PostgreSQL CPU per resource (ms)", "db_ms", "{:.3f}"), ("load average at start", "load", "{}")]
    for label, key, form in rows:
        print(f"| {label} | " + " | ".join(form.format(r[key]) for r in (alone, loaded, unmatched)) + " |")
    print(f"\ningest slowdown with subscriptions: {100 * (1 - loaded['rate'] / alone['rate']):.1f} % "
          f"(resources/s {alone['rate']:.0f} -> {loaded['rate']:.0f})")
    print(f"ingest slowdown, write path and matching only (no notification sent): "
          f"{100 * (1 - unmatched['rate'] / alone['rate']):.1f} %")
    print(f"notifications: {delivered:,} of {events:,} events delivered in {span:.1f} s from the first ingest "
          f"POST = {delivered / span:.0f} notifications/s; duplicates {receivers.duplicates()}, "
          f"subscriptions out of order {receivers.out_of_order()}")
    print(f"setup: {SUBSCRIPTIONS:,} subscriptions created in {created:.1f} s, all handshaken after {handshaken:.1f} s")


def _analyze() -> None:
    """Fresh planner statistics before each measured ingest, what autovacuum would have gathered by then:
    the benchmark database grows from nothing in minutes, and this machine's PostgreSQL runs with
    autovacuum off. Without it the planner takes the growing index tables for empty, and a
    subscription's search (a few ids and one patient) scans every laboratory Observation (340 ms
    instead of 1 ms)."""
    import psycopg2

    conn = psycopg2.connect(rest_bench.DB)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("ANALYZE")
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
