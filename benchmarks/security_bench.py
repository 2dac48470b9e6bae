"""What SMART authorisation costs a read: in-process, so network noise does not drown microseconds.

Times the same `GET /fhir/Patient/<id>` through Django's full stack (middleware, view, core) with
security off (trusted), with a system token and with a patient-confined token, interleaved, and
the pieces on their own: token -> Access (cached), the scope + compartment check, one audit record
spooled, and the drainer's batch INSERT per record. The CPU column counts every thread of this
process, the audit drainer's included. The ratios at the end are against the trusted read of the
same run (issue 17: a system token with its audit record <= 1.15x).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/security_bench.py

Then the same read over HTTP: two gunicorns (production settings, 2 sync workers each) on one
PostgreSQL database of their own (SECURITY_BENCH_DATABASE_URL), one with security off, one with a
system token and its audit records, driven in turn by wrk; throughput and CPU per request (workers +
PostgreSQL backends, from /proc) of each, and the check that every audited request has its record.
With "ingest" in BENCH_PARTS (the default) both servers also take transaction Bundles (issue 17
item 4). BENCH_PARTS=inprocess, =http or =http,ingest runs a part.
"""
from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
os.environ["REQUEST_LOG_LEVEL"] = "WARNING"

import django  # noqa: E402
import psycopg2  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks.rest_bench import cpu_seconds, observation_bundle  # noqa: E402
from benchmarks.server import bench_env, ensure_database, start_gunicorn  # noqa: E402

PARTS = os.environ.get("BENCH_PARTS", "inprocess,http,ingest").split(",")
ROUNDS, PER_ROUND = 25, 200  # short interleaved rounds: each ratio is taken within one round


def per_call_us(fn, n: int = 20000) -> float:
    best = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - started) / n * 1e6)
    return min(best)


