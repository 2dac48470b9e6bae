"""What a person has verified, and what they must still look at: the labels of a reviewed resource and the
rows to check before a report may be confirmed.

Labels follow AI Transparency on FHIR (HL7): `AIAST` in `meta.security` says the machine asserted the
content and `AIconfidence` how sure it was; the Provenance of a decision names the person as verifier
(human-in-the-loop). On top of that a person's assertion is labelled `CLINAST` (clinician asserted,
v3 ObservationValue, the same integrity-provenance value set):
- a value the machine read and a person confirmed or accepted keeps `AIAST` and its `AIconfidence` (true
  of that reading) and gains `CLINAST`;
- a value a person corrected or entered is theirs: `CLINAST` only, no `AIAST`, no `AIconfidence`, no
  review reasons. The machine's reading stays in the resource's history (version 1).

A row is "to check" (docs/review.md) while no person has verified it and any of: a review-reason
extension, an AIconfidence below REVIEW_THRESHOLD, a printed flag that disagrees with value and range, or
a printed value that was not stored as a number.
"""
from __future__ import annotations

from ingestion.fhir_mapping.codes import (
    AI_ASSERTED,
    EXT_AI_CONFIDENCE,
    EXT_FLAG_DISAGREES,
    EXT_REVIEW_REASON,
    OBSERVATION_VALUE,
)
from ingestion.labreport import REVIEW_THRESHOLD

CLINICIAN_ASSERTED = {"system": OBSERVATION_VALUE, "code": "CLINAST", "display": "clinician asserted"}


def _is(label: dict, wanted: dict) -> bool:
    return label.get("code") == wanted["code"] and label.get("system") in (wanted["system"], None)


def person_verified(resource: dict) -> bool:
    return any(_is(label, CLINICIAN_ASSERTED) for label in (resource.get("meta") or {}).get("security") or [])


def machine_asserted(resource: dict) -> bool:
    return any(label.get("code") == AI_ASSERTED["code"] for label in (resource.get("meta") or {}).get("security") or [])


def verified(resource: dict) -> dict:
    """The resource as a person's verification of the machine's content: CLINAST added, the rest kept."""
    meta = dict(resource.get("meta") or {})
    security = [label for label in meta.get("security") or [] if not _is(label, CLINICIAN_ASSERTED)]
    meta["security"] = security + [CLINICIAN_ASSERTED]
    return {**resource, "meta": meta}


def person_authored(resource: dict) -> dict:
    """The resource as a person's own statement: CLINAST instead of AIAST, no machine confidence or review reasons."""
    meta = dict(resource.get("meta") or {})
    meta["security"] = [label for label in meta.get("security") or []
                        if label.get("code") != AI_ASSERTED["code"] and not _is(label, CLINICIAN_ASSERTED)]
    meta["security"].append(CLINICIAN_ASSERTED)
    out = {**resource, "meta": meta}
    machine = (EXT_AI_CONFIDENCE, EXT_REVIEW_REASON)
    extensions = [e for e in resource.get("extension") or [] if e.get("url") not in machine]
    if extensions:
        out["extension"] = extensions
    else:
        out.pop("extension", None)
    return out


def machine_confidence(observation: dict) -> float | None:
    for extension in observation.get("extension") or []:
        if extension.get("url") == EXT_AI_CONFIDENCE and "valueDecimal" in extension:
            return float(extension["valueDecimal"])
    return None


def review_reasons(observation: dict) -> list[str]:
    return [e["valueString"] for e in observation.get("extension") or []
            if e.get("url") == EXT_REVIEW_REASON and e.get("valueString")]


def flag_disagrees(observation: dict) -> bool:
    return any(e.get("url") == EXT_FLAG_DISAGREES and e.get("valueBoolean") for e in observation.get("extension") or [])


def unstored_value(observation: dict, printed_value: str | None) -> str | None:
    """The printed value text when the row had a value but no valueQuantity holds it (unreadable, or kept as
    text because it failed a check); None when it was stored, or is a result word like 'Negative'."""
    if "valueQuantity" in observation or "valueCodeableConcept" in observation:
        return None
    absent = observation.get("dataAbsentReason")
    text = (printed_value or "").strip() or ((absent or {}).get("text") or "").strip()
    if absent is not None:
        return text or None
    kept = (observation.get("valueString") or "").strip()
    return kept if any(ch.isdigit() for ch in kept) else None


def reasons_to_check(observation: dict, printed_value: str | None = None) -> list[str]:
    """Why a person must look at this row before confirming; [] when nothing calls for it (or a person has
    verified it already)."""
    if person_verified(observation):
        return []
    reasons = list(review_reasons(observation))
    confidence = machine_confidence(observation)
    if confidence is not None and confidence < REVIEW_THRESHOLD:
        reasons.append(f"read with confidence {confidence:.2f} (below {REVIEW_THRESHOLD})")
    if flag_disagrees(observation):
        reasons.append("the printed flag disagrees with the value and the reference range")
    unstored = unstored_value(observation, printed_value)
    if unstored is not None:
        reasons.append(f"the printed value '{unstored}' could not be stored as a number")
    return reasons
