"""The embedded default as a newcomer runs it: `make run` on SQLite (tests/newcomer.py), over real HTTP.

Issue 19 item 10: six simultaneous `$digitize` uploads answered 500 `database is locked` on SQLite.
Writers must wait their turn (BEGIN IMMEDIATE with a busy timeout), never fail, whatever the test
database of the session is."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_pdf
from tests import newcomer

UPLOADS = 6


@pytest.fixture(scope="module")
def make_run_on_sqlite(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlite-run")
    running = newcomer.start("run", f"sqlite:///{folder / 'embedded.sqlite3'}", folder / "make-run.log")
    try:
        yield running
    finally:
        newcomer.stop(running.process)


def _call(server, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "application/fhir+json"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(f"{server.fhir}/{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_six_simultaneous_digitize_uploads_all_succeed_on_sqlite(make_run_on_sqlite):
    server = make_run_on_sqlite
    layout = LAYOUTS["hospital-grid"]
    reports = [layout.report(100 + i) for i in range(UPLOADS)]  # six different reports: nothing to de-duplicate
    pdfs = [render_pdf(report, layout) for report in reports]
    status, before = _call(server, "GET", "DiagnosticReport?_summary=count")
    assert status == 200, before

    with ThreadPoolExecutor(UPLOADS) as pool:
        answers = list(pool.map(lambda pdf: _call(server, "POST", "DiagnosticReport/$digitize", pdf,
                                                  "application/pdf"), pdfs))

    statuses = [status for status, _ in answers]
    assert statuses == [200] * UPLOADS, [body.get("issue") for _, body in answers]
    status, after = _call(server, "GET", "DiagnosticReport?_summary=count")
    assert after["total"] == before["total"] + UPLOADS
    stored = sum(len(report.rows) for report in reports)
    status, observations = _call(server, "GET", "Observation?_summary=count&_security="
                                 "http://terminology.hl7.org/CodeSystem/v3-ObservationValue|AIAST")
    assert observations["total"] >= stored


def test_sqlite_writers_and_readers_interleave_without_errors(make_run_on_sqlite):
    """Plain FHIR writes and reads at once on the embedded default: every one answers, none 5xx."""
    server = make_run_on_sqlite

    def write(i: int):
        body = json.dumps({"resourceType": "Patient", "name": [{"family": f"Concurrent{i}"}]}).encode()
        return _call(server, "POST", "Patient", body, "application/fhir+json")[0]

    def read(i: int):
        return _call(server, "GET", "Patient?name=Concurrent&_count=5")[0]

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: (write if i % 2 else read)(i), range(40)))
    assert set(got) <= {200, 201}, got
    assert got.count(201) == 20


@pytest.fixture(scope="module")
def make_run_with_a_short_statement_bound(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlite-bound")
    running = newcomer.start("run", f"sqlite:///{folder / 'embedded.sqlite3'}", folder / "make-run.log",
                             FHIR_STATEMENT_TIMEOUT_SECONDS="0.05", FHIR_MAX_PARAMETERS="1000")
    try:
        yield running
    finally:
        newcomer.stop(running.process)


def test_a_statement_past_the_bound_is_stopped_on_sqlite(make_run_with_a_short_statement_bound):
    """SQLite has no statement_timeout: the progress handler stops a statement past its deadline (422)."""
    server = make_run_with_a_short_statement_bound
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "POST", "url": "Patient"},
         "resource": {"resourceType": "Patient", "name": [{"family": f"F{i}", "given": ["a"]}]}}
        for i in range(400)]}
    status, body = _call(server, "POST", "", json.dumps(bundle).encode(), "application/fhir+json")
    assert status == 200, body
    status, body = _call(server, "GET", "Patient?" + "&".join(["name:contains=a"] * 300) + "&_total=accurate")
    assert status == 422, body
    assert body["issue"][0]["details"]["coding"][0]["code"] == "LIMIT_STATEMENT_TIME"
    status, body = _call(server, "GET", "Patient?name=F1&_summary=count")  # the same server answers the next one
    assert status == 200 and body["total"] >= 1, body
