"""The first run as the README tells it, against `make run` itself (tests/newcomer.py): the banner, the
"Try it" lines pasted as they are, the landing page, static files, and the size limit over real HTTP.
`make serve` (gunicorn, production settings) serves the same static files."""
from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request

import pytest

from tests import newcomer as server

README = server.ROOT / "README.md"


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def try_it_lines() -> list[str]:
    text = README.read_text()
    section = text.split("## Try it", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)[1]
    return [line for line in block.splitlines() if line.strip()]


def test_the_banner_is_hard_to_miss_and_prints_the_token_line(newcomer):
    banner = newcomer.banner
    assert "=" * 40 in banner and f"export TOKEN={newcomer.token}" in banner
    assert f"{newcomer.url}/review/" in banner and "clinician / clinician" in banner
    assert "docs/examples/report.pdf" in banner
    status, _, _ = get(f"{newcomer.fhir}/Patient", Authorization=f"Bearer {newcomer.token}")
    assert status == 200


def test_the_readmes_try_it_works_pasted_as_it_is(newcomer):
    lines = try_it_lines()
    assert lines[0].startswith("export TOKEN=") and "report.pdf" in lines[-1]
    assert (server.ROOT / "docs" / "examples" / "report.pdf").is_file()
    script = "set -e\n" + "\n".join(
        f"{line.replace('http://127.0.0.1:8000', newcomer.url)}\necho; echo '#####'" for line in lines)
    done = subprocess.run(["bash", "-c", script], cwd=server.ROOT, capture_output=True, text=True, timeout=600,
                          env=server.newcomer_env(newcomer.database_url))
    assert done.returncode == 0, done.stderr
    outputs = [json.loads(part) for part in done.stdout.split("#####")[1:] if part.strip()]  # after `export`
    capability, search, digitized = outputs
    assert capability["resourceType"] == "CapabilityStatement"
    assert search["resourceType"] == "Bundle" and search["entry"], search
    assert digitized["resourceType"] == "Bundle", digitized
    resources = [e["resource"] for e in digitized["entry"]]
    assert resources[0]["id"] == "demo-ada"
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    assert len(observations) >= 8 and all(o["subject"]["reference"] == "Patient/demo-ada" for o in observations)
    outcome = [r for r in resources if r["resourceType"] == "OperationOutcome"]
    mismatches = [i for o in outcome for i in o["issue"] if any("Patient." in e for e in i.get("expression", []))]
    assert mismatches == []  # the sample report is Ada Okafor's


def test_the_landing_page_links_the_api_the_review_page_and_the_docs(newcomer):
    status, headers, body = get(f"{newcomer.url}/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for link in (f'href="{newcomer.fhir}"', 'href="/review/"', 'href="/docs/"'):
        assert link in page
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page)[1]
    assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet)  # content-hashed by the manifest
    status, _, body = get(f"{newcomer.url}/docs/")
    assert status == 200 and "<h1" in body.decode() and 'href="/docs/review"' in body.decode()
    status, _, body = get(f"{newcomer.url}/docs/review")
    assert status == 200 and 'src="/docs/images/review-review.png"' in body.decode()
    assert get(f"{newcomer.url}/docs/images/review-review.png")[0] == 200


def test_static_files_are_served_with_their_types_and_cached_for_ever(newcomer):
    status, _, body = get(f"{newcomer.url}/oauth2/login?next=/review/")
    assert status == 200
    status, _, _ = get(f"{newcomer.url}/static/review/review.css")
    assert status == 200
    page_status, _, page = get(f"{newcomer.url}/")
    css = re.search(r'href="(/static/[^"]+\.css)"', page.decode())[1]
    status, headers, body = get(f"{newcomer.url}{css}")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and b"{" in body
    assert "max-age=315360000" in headers.get("Cache-Control", "") and "immutable" in headers["Cache-Control"]
    status, headers, _ = get(f"{newcomer.url}/static/review/missing.css")
    assert status == 404


def test_a_40_mb_upload_gets_document_too_large_with_the_limit(newcomer):
    body = b"%PDF-1.4\n" + b"0" * (40 * 1024 * 1024)
    request = urllib.request.Request(f"{newcomer.fhir}/DiagnosticReport/$digitize", data=body, method="POST",
                                     headers={"Content-Type": "application/pdf",
                                              "Authorization": f"Bearer {newcomer.token}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=120)
    assert refused.value.code == 413
    [issue] = json.loads(refused.value.read())["issue"]
    assert issue["details"]["coding"][0]["code"] == "DOCUMENT_TOO_LARGE"
    assert "the limit is 20,971,520 bytes" in issue["diagnostics"]


def test_make_serve_serves_the_same_static_files(newcomer, tmp_path):
    serving = server.start("serve", newcomer.database_url, tmp_path / "make-serve.log", wait_for_token=False,
                           SECRET_KEY="test-only-secret-key-of-some-length-0123456789", SECURE_SSL_REDIRECT="false",
                           WORKERS="1")
    try:
        status, _, page = get(f"{serving.url}/")
        assert status == 200
        css = re.search(r'href="(/static/[^"]+\.css)"', page.decode())[1]
        status, headers, _ = get(f"{serving.url}{css}")
        assert status == 200 and headers["Content-Type"].startswith("text/css")
        status, _, login = get(f"{serving.url}/oauth2/login?next=/review/")
        assert status == 200
    finally:
        server.stop(serving.process)
