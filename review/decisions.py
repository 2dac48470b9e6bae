"""A clinician's decision on a digitised report: save corrections, confirm, amend a confirmed report, reject.

Each decision is ONE transaction Bundle through the FHIR core, like any client's write: each changed
resource gets exactly one new version with the version the page showed as If-Match, new results are
POSTed, and a Provenance names the person (the Practitioner linked to the Django user, review.accounts)
and points at every version it replaced (entity `revision`), so the machine's reading stays one click
away in the history.

Confirm is guarded: every row the page marks "to check" (review.verification) must be resolved first, in
the same post or before: corrected, accepted (one click per row) or removed. A removed result becomes
`entered-in-error` and leaves the report's `result` list; a result a person adds is theirs (CLINAST).

After confirmation a report may be amended (FHIR R4 status rules): a result whose value or unit changes
becomes `corrected`, one whose name, code, range or flag changes `amended`, a removed one
`entered-in-error`, an added one `final`; the report becomes `corrected` when a result was corrected or
removed, `appended` when results were only added, else `amended`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from fhirserver.core import bundles
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.storage import repository
from ingestion.fhir_mapping.codes import LIFECYCLE, PARTICIPANT_TYPE, PROFILE_PROVENANCE, concept, instant
from ingestion.fhir_mapping.observations import ObservationContext
from ingestion.fhir_mapping.patients import new_patient
from ingestion.labreport import PatientHeader
from ingestion.models import DigitizeJob
from review import verification
from review.accounts import display_name, practitioner_of
from review.corrections import CorrectionError, ResultCells, added_observation, corrected
from review.selectors import AWAITING, CONFIRMED, REJECTED, DocumentReview, ResultRow, document_review
from review.services import ReviewError, require_patient

Action = Literal["save", "confirm", "reject", "amend"]
Resolution = Literal["", "accept", "remove"]
# activity (iso-21089-lifecycle) and the person's agent types, per decision
ACTIVITIES = {"save": ("amend", "Amend (Update) Record Lifecycle Event", ("author",)),
              "confirm": ("verify", "Verify Record Lifecycle Event", ("verifier",)),
              "amend": ("amend", "Amend (Update) Record Lifecycle Event", ("author", "verifier")),
              "reject": ("deprecate", "Deprecate Record Lifecycle Event", ("verifier",))}
AGENT_TYPES = {"author": "Author", "verifier": "Verifier"}
RESULT_CELLS = {"value", "unit"}  # a change here corrects the test result itself (R4 `corrected`)


@dataclass
class PatientChoice:
    """How a reviewer settled whom the results are about."""
    action: Literal["keep", "existing", "new"]
    patient_id: str = ""  # for "existing"


@dataclass
class RowEdit:
    version: int  # the version the page showed
    cells: ResultCells
    resolution: Resolution = ""  # "accept": looked at, right as read; "remove": not a result of this report


@dataclass
class Decision:
    action: Action
    edits: dict[str, RowEdit] = field(default_factory=dict)  # "Observation/<id>" -> what the table holds
    added: list[ResultCells] = field(default_factory=list)  # results the reader missed, entered by the person
    patient: PatientChoice | None = None
    reason: str = ""  # why a report was rejected


@dataclass
class Recorded:
    action: Action
    corrected: list[str]  # Observations whose values changed
    written: list[str]  # every resource given a new version (or created)
    provenance: str | None
    subject: str | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    """What a decision writes: (stored version, new content) per changed resource, and new Observations."""
    changed: list[tuple[str, int, dict]] = field(default_factory=list)  # ("Type/id", version, content)
    created: list[tuple[str, dict]] = field(default_factory=list)  # (urn:uuid, Observation)
    corrected: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def decide(job: DigitizeJob, decision: Decision, *, user, base_url: str) -> Recorded:
    """Record a reviewer's decision on a digitised report, in one transaction."""
    review = document_review(job, details=False)
    _check_allowed(review, decision)
    entries: list[dict] = []  # POSTs (a new Patient, new results), a PUT per changed resource, the Provenance
    subject = review.report.get("subject", {}).get("reference")
    new_subject = (
        _patient_entry(decision.patient, review.printed, subject, entries) if decision.action in ("save", "confirm")
        else None
    )
    plan = _plan(job, review, decision, new_subject)
    if not plan.changed and not plan.created:
        return Recorded(decision.action, [], [], None, subject)
    for urn, observation in plan.created:
        entries.append({"fullUrl": urn, "resource": observation, "request": {"method": "POST", "url": "Observation"}})
    for reference, version, new in plan.changed:
        entries.append({"fullUrl": f"{base_url}/{reference}", "resource": _unstamped(new),
                        "request": {"method": "PUT", "url": reference, "ifMatch": f'W/"{version}"'}})
    created = [e["fullUrl"] for e in entries if e["request"]["method"] == "POST"]
    with repository.write_transaction():
        practitioner = practitioner_of(user)
        targets = [reference for reference, _, _ in plan.changed] + created
        revisions = [f"{reference}/_history/{version}" for reference, version, _ in plan.changed]
        entries.append(_provenance_entry(decision, targets, revisions, practitioner, display_name(user),
                                         job.document_reference_id))
        try:
            response = bundles.process(FhirRequest(method="POST", base_url=base_url, kind="system", user=user,
                                                   body={"resourceType": "Bundle", "type": "transaction",
                                                         "entry": entries})).resource
        except FhirError as error:
            if error.status == 412:
                raise ReviewError("The report was changed by someone else since this page was opened; "
                                  "reload it") from None
            raise
    locations = [e["response"]["location"].split("/_history")[0] for e in response["entry"]]
    kinds = [e["resource"]["resourceType"] for e in entries]
    subject = next((loc for loc, kind in zip(locations, kinds) if kind == "Patient"), new_subject or subject)
    written = [loc for loc, kind in zip(locations, kinds) if kind != "Provenance"]
    added = [loc for loc, e in zip(locations, entries) if e["fullUrl"] in dict(plan.created)]
    return Recorded(decision.action, plan.corrected, written, locations[-1], subject, added, plan.removed)


