"""The one access decision: who calls, for which patient, with which scope rules, and what that allows.

Every path asks the `Access` of its request, through `fhirserver.core.guard`:
- `check_request(request)`: what can be refused from the request alone (operations, another
  patient's compartment, the types a search reaches into), asked by the HTTP door and per Bundle entry;
- `check(interaction, type, resource)`: read, vread, history, writes, operations, `$digitize`;
- `can_read(type, resource)`: results assembled from many resources (history, `$everything`, Bundles,
  export, subscription notifications);
- `search_q(type)`: the same rules as a condition on stored records (a search `Where`), which the search engine ANDs
  into a search, into every chain, `_has` and `_filter` step, and into `_include`/`_revinclude`.
So one class says what a token may see, and a search can reach nothing a read would refuse.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.search.compartments import compartment_q, in_patient_compartment
from fhirserver.search.compiler import Context, compile_filters
from fhirserver.search.conditions import EVERYTHING, NOTHING, RECORDS, Rows, Where, columns, in_rows
from fhirserver.search.models import ReferenceIndex
from fhirserver.search.params import token
from fhirserver.search.params.reference import parse_reference
from fhirserver.search.parser import parse
from fhirserver.search.registry import get_param
from fhirserver.security.scopes import ScopeRule, Scopes
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord

# Which permission letters allow an interaction (SMART v2 letters; v1 read = rs, write = cud).
INTERACTION_LETTERS: dict[str, frozenset[str]] = {
    "read": frozenset("r"), "vread": frozenset("r"), "search": frozenset("s"), "history": frozenset("rs"),
    "create": frozenset("c"), "update": frozenset("u"), "patch": frozenset("u"), "delete": frozenset("d"),
    "operation": frozenset("r"),
}
READ_LETTERS = frozenset("rs")


def forbidden(diagnostics: str, code: str = "SCOPE_FORBIDS") -> FhirError:
    return FhirError(403, diagnostics, issue_code="forbidden", code=code,
                     headers={"WWW-Authenticate": 'Bearer realm="fhir", error="insufficient_scope"'})


@dataclass
class Access:
    """What a validated token allows. `patient_id` set = results confined to that patient."""

    client_id: str
    scopes: Scopes
    launch_patient: str | None = None
    user_id: int | None = None
    username: str | None = None
    fhir_user: str | None = None
    token_id: int | None = None
    rules: tuple[ScopeRule, ...] = field(init=False)
    patient_id: str | None = field(init=False)
    # (type, letters) -> the rules that apply: an Access lives as long as its token's cache entry,
    # so what one read works out the next read of the same token reuses.
    _applying: dict = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # patient/ scopes without a launch patient stand for nobody's data: they grant nothing.
        self.rules = tuple(r for r in self.scopes.rules if r.context != "patient" or self.launch_patient)
        # Searches are confined to the launch patient unless a user/system rule already grants
        # searching everything: one global confinement can only be too strict, never too wide.
        wide = any(
            r.context != "patient" and r.resource_type == "*" and "s" in r.permissions and not r.query
            for r in self.rules
        )
        has_patient_rules = any(r.context == "patient" for r in self.rules)
        self.patient_id = self.launch_patient if has_patient_rules and not wide else None

    # --- questions the core and the search engine ask ---------------------------------------------
    def check(
        self, interaction: str, resource_type: str, resource: dict | None = None, *, previous: dict | None = None
    ) -> None:
        letters = INTERACTION_LETTERS.get(interaction, READ_LETTERS)
        rules = self._rules(resource_type, letters)
        if not rules:
            raise forbidden(f"The token's scopes do not allow {interaction} of {resource_type}")
        if resource is None and previous is None:
            return
        for rule in rules:
            if all(self._rule_admits(rule, resource_type, r) for r in (resource, previous) if r is not None):
                return
        raise forbidden(
            f"The token's scopes do not allow {interaction} of this {resource_type}"
            + (f" (outside the compartment of Patient/{self.launch_patient})" if self.launch_patient else ""),
            code="OUTSIDE_GRANT",
        )

    def check_request(self, request: FhirRequest) -> None:
        """What can be refused from the request alone (operations, other patients' compartments...)."""
        check_request(self, request)

    def search_q(self, resource_type: str) -> Where:
        """What this token may see of `resource_type`, as a condition on ResourceRecord: the patient
        compartment and the v2 scope query constraints (an OR of ANDs). Nothing when no rule lets it
        search the type: a chain or include cannot reach a type the token may not search itself."""
        if not self.can_read_type(resource_type):
            return NOTHING
        q = EVERYTHING
        if self.patient_id:
            compartment = compartment_q("Patient", self.patient_id, resource_type)
            if resource_type == "Provenance":
                compartment |= self._provenance_of_visible_q()
            q &= compartment
        constraints = self.allowed_query(resource_type)
        if constraints is not None:
            alternatives = NOTHING
            for conjunction in constraints:
                condition, _ = compile_filters(resource_type, parse(list(conjunction)).filters, Context())
                alternatives |= condition
            q &= alternatives
        return q

    def can_read(self, resource_type: str, resource: dict | None) -> bool:
        if resource is None:  # a deleted version: nothing to see, and no way to tell whose it was
            return any(r.context != "patient" and not r.query for r in self._rules(resource_type, READ_LETTERS))
        return any(
            self._rule_admits(rule, resource_type, resource) for rule in self._rules(resource_type, READ_LETTERS)
        )

    def can_read_type(self, resource_type: str) -> bool:
        return bool(self._rules(resource_type, frozenset("s")))

    def allowed_query(self, resource_type: str) -> list[list[tuple[str, str]]] | None:
        """v2 query constraints on searches of `resource_type`: None = unconstrained, else OR of ANDs."""
        rules = self._rules(resource_type, frozenset("s"))
        if any(not r.query for r in rules):
            return None
        return [list(r.query) for r in rules]

    # Provenance is about its targets. R4 files it in a patient's compartment only when a target is
    # the Patient itself, so the Provenance of that patient's results ($digitize's, US Core's
    # `_revinclude=Provenance:target`) would be hidden from the patient's own app. A patient-confined
    # token also sees a Provenance whose every target it may see (and nothing else: one target
    # outside its reach hides it), in searches and on single reads alike.
    def _provenance_of_visible_q(self) -> Where:
        targets = columns(resource_type="Provenance", name="target")
        seen = NOTHING.rest
        stored = ReferenceIndex.objects.filter(resource_type="Provenance", name="target")
        for target_type in stored.values_list("target_type", flat=True).distinct():
            if target_type and target_type != "Provenance" and self.can_read_type(target_type):
                readable = Where(rest=columns(resource_type=target_type, deleted=False)) & self.search_q(target_type)
                seen |= columns(target_type=target_type) & in_rows(
                    "target_id", Rows(RECORDS, readable.sql(), "logical_id"))
        table = ReferenceIndex._meta.db_table
        return Where.of(Rows(table, targets & seen)) & ~Where.of(Rows(table, targets & ~seen))

    def _provenance_of_visible(self, provenance: dict) -> bool:
        references = [t.get("reference") if isinstance(t, dict) else None for t in provenance.get("target") or []]
        if not references:
            return False
        for text in references:
            target_type, target_id, _ = parse_reference(text or "")
            if not target_type or target_type == "Provenance":
                return False
            stored = repository.current(target_type, target_id)
            if stored is None or stored.deleted or not self.can_read(target_type, stored.content):
                return False
        return True

    @property
    def is_patient_scoped(self) -> bool:
        return self.patient_id is not None

    @property
    def may_see_audit(self) -> bool:
        """Audit records are for administrators: a user/system rule that reads AuditEvent, never a patient app."""
        return self.patient_id is None and any(
            r.context != "patient" and not r.query and r.applies_to("AuditEvent") and "s" in r.permissions
            for r in self.rules
        )

    # --- internals -----------------------------------------------------------------------------------
    def _rules(self, resource_type: str, letters: frozenset[str]) -> tuple[ScopeRule, ...]:
        key = (resource_type, letters)
        rules = self._applying.get(key)
        if rules is None:
            rules = tuple(r for r in self.rules if r.applies_to(resource_type) and r.permissions & letters)
            if len(self._applying) < 512:  # types x letter sets: bounded, so a crafted type cannot grow it
                self._applying[key] = rules
        return rules

    def _rule_admits(self, rule: ScopeRule, resource_type: str, resource: dict) -> bool:
        if rule.context == "patient":
            if not self.launch_patient:
                return False
            if not in_patient_compartment(resource_type, resource, self.launch_patient) and not (
                resource_type == "Provenance" and self._provenance_of_visible(resource)
            ):
                return False
        return not rule.query or query_admits(resource_type, resource, rule.query)


def query_admits(resource_type: str, resource: dict, query: tuple[tuple[str, str], ...]) -> bool:
    """Whether one resource satisfies a scope's query constraints, as a search would answer it.

    Token parameters and `_id` are evaluated on the content itself (so a create or an update's new
    content is checked too). Any other constraint is asked of the search engine on the stored
    version the content is (its id and versionId): the same condition `search_q` puts in a search.
    Content that is not a stored version (a write's new content) is refused: the safe answer."""
    if all(_in_memory(resource_type, name) for name, _ in query):
        return matches_query(resource_type, resource, query)
    version = str((resource.get("meta") or {}).get("versionId") or "")
    if not resource.get("id") or not version.isdigit():
        return False
    condition, _ = compile_filters(resource_type, parse(list(query)).filters, Context())
    return ResourceRecord.objects.filter(
        condition.q(), resource_type=resource_type, logical_id=resource["id"], version=int(version), deleted=False
    ).exists()


def _in_memory(resource_type: str, name: str) -> bool:
    param = get_param(resource_type, name)
    return name == "_id" or (param is not None and param.type == "token" and bool(param.expression))


def matches_query(resource_type: str, resource: dict, query: tuple[tuple[str, str], ...]) -> bool:
    """Whether one resource's content satisfies query constraints on token parameters and `_id`
    (anything else is refused here: query_admits asks the search engine for those)."""
    for name, value in query:
        if name == "_id":
            if resource.get("id") not in value.split(","):
                return False
            continue
        param = get_param(resource_type, name)
        if param is None or param.type != "token" or not param.expression:
            return False
        rows = token.extract(param.extractor(resource_type)(resource))
        if not any(_token_matches(row, alternative) for alternative in value.split(",") for row in rows):
            return False
    return True


def _token_matches(row: dict, wanted: str) -> bool:
    if row.get("name_suffix"):  # identifier :of-type rows answer another question
        return False
    if "|" not in wanted:
        return row["code"] == wanted
    system, code = wanted.split("|", 1)
    if not code:
        return row["system"] == system
    return row["code"] == code and row["system"] == system


# --- what can be refused from the request alone ----------------------------------------------------
def check_request(access: Access, request: FhirRequest) -> None:
    """What can be refused from the request alone, before the core touches any resource."""
    kind, method = request.kind, request.method
    if kind and kind.startswith("operation-"):
        return _check_operation(access, request)
    if kind == "search" or (kind in ("type", "system") and method == "GET"):
        _check_search(access, request)
    elif kind == "history" and request.id is not None:
        _check_instance(access, request, "history")


def _check_search(access: Access, request: FhirRequest) -> None:
    if request.compartment and request.compartment[0] == "Patient" and access.patient_id \
            and request.compartment[1] != access.patient_id:
        raise forbidden(f"The token is confined to Patient/{access.patient_id}", code="OTHER_PATIENT")
    if request.resource_type:
        types = [request.resource_type]
    else:
        types = [t for value in request.params("_type") for t in value.split(",") if t]
        if not types and not request.compartment and not access.can_read_type("*"):
            raise forbidden("Searching every type needs a scope for every type (*.rs or *.read)")
    for name, _ in request.query:
        types += _types_named_by(name)
    for resource_type in types:
        if not access.can_read_type(resource_type):
            raise forbidden(f"The token's scopes do not allow searching {resource_type}")


def _types_named_by(name: str) -> list[str]:
    """Resource types a search parameter name reaches into: `_has:Type:...`, `param:Type.x`."""
    found = []
    for part in name.split("."):
        pieces = part.split(":")
        if pieces[0] == "_has" and len(pieces) > 1:
            found.append(pieces[1])
        elif len(pieces) > 1 and pieces[1][:1].isupper():
            found.append(pieces[1])
    return found


def _check_instance(access: Access, request: FhirRequest, interaction: str) -> None:
    stored = repository.current(request.resource_type, request.id)
    content = stored.content if stored is not None and not stored.deleted else None
    if content is None:
        access.check(interaction, request.resource_type)  # nothing to see; the core answers 404/410
    else:
        access.check(interaction, request.resource_type, content)


# Operations that only write what their name says, or only read like a search.
WRITING_OPERATIONS = {"$digitize": ("DocumentReference", "DiagnosticReport", "Observation")}
SEARCHING_OPERATIONS = {"$everything", "$lastn"}
# Bulk data: system tokens only, types by scope, per resource on $import (fhirserver.bulk.kickoff, inbound).
DECIDING_THEMSELVES = {"$export", "$import"}


def _check_operation(access: Access, request: FhirRequest) -> None:
    name = request.operation or ""
    if name in DECIDING_THEMSELVES:
        return
    if request.kind == "operation-instance":
        _check_instance(access, request, "operation")
    elif name in SEARCHING_OPERATIONS:
        access.check("search", request.resource_type or "*")
    elif name not in WRITING_OPERATIONS and name != "$validate":
        if request.resource_type is None and access.patient_id:
            raise forbidden(f"{name} at system level is not open to patient-confined tokens")
        access.check("operation", request.resource_type or "*")
    for resource_type in WRITING_OPERATIONS.get(name, ()):
        access.check("create", resource_type)
    if access.patient_id:
        named = [v.split("/")[-1] for k, v in request.query if k in ("patient", "subject")]
        if any(v != access.patient_id for v in named):
            raise forbidden(f"The token is confined to Patient/{access.patient_id}", code="OTHER_PATIENT")
    if name == "$validate" and request.resource_type:
        if not any(r.applies_to(request.resource_type) for r in access.rules):
            raise forbidden(f"The token has no scope for {request.resource_type}")