def main() -> None:
    call_command("migrate", "--noinput", "-v0")
    from fhirserver.core.request import FhirRequest
    from fhirserver.security import audit, authenticator, services, spool, tokens
    from fhirserver.security.models import AuditRecord
    from fhirserver.storage import repository

    patient = repository.update(
        "Patient", "bench-sec-1", {"resourceType": "Patient", "id": "bench-sec-1", "name": [{"family": "Bench"}]}
    )[0].content
    observation = repository.update("Observation", "bench-sec-obs", {
        "resourceType": "Observation", "id": "bench-sec-obs", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "Patient/bench-sec-1"}})[0].content
    system_client = services.client_create(name="bench system", scopes="system/*.rs")
    patient_client = services.client_create(name="bench patient", scopes="patient/*.rs")
    system_token = services.token_issue(client_id=system_client["client_id"], scopes="system/*.rs")
    patient_token = services.token_issue(
        client_id=patient_client["client_id"], scopes="patient/*.rs", patient="bench-sec-1"
    )
    settings.FHIR["RATE_LIMITS"] = {
        "API_PER_CLIENT": "100000000/60",
        "API_PER_IP": "100000000/60",
        "TOKEN_PER_CLIENT": "0",
        "TOKEN_PER_IP": "0",
    }
    client = Client()
    path = "/fhir/Patient/bench-sec-1"
    variants = {  # name: (headers, security on, audit on)
        "security off (trusted, no audit)": ({}, False, False),
        "system token, audit skipped": ({"HTTP_AUTHORIZATION": f"Bearer {system_token}"}, True, False),
        "patient-confined token, audit skipped": ({"HTTP_AUTHORIZATION": f"Bearer {patient_token}"}, True, False),
        "system token": ({"HTTP_AUTHORIZATION": f"Bearer {system_token}"}, True, True),
        "patient-confined token": ({"HTTP_AUTHORIZATION": f"Bearer {patient_token}"}, True, True),
    }
    record = audit.record
    samples: dict[str, list[float]] = {name: [] for name in variants}
    cpu_samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, (headers, required, audited) in variants.items():
            settings.FHIR["AUTH_REQUIRED"] = required
            audit.record = (
                record if audited else (lambda *args: None)
            )  # measurement only: isolates the audit row's cost
            for _ in range(20):
                client.get(path, **headers)
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(PER_ROUND):
                response = client.get(path, **headers)
            samples[name].append((time.perf_counter() - started) / PER_ROUND * 1000)
            cpu_samples[name].append((time.process_time() - cpu) / PER_ROUND * 1000)
            assert response.status_code == 200, response.content
    audit.record = record
    base = statistics.median(samples["security off (trusted, no audit)"])
    cpu_base = statistics.median(cpu_samples["security off (trusted, no audit)"])

    fake = type("R", (), {"META": {"HTTP_AUTHORIZATION": f"Bearer {patient_token}", "REMOTE_ADDR": "127.0.0.1"}})()
    fhir_request = FhirRequest(
        method="GET", base_url="http://x/fhir", resource_type="Patient", id="bench-sec-1", kind="instance"
    )
    access = tokens.lookup(patient_token).access

    class Django:  # what the audit middleware hands `record`
        META = {"REMOTE_ADDR": "127.0.0.1"}
        method = "GET"
        request_id = "bench"
        fhir_access = access

        def get_full_path(self):
            return path

    pieces = {
        "token -> Access (cached) + rate limit": per_call_us(lambda: authenticator.authenticate(fake, fhir_request)),
        "scope + compartment check on the read resource (Patient)": per_call_us(
            lambda: access.check("read", "Patient", patient)
        ),
        "scope + compartment check (Observation, by subject)": per_call_us(
            lambda: access.check("read", "Observation", observation)
        ),
        "token lookup uncached (one query)": per_call_us(
            lambda: (tokens.forget_all(), tokens.lookup(patient_token)), n=500
        ),
        "audit record spooled (one line appended; the drainer runs meanwhile)": per_call_us(
            lambda: audit.record(Django(), fhir_request, 200), n=5000
        ),
        "audit record stored by the drainer (a batch of 500, per record)": _stored_per_record(audit, spool, Django(),
                                                                                             fhir_request),
    }
    spool.this_process().drain()
    AuditRecord.objects.filter(request_id="bench").delete()
    print(f"Django full stack, in-process, `GET {path}`, median of {ROUNDS} rounds x {PER_ROUND} requests, "
          f"database {django.db.connection.vendor}:\n")
    print("| variant | wall ms/request | overhead (wall) | CPU ms/request (this process) | overhead (CPU) |")
    print("|---|---|---|---|---|")
    for name, values in samples.items():
        median, cpu = statistics.median(values), statistics.median(cpu_samples[name])
        trusted = name.startswith("security off")
        print(
            f"| {name} | {median:.3f} | {'' if trusted else f'+{median - base:.3f} ms'} | {cpu:.3f} | "
            f"{'' if trusted else f'+{cpu - cpu_base:.3f} ms'} |"
        )
    print("\n| piece | µs/call |")
    print("|---|---|")
    for name, value in pieces.items():
        print(f"| {name} | {value:.1f} |")
    spool.this_process().drain()
    AuditRecord.objects.filter(path=path).delete()
    trusted = "security off (trusted, no audit)"
    print("\n| ratio to the trusted read of the same round (median of rounds) | wall | CPU |")
    print("|---|---|---|")
    for name in variants:
        if name != trusted:
            wall = statistics.median(v / t for v, t in zip(samples[name], samples[trusted]))
            cpu = statistics.median(v / t for v, t in zip(cpu_samples[name], cpu_samples[trusted]))
            print(f"| {name} | {wall:.2f}x | {cpu:.2f}x |")
    print(f"\nLoad average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")


