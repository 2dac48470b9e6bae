"""Bodies over the server's limit are refused with 413 and an OperationOutcome, not a 500."""
import pytest

pytestmark = pytest.mark.django_db


def test_oversized_body_is_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/fhir/Patient",
        data='{"resourceType":"Patient","text":"' + "x" * 2000 + '"}',
        content_type="application/fhir+json",
    )
    assert response.status_code == 413
    assert response.json()["issue"][0]["code"] == "too-costly"
