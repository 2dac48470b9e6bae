"""REST core benchmark: read-by-id throughput and latency vs a bare Django view, and transaction ingest.

Runs gunicorn (production settings) on PostgreSQL and drives it from separate processes (wrk for
reads, a Python client for transaction Bundles). Prints a Markdown table for docs/benchmarks.md.

    .venv/bin/python benchmarks/rest_bench.py   (REST_BENCH_DATABASE_URL to choose the database)
    BENCH_PARTS=ingest .venv/bin/python benchmarks/rest_bench.py   (transaction ingest only)
    BENCH_PARTS=ingest,secure-ingest ...   (and the same ingest with a system token and its audit rows, issue 17:
        a second server with authorisation on, the security-off ingest of the same run its yardstick)
    BENCH_NICE=-10 nice -n -10 .venv/bin/python benchmarks/rest_bench.py   (a busy shared machine, as root:
        the server, the client and the benchmark's PostgreSQL backends ahead of other work)

Besides wall-clock rates it reports the CPU the ingest cost per resource in the gunicorn workers and
in this database's PostgreSQL backends (from /proc): on a shared machine that figure stays put when
the wall-clock rate does not.
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
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.server import bench_env, ensure_database, start_gunicorn  # noqa: E402

PY = sys.executable
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"
# Its own database, created when missing, so a benchmark never touches the test database or yours.
DB = os.environ.get("REST_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rest_bench")
ENV = bench_env(DB)


# Authorisation on: tokens checked on every request, every Bundle audited; rate limits out of the way.
SECURE_ENV = {**ENV, "FHIR_AUTH_REQUIRED": "true", "FHIR_RATE_API_PER_CLIENT": "0", "FHIR_RATE_API_PER_IP": "0"}
_headers: dict[str, str] = {}  # the bearer token while the secured server runs


def start_server(workers: int, env: dict = ENV) -> subprocess.Popen:
    ensure_database(DB)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    return start_gunicorn(PORT, env, "-w", str(workers), "--worker-class", "sync")


def system_token() -> str:
    """A backend-services client and its token (system/*.cruds), minted in the benchmark database."""
    code = ("import django;django.setup();from fhirserver.security import services as s;"
            "c=s.client_create(name='rest bench',scopes='system/*.cruds');"
            "print(s.token_issue(client_id=c['client_id'],scopes='system/*.cruds'))")
    out = subprocess.run([PY, "-c", code], cwd=ROOT, env=SECURE_ENV, check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def audit_rows() -> int:
    import psycopg2

    with psycopg2.connect(DB) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM security_auditrecord")
        return cursor.fetchone()[0]


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of live processes `pids` (children's time is not included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(server: subprocess.Popen) -> list[int]:
    """The gunicorn master and its workers."""
    out = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout
    return [server.pid, *(int(p) for p in out.split())]


def backend_pids() -> list[int]:
    """PostgreSQL backends connected to the benchmark database (the workers keep theirs open)."""
    import psycopg2

    with psycopg2.connect(DB) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def prioritise(backends: list[int]) -> None:
    """BENCH_NICE=N (with `nice -n N` on the benchmark): the database backends get N too."""
    if os.environ.get("BENCH_NICE"):
        for pid in backends:
            os.setpriority(os.PRIO_PROCESS, pid, int(os.environ["BENCH_NICE"]))


def post(path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{BASE}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/fhir+json", "Prefer": "return=minimal",
                                              **_headers})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"{}")


def observation_bundle(patient: str, n: int) -> dict:
    entries = []
    for i in range(n):
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "request": {"method": "POST", "url": "Observation"},
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "laboratory",
                                }
                            ]
                        }
                    ],
                    "code": {
                        "coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}],
                        "text": "Hemoglobin",
                    },
                    "subject": {"reference": patient},
                    "effectiveDateTime": f"2026-0{1 + i % 9}-1{i % 10}T08:00:00Z",
                    "valueQuantity": {
                        "value": 10 + (i % 70) / 10,
                        "unit": "g/dL",
                        "system": "http://unitsofmeasure.org",
                        "code": "g/dL",
                    },
                    "referenceRange": [
                        {
                            "low": {"value": 12, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
                            "high": {
                                "value": 16,
                                "unit": "g/dL",
                                "system": "http://unitsofmeasure.org",
                                "code": "g/dL",
                            },
                        }
                    ],
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def seed_patients(n: int) -> list[str]:
    ids = [f"bench-{i}" for i in range(n)]
    for start in range(0, n, 100):
        entries = [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": pid,
                    "name": [{"family": f"Bench{pid}", "given": ["Load"]}],
                    "gender": "female",
                    "birthDate": "1970-01-01",
                },
                "request": {"method": "PUT", "url": f"Patient/{pid}"},
            }
            for pid in ids[start : start + 100]
        ]
        post("/fhir", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    return ids


def record_pks(ids: list[str]) -> list[int]:
    code = ("import django,json,sys;django.setup();from fhirserver.storage.models import ResourceRecord as R;"
            f"print(json.dumps(list(R.objects.filter(resource_type='Patient',logical_id__in={ids!r}).values_list('pk',flat=True))))")
    out = subprocess.run([PY, "-c", code], cwd=ROOT, env=ENV, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def wrk(paths: list[str], seconds: int, connections: int, headers: dict[str, str] | None = None) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    sent = {"Accept": "application/fhir+json", **(headers or {})}
    table = ", ".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in sent.items())
    script.write(
        "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "counter = 0\nrequest = function()\n counter = counter + 1\n"
        f" return wrk.format('GET', paths[(counter % #paths) + 1], {{{table}}})\nend\n"
    )
    script.close()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, BASE],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    to_ms = lambda m: float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]  # noqa: E731
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": to_ms(p50), "p99_ms": to_ms(p99), "errors": int(errors.group(1)) if errors else 0}


def latency_single(paths: list[str], n: int = 400) -> float:
    """p50 of sequential requests from one client: the latency a lone app sees."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{BASE}{paths[i % len(paths)]}") as response:
            response.read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def ingest(server: subprocess.Popen, patient_ids: list[str], count: int = 40) -> dict:
    """Bundles of 100 Observations from two client threads; rate and CPU per resource."""
    bundles = [observation_bundle(f"Patient/{patient_ids[i % len(patient_ids)]}", 100) for i in range(count + 4)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # warm both workers (imports, compiled paths) and their connections
        list(pool.map(lambda b: post("/fhir", b), bundles[:4]))
    bundles = bundles[4:]
    workers, backends = server_pids(server), backend_pids()
    prioritise(backends)
    cpu_server, cpu_db, load = cpu_seconds(workers), cpu_seconds(backends), Path("/proc/loadavg").read_text().split()[0]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda b: post("/fhir", b), bundles))
    elapsed = time.perf_counter() - started
    n = 100 * len(bundles)
    return {
        "n": n,
        "bundles": len(bundles),
        "elapsed": elapsed,
        "rate": n / elapsed,
        "load": load,
        "server_ms": 1000 * (cpu_seconds(workers) - cpu_server) / n,
        "db_ms": 1000 * (cpu_seconds(backends) - cpu_db) / n,
    }


def main() -> None:
    workers = int(os.environ.get("BENCH_WORKERS", "2"))
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    parts = os.environ.get("BENCH_PARTS", "read,ingest").split(",")
    server = start_server(workers)
    try:
        if "read" in parts:
            ids = seed_patients(1000)
            pks = record_pks(ids)
            fhir_paths = [f"/fhir/Patient/{pid}" for pid in ids]
            raw_paths = [f"/bench/raw/{pk}" for pk in pks]
            wrk(fhir_paths, 2, 4)  # warm up both
            wrk(raw_paths, 2, 4)
            prioritise(backend_pids())
            fhir = wrk(fhir_paths, seconds, 8)
            raw = wrk(raw_paths, seconds, 8)
            fhir_single = latency_single(fhir_paths)
            raw_single = latency_single(raw_paths)
        if "ingest" in parts:
            result = ingest(server, [f"bench-{i}" for i in range(1000)])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    if "secure-ingest" in parts:
        server = start_server(workers, SECURE_ENV)
        try:
            _headers["Authorization"] = f"Bearer {system_token()}"
            audited = audit_rows()
            secure = ingest(server, [f"bench-{i}" for i in range(1000)])
            secure["audited"] = audit_rows() - audited
        finally:
            _headers.clear()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    if "read" in parts:
        print("| measure | FHIR read `GET /fhir/Patient/id` | bare Django view by pk |")
        print("|---|---|---|")
        print(f"| throughput, 8 connections (req/s) | {fhir['rps']:.0f} | {raw['rps']:.0f} |")
        print(f"| p50 under load (ms) | {fhir['p50_ms']:.2f} | {raw['p50_ms']:.2f} |")
        print(f"| p99 under load (ms) | {fhir['p99_ms']:.2f} | {raw['p99_ms']:.2f} |")
        print(f"| p50, one sequential client (ms) | {fhir_single:.2f} | {raw_single:.2f} |")
        print(f"| non-2xx responses | {fhir['errors']} | {raw['errors']} |")
        print(f"\nratio bare/FHIR throughput: {raw['rps'] / fhir['rps']:.2f}x")
    if "ingest" in parts:
        r = result
        print(
            f"transaction ingest: {r['bundles']} Bundles x 100 Observations in {r['elapsed']:.1f} s = "
            f"{r['rate']:.0f} resources/s (load {r['load']} at start); CPU per resource: gunicorn "
            f"{r['server_ms']:.3f} ms, PostgreSQL backends {r['db_ms']:.3f} ms"
        )
    if "secure-ingest" in parts:
        r = secure
        print(
            f"transaction ingest with a system token and audit: {r['rate']:.0f} resources/s (load {r['load']} at "
            f"start), {r['audited']} audit rows; CPU per resource: gunicorn {r['server_ms']:.3f} ms, PostgreSQL "
            f"backends {r['db_ms']:.3f} ms"
            + (f"; secured / security off of the same run: {r['rate'] / result['rate']:.2f}x" if "ingest" in parts
               else "")
        )


if __name__ == "__main__":
    main()