def _check_allowed(review: DocumentReview, decision: Decision) -> None:
    if review.report is None:
        raise ReviewError("This document has no results to review yet")
    if decision.action == "reject":
        if review.state == REJECTED:
            raise ReviewError("This report was already rejected")
    elif decision.action == "amend":
        if review.state != CONFIRMED:
            raise ReviewError(f"This report is {review.state}: only a confirmed report is amended; save or confirm it")
    elif review.state != AWAITING:
        raise ReviewError(f"This report is {review.state}; amend it to change it")
    if decision.action == "confirm" and review.needs_patient_choice and decision.patient is None:
        raise ReviewError(
            "The page does not match the patient the results are filed under: choose the patient before confirming"
        )
    unknown = set(decision.edits) - {row.observation for row in review.rows}
    if unknown:
        raise ReviewError(f"{', '.join(sorted(unknown))} is not a result of this report; reload the page")
    for row in review.rows:
        edit = decision.edits.get(row.observation)
        if edit and edit.version != row.version:
            raise ReviewError(f"{row.observation} was changed by someone else since this page was opened; reload it")
    if decision.action == "confirm":
        _check_resolved(review, decision)


def _check_resolved(review: DocumentReview, decision: Decision) -> None:
    """Every row to check is corrected, accepted or removed; something remains to confirm."""
    open_rows = []
    for row in review.open_rows:
        edit = decision.edits.get(row.observation)
        if edit is None or not (edit.resolution or edit.cells.changed(row.cells)):
            open_rows.append(row)
    if open_rows:
        listed = "; ".join(f"row {r.index + 1} ({r.cells.name or 'unnamed'}): {', '.join(r.reasons)}"
                           for r in open_rows)
        raise ReviewError(
            f"{len(open_rows)} {'row needs' if len(open_rows) == 1 else 'rows need'} a decision before confirming "
            f"(correct it, accept it as read, or remove it): {listed}"
        )
    kept = [r for r in review.rows if (decision.edits.get(r.observation) or RowEdit(0, r.cells)).resolution != "remove"]
    if not kept and not [c for c in decision.added if not _blank(c)]:
        raise ReviewError("Every result was removed: reject the report instead of confirming it")


def _plan(job: DigitizeJob, review: DocumentReview, decision: Decision, new_subject: str | None) -> _Plan:
    plan = _Plan()
    action = decision.action
    result_refs = [r["reference"] for r in review.report.get("result") or []]
    for row in review.rows:
        new = _row_change(row, decision, review.printed.sex, plan)
        if new is not None and new_subject and action != "reject":
            new = {**new, "subject": {"reference": new_subject}}
        elif new is None and new_subject:
            new = {**row.resource, "subject": {"reference": new_subject}}
        if new is not None:
            plan.changed.append((row.observation, row.version, new))
    if action != "reject":
        for cells in decision.added:
            if not _blank(cells):
                plan.created.append((f"urn:uuid:{uuid.uuid4()}", _added(cells, review, action, new_subject)))
    report = _report_change(review, action, plan, result_refs, new_subject)
    if report is not None:
        version = int(review.report["meta"]["versionId"])
        plan.changed.append((f"DiagnosticReport/{review.report['id']}", version, report))
    if new_subject:
        original = repository.read("DocumentReference", job.document_reference_id)
        plan.changed.append((f"DocumentReference/{original.id}", original.version,
                             {**original.content, "subject": {"reference": new_subject}}))
    return plan