def _stored_per_record(audit, spool, django_request, fhir_request) -> float:
    """The drainer's share of one record: 500 spooled lines stored in one transaction, best of 5."""
    row = audit.audit_row(django_request, fhir_request, 200)
    best = []
    for round_ in range(5):
        lines = [spool.dumps({**row, "key": f"{time.time_ns():016x}{i:016x}"}) for i in range(500)]
        started = time.perf_counter()
        spool.store(lines)
        best.append((time.perf_counter() - started) / len(lines) * 1e6)
    return min(best)


# --- over HTTP: gunicorn on PostgreSQL, security off against a token with its audit -------------------
HTTP_DB = os.environ.get("SECURITY_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/security_bench")
HTTP_PORT = int(os.environ.get("BENCH_PORT", "8775"))
HTTP_ROUNDS, HTTP_SECONDS, CONNECTIONS = 3, int(os.environ.get("BENCH_SECONDS", "10")), 8
SETUP = """
import django, json; django.setup()
from fhirserver.security import services
from fhirserver.security.models import AuditRecord
from fhirserver.storage import repository
for i in range(200):
    repository.update("Patient", f"sec-{i}", {"resourceType": "Patient", "id": f"sec-{i}", "name": [{"family": "B"}]})
reader = services.client_create(name="security bench reader", scopes="system/*.rs")
writer = services.client_create(name="security bench writer", scopes="system/*.cruds")
print(json.dumps({"token": services.token_issue(client_id=reader["client_id"], scopes="system/*.rs", expires_in=7200),
                  "writer": services.token_issue(client_id=writer["client_id"], scopes="system/*.cruds",
                                                 expires_in=7200),
                  "audit": AuditRecord.objects.count()}))
"""
COUNT = ("import django; django.setup(); from fhirserver.security.models import AuditRecord as A; "
         "print(A.objects.count())")


def _workers(server: subprocess.Popen) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _backends() -> list[int]:
    with psycopg2.connect(HTTP_DB) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return [row[0] for row in cursor.fetchall()]


def _wrk(port: int, token: str | None, seconds: int) -> dict:
    header = f", ['Authorization']='Bearer {token}'" if token else ""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write("counter = 0\nrequest = function()\n counter = counter + 1\n"
                 f" return wrk.format('GET', '/fhir/Patient/sec-' .. (counter % 200), "
                 f"{{['Accept']='application/fhir+json'{header}}})\nend\n")
    script.close()
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", script.name, f"http://127.0.0.1:{port}"],
                         check=True, capture_output=True, text=True).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "errors": int(errors.group(1)) if errors else 0}


BUNDLES = 16


