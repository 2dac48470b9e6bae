"""The access context of one request: who calls, for which patient, with which scope rules.

The FHIR core asks it `check(...)` before every interaction and `can_read(...)` when it assembles
results from many resources; the search engine reads `patient_id`, `allowed_query(type)` and
`can_read_type(type)`. Every decision is made here, so one class says what a token may do.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fhirserver.core.errors import FhirError
from fhirserver.security.scopes import ScopeRule, Scopes

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

    def check_request(self, request) -> None:
        """What can be refused from the request alone (operations, other patients' compartments...)."""
        from fhirserver.security.authenticator import check_request

        check_request(self, request)

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
    def _rules(self, resource_type: str, letters: frozenset[str]) -> list[ScopeRule]:
        return [r for r in self.rules if r.applies_to(resource_type) and r.permissions & letters]

    def _rule_admits(self, rule: ScopeRule, resource_type: str, resource: dict) -> bool:
        if rule.context == "patient":
            if not self.launch_patient or not in_patient_compartment(resource_type, resource, self.launch_patient):
                return False
        return not rule.query or matches_query(resource_type, resource, rule.query)


def in_patient_compartment(resource_type: str, resource: dict, patient_id: str) -> bool:
    """The search engine's reading of the R4 Patient CompartmentDefinition (one definition for both)."""
    from fhirserver.search import api as search_api

    check = getattr(search_api, "in_patient_compartment", None)
    if check is None:
        from fhirserver.search.compartments import in_patient_compartment as check
    return check(resource_type, resource, patient_id)


def matches_query(resource_type: str, resource: dict, query: tuple[tuple[str, str], ...]) -> bool:
    """Whether one resource satisfies a scope's query constraints (token parameters and _id).

    Constraints on other parameter types deny on single-resource checks (searches still apply them
    through the search engine): refusing is the safe answer when we cannot evaluate.
    """
    from fhirserver.search.params import token
    from fhirserver.search.registry import get_param

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
