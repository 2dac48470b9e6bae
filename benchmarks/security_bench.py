"""What SMART authorisation costs a read: in-process, so network noise does not drown microseconds.

Times the same `GET /fhir/Patient/<id>` through Django's full stack (middleware, view, core) with
security off (trusted), with a system token and with a patient-confined token, interleaved, and
the pieces on their own: token -> Access (cached), the scope + compartment check, one audit record
spooled, and the drainer's batch INSERT per record. The CPU column counts every thread of this
process, the audit drainer's included. The ratios at the end are against the trusted read of the
same run (issue 17: a system token with its audit record <= 1.15x).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python benchmarks/security_bench.py
    (add --http for the gunicorn throughput comparison, benchmarks/security_http_bench.py)
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
os.environ["REQUEST_LOG_LEVEL"] = "WARNING"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

ROUNDS, PER_ROUND = 15, 200  # short interleaved rounds: each ratio is taken within one round


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


if __name__ == "__main__":
    main()
