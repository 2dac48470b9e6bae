"""Review page benchmark: the page image on first opening a freshly read report, and confirming a 50-row
report, each as a ratio to a plain FHIR read by id measured in the same run (the yardstick).

Runs gunicorn (the settings `make run` uses, one worker with 4 threads) on a PostgreSQL database of its
own; a clinician signs in over HTTP with a cookie session as a browser does. Each round digitizes a new
50-row text PDF (the `multipage` layout plus urinalysis rows), then times what the reviewer waits for:

- page shown: GET /review/jobs/{id} (the HTML) + GET .../pages/1.png, the first time anyone opens it;
- confirm: POST the review form with action=confirm (50 Observations and the report `final`, a
  Provenance, one transaction) + the redirected GET that shows the result.

    .venv/bin/python benchmarks/review_bench.py                 # BENCH_ROUNDS=5
    .venv/bin/python benchmarks/review_bench.py --tree /path    # the same, served from another checkout
"""
from __future__ import annotations

import argparse
import html.parser
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.server import ensure_database  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
READS = 30


def report_pdf(seed: int) -> bytes:
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf

    layout = LAYOUTS["multipage"]
    report = layout.report(seed)
    report.rows += LAYOUTS["urinalysis"].report(seed).rows[: 50 - len(report.rows)]
    assert len(report.rows) == 50
    return render_pdf(report, layout)


class Form(html.parser.HTMLParser):
    """The fields the review form posts, as a browser would send them unchanged."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("type") not in ("checkbox", "radio", "submit", "search"):
            self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.fields.append((a["name"], ""))
        elif tag == "option" and self._select and "selected" in a:
            self.fields[-1] = (self._select, a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=120) as response:
            return response.read()

    def post(self, path: str, fields: list[tuple[str, str]], **headers) -> bytes:
        request = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(fields).encode(),
                                         headers={"Referer": self.base + path, **headers})
        with self.opener.open(request, timeout=300) as response:
            return response.read()

    def csrf(self) -> str:
        return next(c.value for c in self.cookies if c.name == "csrftoken")

    def sign_in(self, username: str, password: str) -> None:
        page = self.get("/oauth2/login?next=/review/").decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
        self.post("/oauth2/login", [("csrfmiddlewaretoken", token), ("username", username),
                                    ("password", password), ("next", "/review/")])


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(tree: Path, port: int) -> dict:
    name = f"review_bench_{'this' if tree == ROOT else 'other'}"
    url = f"{PG}/{name}"
    import psycopg2

    admin = psycopg2.connect(f"{PG}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()
    ensure_database(url)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="fhirserver.settings.base", FHIR_AUTH_REQUIRED="false",
               REQUEST_LOG_LEVEL="WARNING", INGESTION_WORKERS="1")
    python = str(ROOT / ".venv/bin/python")
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"],
                    ["create_clinician", "bench", "--password", "bench", "--name", "Bench Clinician"]):
        subprocess.run([python, "manage.py", *command], cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "fhirserver.wsgi", "-b", f"127.0.0.1:{port}",
                               "-w", "1", "--threads", "4", "--timeout", "300", "--log-level", "warning"],
                              cwd=tree, env=env)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz")
        return _rounds(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _rounds(base: str) -> dict:
    browser = Browser(base)
    browser.sign_in("bench", "bench")
    shown, images, confirms, yardstick = [], [], [], []
    for round_ in range(ROUNDS + 1):  # the first round warms the reader process and is not counted
        request = urllib.request.Request(f"{base}/fhir/DiagnosticReport/$digitize", data=report_pdf(5000 + round_),
                                         headers={"Content-Type": "application/pdf"})
        with urllib.request.urlopen(request, timeout=300) as response:
            job = response.headers["Content-Location"].rsplit("/", 1)[1]
            response.read()
        page = {}
        shown_s = timed(lambda: page.update(html=browser.get(f"/review/jobs/{job}").decode())
                        or page.update(png=browser.get(f"/review/jobs/{job}/pages/1.png")))
        image_s = timed(lambda: browser.get(f"/review/jobs/{job}/pages/2.png"))  # the other page, first time too
        form = Form()
        form.feed(page["html"])
        fields = [(k, v) for k, v in form.fields if k != "patient_id"] + [("action", "confirm")]
        assert sum(1 for k, _ in fields if k.startswith("obs-")) == 50, "the table shows 50 rows"
        observation = dict(fields)["obs-0"]
        confirm_s = timed(lambda: browser.post(f"/review/jobs/{job}", fields))  # POST, then the redirected page
        assert b"confirmed" in browser.get(f"/review/jobs/{job}")
        reads = [timed(lambda: urllib.request.urlopen(f"{base}/fhir/{observation}", timeout=30).read())
                 for _ in range(READS)]
        if round_:
            shown.append(shown_s)
            images.append(image_s)
            confirms.append(confirm_s)
            yardstick.append(statistics.median(reads))
    return {"shown": shown, "image": images, "confirm": confirms, "read": yardstick}


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT, help="a checkout to serve (default: this one)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8768")))
    args = parser.parse_args()
    load_before = _load()
    figures = run(args.tree.resolve(), args.port)
    read = statistics.median(figures["read"])
    print(f"\nTree: {args.tree}; {ROUNDS} rounds; load average before {load_before}, after {_load()}\n")
    print("| what the reviewer waits for | median s | max s | median / FHIR read |")
    print("|---|---|---|---|")
    print(f"| yardstick: GET /fhir/Observation/{{id}} (same run) | {read:.4f} | {max(figures['read']):.4f} | 1 |")
    for key, label in (("shown", "review page + page image, first opening"), ("image", "second page image, first"),
                       ("confirm", "confirm a 50-row report (POST + redirected page)")):
        values = figures[key]
        print(f"| {label} | {statistics.median(values):.3f} | {max(values):.3f} | "
              f"{statistics.median(values) / read:.0f}x |")


if __name__ == "__main__":
    main()
