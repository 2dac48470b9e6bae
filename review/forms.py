"""What the review form posts, read into a `Decision`.

Rows are numbered (value-0, value-1, ...) with their Observation and version (obs-N, version-N); a row
to check is accepted as read with `accept-N` and any row removed with `remove-N`. Results a person adds
are new-K-name, new-K-loinc, new-K-value, new-K-unit, new-K-range, new-K-flag (K from 0; blank ones are
ignored).
"""
from __future__ import annotations

from django.http import QueryDict

from review.corrections import ResultCells
from review.decisions import Decision, PatientChoice, RowEdit
from review.services import ReviewError

ACTIONS = ("save", "confirm", "reject", "amend")
CELLS = ("name", "loinc", "value", "unit", "range", "flag")
MAX_ADDED = 200


def decision_from(post: QueryDict) -> Decision:
    action = post.get("action", "")
    if action not in ACTIONS:
        raise ReviewError("Choose Save corrections, Confirm, Save amendment or Reject")
    edits = {}
    index = 0
    while f"obs-{index}" in post:
        reference = post[f"obs-{index}"]
        try:
            version = int(post.get(f"version-{index}", ""))
        except ValueError:
            raise ReviewError(f"Row {index + 1} has no version; reload the page") from None
        resolution = "remove" if post.get(f"remove-{index}") else "accept" if post.get(f"accept-{index}") else ""
        edits[reference] = RowEdit(
            version=version, cells=ResultCells(**{c: post.get(f"{c}-{index}", "") for c in CELLS}),
            resolution=resolution,
        )
        index += 1
    added = []
    numbers = sorted({int(k.split("-")[1]) for k in post if k.startswith("new-") and k.split("-")[1].isdigit()})
    for number in numbers[:MAX_ADDED]:
        added.append(ResultCells(**{c: post.get(f"new-{number}-{c}", "") for c in CELLS}))
    choice = post.get("patient_action", "")
    patient = (
        PatientChoice(action=choice, patient_id=post.get("patient_id", "").strip())
        if choice in ("keep", "existing", "new")
        else None
    )
    return Decision(action=action, edits=edits, added=added, patient=patient, reason=post.get("reason", ""))
