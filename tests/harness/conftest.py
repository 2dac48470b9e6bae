"""Fixtures of the harness: the production server (`make serve`) on the test database, two patients' data
committed where its workers can see it, and tokens for each patient."""
from __future__ import annotations

import pytest
from django.db import connection

from tests.harness.server import Server, database_url
from tests.security.conftest import bearer, secure, token_for, two_patients  # noqa: F401 - fixtures

HARNESS_ENV = {"INGESTION_STALE_AFTER_SECONDS": "4"}


@pytest.fixture(autouse=True)
def _committed(transactional_db, settings):
    """The workers are other processes: they see only committed rows, and check client secrets with
    the production settings' password hashers (not the test settings' fast one)."""
    from django.conf import global_settings

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """gunicorn with 2 workers and production settings, as `make serve` runs it."""
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    running = Server(url, workers=2, env=HARNESS_ENV)
    yield running
    running.stop()


@pytest.fixture
def as_patient(token_for):  # noqa: F811 - the imported fixture
    """as_patient("a") -> headers of an app holding patient/*.cruds for that patient."""
    return lambda patient, scopes="patient/*.cruds": {"Authorization": f"Bearer {token_for(scopes, patient=patient)}"}


def outcome(response, status: int | tuple[int, ...]) -> dict:
    """The response's OperationOutcome, asserting its status."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.text[:400])
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body
