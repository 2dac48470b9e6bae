"""Helpers of the review page tests: what the form posts, FHIR reads through the test client."""
from __future__ import annotations

from ingestion.models import DigitizeJob
from review.selectors import document_review


def form_of(job: DigitizeJob, action: str, **changes) -> dict:
    """What the review form posts for the job as it is now, with some cells changed: {"value-0": "5.5"}."""
    review = document_review(job)
    data = {"action": action}
    for row in review.rows:
        i = row.index
        data.update({f"obs-{i}": row.observation, f"version-{i}": str(row.version)})
        data.update(
            {f"{cell}-{i}": getattr(row.cells, cell) for cell in ("name", "loinc", "value", "unit", "range", "flag")}
        )
    data.update(
        {k.replace("_", "-"): v for k, v in changes.items() if k not in ("patient_action", "patient_id", "reason")}
    )
    data.update({k: v for k, v in changes.items() if k in ("patient_action", "patient_id", "reason")})
    return data


def fhir_get(client, path: str) -> dict:
    response = client.get(f"/fhir/{path}")
    assert response.status_code == 200, response.content
    return response.json()


def fhir_put(client, path: str, resource: dict) -> dict:
    response = client.put(f"/fhir/{path}", resource, content_type="application/fhir+json")
    assert response.status_code == 200, response.content
    return response.json()


def machine_doubt(client, observation: str, *, confidence: float | None = None, reason: str | None = None) -> None:
    """Store what the reader would have said of a row it was unsure of: a low AIconfidence, a review reason."""
    from ingestion.fhir_mapping.codes import EXT_AI_CONFIDENCE, EXT_REVIEW_REASON

    resource = fhir_get(client, observation)
    extensions = resource.get("extension", [])
    if confidence is not None:
        extensions = [e for e in extensions if e["url"] != EXT_AI_CONFIDENCE]
        extensions.append({"url": EXT_AI_CONFIDENCE, "valueDecimal": confidence})
    if reason is not None:
        extensions.append({"url": EXT_REVIEW_REASON, "valueString": reason})
    resource["extension"] = extensions
    fhir_put(client, observation, resource)


def security_codes(resource: dict) -> set[str]:
    return {label["code"] for label in resource.get("meta", {}).get("security", [])}


def confidence_of(resource: dict) -> float | None:
    return next((e["valueDecimal"] for e in resource.get("extension", []) if e["url"].endswith("AIconfidence")), None)
