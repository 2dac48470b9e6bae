"""What the review form posts, read into a `Decision` (row fields are numbered: value-0, value-1, ...)."""
from __future__ import annotations

from django.http import QueryDict

from review.corrections import ResultCells
from review.services import Decision, PatientChoice, ReviewError, RowEdit

ACTIONS = ("save", "confirm", "reject")
CELLS = ("name", "loinc", "value", "unit", "range", "flag")


def decision_from(post: QueryDict) -> Decision:
    action = post.get("action", "")
    if action not in ACTIONS:
        raise ReviewError("Choose Save corrections, Confirm or Reject")
    edits = {}
    index = 0
    while f"obs-{index}" in post:
        reference = post[f"obs-{index}"]
        try:
            version = int(post.get(f"version-{index}", ""))
        except ValueError:
            raise ReviewError(f"Row {index + 1} has no version; reload the page") from None
        edits[reference] = RowEdit(
            version=version, cells=ResultCells(**{c: post.get(f"{c}-{index}", "") for c in CELLS})
        )
        index += 1
    choice = post.get("patient_action", "")
    patient = (
        PatientChoice(action=choice, patient_id=post.get("patient_id", "").strip())
        if choice in ("keep", "existing", "new")
        else None
    )
    return Decision(action=action, edits=edits, patient=patient, reason=post.get("reason", ""))
