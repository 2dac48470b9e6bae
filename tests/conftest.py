import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _database_is_what_ci_asked_for(django_db_setup, django_db_blocker):
    """CI sets REQUIRE_POSTGRES: a run that silently fell back to SQLite must fail."""
    if os.environ.get("REQUIRE_POSTGRES"):
        from django.db import connection

        assert connection.vendor == "postgresql", f"CI must run on PostgreSQL, not {connection.vendor}"


@pytest.fixture(scope="session", autouse=True)
def _static_files_collected():
    """Pages name their CSS and scripts through the manifest that `make install` writes (collectstatic, for
    WhiteNoise), as under `make run` and `make serve`: without it a page cannot be rendered at all."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def newcomer(django_db_setup, tmp_path_factory):
    """`make run` as a newcomer runs it (tests/newcomer.py), on a fresh database of its own, for the session."""
    from django.db import connection

    from tests import newcomer as server

    folder = tmp_path_factory.mktemp("newcomer")
    database_url = server.fresh_database(connection.settings_dict, folder)
    running = server.start("run", database_url, folder / "make-run.log")
    try:
        yield running
    finally:
        server.stop(running.process)
        server.drop_database(database_url)


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (make system-deps); never a downloaded browser build
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium(monkeypatch):
    """A headless Debian Chromium driven by Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API keeps an event loop in this thread
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            from django.db import connections

            connections.close_all()  # queries made under Playwright's loop use their own connection


@pytest.fixture
def fhir(client):
    """Django's test client speaking FHIR JSON."""
    return FhirClient(client)


class FhirClient:
    def __init__(self, client):
        self.client = client

    def _send(self, method, path, body=None, content_type="application/fhir+json", **headers):
        import json

        kwargs = {}
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = content_type
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        return getattr(self.client, method)(path if path.startswith("/") else f"/fhir/{path}", **kwargs, **extra)

    def get(self, path, **headers):
        return self._send("get", path, **headers)

    def post(self, path, body=None, **headers):
        return self._send("post", path, body, **headers)

    def put(self, path, body=None, **headers):
        return self._send("put", path, body, **headers)

    def patch(self, path, body=None, **headers):
        return self._send("patch", path, body, **headers)

    def delete(self, path, **headers):
        return self._send("delete", path, **headers)