def _ingest(port: int, token: str | None) -> dict:
    """Transaction Bundles of 100 Observations from two client threads (as rest_bench.py), after 2 to warm up."""
    headers = {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def post(bundle: dict) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/fhir", data=json.dumps(bundle).encode(),
                                         method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()

    bundles = [observation_bundle(f"Patient/sec-{i % 200}", 100) for i in range(BUNDLES + 2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(post, bundles[:2]))
        load, started = os.getloadavg()[0], time.perf_counter()
        list(pool.map(post, bundles[2:]))
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "rate": 100 * BUNDLES / elapsed, "load": load}


def http_comparison() -> None:
    ensure_database(HTTP_DB)
    spool_dir = tempfile.mkdtemp(prefix="security-bench-spool-")
    limits = {"FHIR_RATE_API_PER_CLIENT": "1000000000/60", "FHIR_RATE_API_PER_IP": "1000000000/60"}
    # Rate limits out of the way on both (the per-IP one applies with security off too): wrk is one client.
    envs = {"security off": bench_env(HTTP_DB, FHIR_AUDIT_SPOOL_DIR=spool_dir, **limits),
            "system token + audit": bench_env(HTTP_DB, FHIR_AUTH_REQUIRED="true", FHIR_AUDIT_SPOOL_DIR=spool_dir,
                                              **limits)}
    python = str(ROOT / ".venv/bin/python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=envs["security off"], check=True)
    setup = json.loads(subprocess.run([python, "-c", SETUP], cwd=ROOT, env=envs["security off"], check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
    servers = {name: start_gunicorn(HTTP_PORT + i, env, "-w", "2", "--worker-class", "sync")
               for i, (name, env) in enumerate(envs.items())}
    ports = {name: HTTP_PORT + i for i, name in enumerate(envs)}
    tokens_of = {"security off": None, "system token + audit": setup["token"]}
    runs: dict[str, list[dict]] = {name: [] for name in envs}
    audited = 0
    try:
        for name in envs:  # warm both (imports, connections, the token cache)
            audited += _wrk(ports[name], tokens_of[name], 2)["requests"] if tokens_of[name] else 0
        for _ in range(HTTP_ROUNDS):
            for name in envs:
                pids = _workers(servers[name]) + _backends()
                cpu, load = cpu_seconds(pids), os.getloadavg()[0]
                result = _wrk(ports[name], tokens_of[name], HTTP_SECONDS)
                result["cpu_ms"] = 1000 * (cpu_seconds(pids) - cpu) / max(1, result["requests"])
                result["load"] = load
                runs[name].append(result)
                if tokens_of[name]:
                    audited += result["requests"]
        ingest: dict[str, dict] = {}
        for _ in range(2 if "ingest" in PARTS else 0):
            for name in envs:
                result = _ingest(ports[name], setup["writer"] if tokens_of[name] else None)
                if name not in ingest or result["rate"] > ingest[name]["rate"]:
                    ingest[name] = result
        audited += 2 * (2 + BUNDLES) if ingest else 0
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
        for server in servers.values():
            server.wait(timeout=60)
    stored = int(subprocess.run([python, "-c", COUNT], cwd=ROOT, env=envs["security off"], check=True,
                                capture_output=True, text=True).stdout.strip()) - setup["audit"]
    print(f"\ngunicorn, production settings, 2 sync workers per server, PostgreSQL; wrk -t1 -c{CONNECTIONS}, "
          f"{HTTP_ROUNDS} rounds x {HTTP_SECONDS} s per server, in turn; `GET /fhir/Patient/<one of 200>`:\n")
    print("| server | req/s per round | median req/s | CPU ms/request (workers + PostgreSQL) | non-2xx | load |")
    print("|---|---|---|---|---|---|")
    for name, results in runs.items():
        rates = ", ".join(f"{r['rps']:.0f}" for r in results)
        loads = ", ".join(f"{r['load']:.1f}" for r in results)
        print(f"| {name} | {rates} | {statistics.median(r['rps'] for r in results):.0f} | "
              f"{statistics.median(r['cpu_ms'] for r in results):.3f} | {sum(r['errors'] for r in results)} | "
              f"{loads} |")
    off, on = runs["security off"], runs["system token + audit"]
    paired = statistics.median(b["rps"] / a["rps"] for a, b in zip(off, on))
    cpu_ratio = statistics.median(b["cpu_ms"] / a["cpu_ms"] for a, b in zip(off, on))
    print(f"\nthroughput token + audit / security off (median of rounds, each against the run just before it): "
          f"**{paired:.2f}x**; CPU per request: {cpu_ratio:.2f}x")
    for name, result in ingest.items():
        print(f"transaction ingest, {name}, best round: {BUNDLES} Bundles x 100 Observations from 2 clients in "
              f"{result['elapsed']:.1f} s = {result['rate']:.0f} resources/s (load {result['load']:.1f})")
    if ingest:
        ratio = ingest["system token + audit"]["rate"] / ingest["security off"]["rate"]
        print(f"ingest token + audit / security off (best of 2 rounds each, in turn): {ratio:.2f}x")
    print(f"audit records stored for the audited server: {stored} for {audited} requests wrk counted as answered "
          f"(a request still in flight when wrk stops is answered and audited, but not counted by wrk)")


if __name__ == "__main__":
    if "inprocess" in PARTS:
        main()
    if "http" in PARTS:
        http_comparison()