def _row_change(row: ResultRow, decision: Decision, sex: str | None, plan: _Plan) -> dict | None:
    """The new content of one result row under this decision; None when it keeps its version."""
    action = decision.action
    edit = decision.edits.get(row.observation)
    if action == "reject":
        return None if row.status == "entered-in-error" else {**row.resource, "status": "entered-in-error"}
    if edit and edit.resolution == "remove":
        plan.removed.append(row.observation)
        return {**row.resource, "status": "entered-in-error"}
    changed = edit.cells.changed(row.cells) if edit else set()
    if changed:
        try:
            new = corrected(row.resource, edit.cells, sex=sex)
        except CorrectionError as error:
            raise ReviewError(f"Row {row.index + 1} ({edit.cells.name or row.observation}): {error}") from None
        plan.corrected.append(row.observation)
        new = verification.person_authored(new)
        status = {"confirm": "final", "amend": "corrected" if changed & RESULT_CELLS else "amended"}.get(action)
        return {**new, "status": status} if status else new
    if action == "confirm":
        return {**verification.verified(row.resource), "status": "final"}
    if edit and edit.resolution == "accept" and not row.verified:  # saved: looked at and accepted, still preliminary
        return verification.verified(row.resource)
    return None


def _added(cells: ResultCells, review: DocumentReview, action: Action, new_subject: str | None) -> dict:
    report = review.report
    context = ObservationContext(
        subject=new_subject or report.get("subject", {}).get("reference"),
        document_reference=f"DocumentReference/{review.job.document_reference_id}",
        effective=report.get("effectiveDateTime"), issued=report.get("issued", ""),
        performers=tuple(p["reference"] for p in report.get("performer") or [] if p.get("reference")),
        encounter=(report.get("encounter") or {}).get("reference"),
    )
    try:
        observation = added_observation(cells, context, sex=review.printed.sex)
    except CorrectionError as error:
        raise ReviewError(f"Added result ({cells.name or 'unnamed'}): {error}") from None
    status = "preliminary" if action == "save" else "final"
    return {**verification.person_authored(observation), "status": status}


def _report_change(review: DocumentReview, action: Action, plan: _Plan, result_refs: list[str],
                   new_subject: str | None) -> dict | None:
    report = dict(review.report)
    before = dict(report)
    if action == "reject":
        report["status"] = "entered-in-error"
    else:
        report["result"] = [{"reference": r} for r in result_refs if r not in plan.removed] + [
            {"reference": urn} for urn, _ in plan.created]
        if not report["result"]:
            report.pop("result")
        if action == "confirm":
            report = {**verification.verified(report), "status": "final"}
        elif action == "amend" and (plan.changed or plan.created):
            statuses = [content.get("status") for _, _, content in plan.changed]
            if plan.removed or "corrected" in statuses:
                report["status"] = "corrected"
            elif plan.created and not plan.changed:
                report["status"] = "appended"
            else:
                report["status"] = "amended"
    if new_subject:
        report["subject"] = {"reference": new_subject}
    return None if report == before else report


def _blank(cells: ResultCells) -> bool:
    return not any(getattr(cells.cleaned(), name) for name in ("name", "loinc", "value", "unit", "range", "flag"))


def _patient_entry(
    choice: PatientChoice | None, printed: PatientHeader, subject: str | None, entries: list[dict]
) -> str | None:
    """The new subject reference when the choice changes it (a urn:uuid for a Patient created here)."""
    if choice is None or choice.action == "keep":
        if choice is not None and not subject:
            raise ReviewError(
                "The results have no patient yet: choose an existing patient or create one from the report"
            )
        return None
    if choice.action == "existing":
        if not choice.patient_id:
            raise ReviewError("Choose the patient from the search results")
        reference = f"Patient/{choice.patient_id}"
        require_patient(reference)
        return None if reference == subject else reference
    if not (printed.family or printed.given or printed.identifier):
        raise ReviewError("The report names no patient to create; choose an existing patient")
    urn = f"urn:uuid:{uuid.uuid4()}"
    entries.append({"fullUrl": urn, "resource": new_patient(printed), "request": {"method": "POST", "url": "Patient"}})
    return urn


def _unstamped(resource: dict) -> dict:
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**resource, "meta": meta} if meta else {k: v for k, v in resource.items() if k != "meta"}


def _provenance_entry(decision: Decision, targets: list[str], revisions: list[str], practitioner: str, display: str,
                      document_reference_id: str) -> dict:
    code, code_display, roles = ACTIVITIES[decision.action]
    provenance = {
        "resourceType": "Provenance",
        "meta": {"profile": [PROFILE_PROVENANCE]},
        "target": [{"reference": t} for t in targets],
        "recorded": instant(),
        "activity": concept(LIFECYCLE, code, code_display),
        "agent": [{"type": concept(PARTICIPANT_TYPE, role, AGENT_TYPES[role]),
                   "who": {"reference": practitioner, "display": display}} for role in roles],
        "entity": [{"role": "source", "what": {"reference": f"DocumentReference/{document_reference_id}"}}]
        + [{"role": "revision", "what": {"reference": revision}} for revision in revisions],
    }
    if decision.reason.strip():
        provenance["reason"] = [{"text": decision.reason.strip()}]
    return {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": provenance,
            "request": {"method": "POST", "url": "Provenance"}}
