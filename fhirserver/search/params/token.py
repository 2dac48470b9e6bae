"""token parameters: `code`, `system|code`, `|code`, `system|`; `:text`, `:not`, `:of-type`,
`:in`/`:not-in` (ValueSets stored on this server or shipped with R4), `:below`/`:above` (is-a
hierarchies of CodeSystems stored on this server, see subsumption.py), booleans and identifiers."""
from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.terminology.source import source as terminology_source
from resources.terminology import TerminologyError
from resources.terminology.valueset import members, resolve_value_set

from ..conditions import NEVER, Sql, any_of, columns, eq, like, one_of
from ..models import TokenIndex
from ..subsumption import codes_q
from ..values import TEXT_LENGTH, normalize_text, split_escaped
from .base import Condition, ParamType, filter_literal, refuse_modifier

model = TokenIndex
MODIFIERS = (None, "text", "not", "of-type", "in", "not-in", "below", "above")
CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
OF_TYPE = ":of-type"
FILTER_MODIFIERS = {"ss": "below", "sb": "above", "in": "in", "ni": "not-in"}  # `_filter` ops as modifiers


def _row(system, code, text="") -> dict:
    return {
        "system": (system or "")[:TEXT_LENGTH],
        "code": str(code or "")[:TEXT_LENGTH],
        "text": normalize_text(text or ""),
    }


def extract(values: list) -> list[dict]:
    """Rows for Coding, CodeableConcept, Identifier, ContactPoint, code/string/id, boolean.

    Identifier types also give `name:of-type` rows (system = type system, code = "type|value").
    """
    rows: list[dict] = []
    for v in values:
        if isinstance(v, bool):
            rows.append(_row("", "true" if v else "false"))
        elif isinstance(v, (str, int)):
            rows.append(_row("", v))
        elif not isinstance(v, dict):
            continue
        elif "coding" in v or ("text" in v and "value" not in v and "code" not in v):
            for coding in v.get("coding", []):
                if coding.get("code") or coding.get("system"):
                    rows.append(_row(coding.get("system"), coding.get("code"), coding.get("display") or v.get("text")))
            if v.get("text"):
                rows.append(_row("", "", v["text"]))
        elif "code" in v or ("system" in v and "value" not in v):
            rows.append(_row(v.get("system"), v.get("code"), v.get("display") or v.get("unit")))
        elif "value" in v and isinstance(v["value"], (str, int)):
            if v.get("system") in CONTACT_SYSTEMS:
                rows.append(_row("", v["value"]))
                continue
            type_ = v.get("type") or {}
            rows.append(_row(v.get("system"), v["value"], type_.get("text")))
            for coding in type_.get("coding", []):
                row = _row(coding.get("system"), f"{coding.get('code', '')}|{v['value']}")
                row["name_suffix"] = OF_TYPE
                rows.append(row)
    return rows


def token_q(value: str, *, system_field: str = "system", code_field: str = "code", name: str = "") -> Sql:
    """`code`, `system|code`, `|code`, `system|` as a condition on (system_field, code_field)."""
    parts = split_escaped(value, "|")
    if len(parts) == 1:
        return eq(code_field, parts[0][:TEXT_LENGTH])
    if len(parts) != 2:
        raise bad_request(f"'{value}' is not a token (parameter {name})", code="SEARCH_BAD_TOKEN")
    system, code = parts
    if not system and not code:  # "|" names neither a system nor a code: not "every token"
        raise bad_request(f"'{value}' names neither a system nor a code (parameter {name})", code="SEARCH_BAD_TOKEN")
    if not code:
        return eq(system_field, system)
    return eq(system_field, system) & eq(code_field, code[:TEXT_LENGTH])


def condition(name: str, value: str, modifier: str | None) -> Sql:
    """A condition on TokenIndex rows for one value; `:not` and `:not-in` are negated by the compiler."""
    refuse_modifier(modifier, MODIFIERS, "token", name)
    if modifier == "text":
        return eq("name", name) & like("text", "contains", normalize_text("".join(split_escaped(value, ","))))
    if modifier == "of-type":
        parts = split_escaped(value, "|")
        if len(parts) != 3 or not all(parts):
            raise bad_request(f"{name}:of-type needs system|code|value, got '{value}'", code="SEARCH_BAD_TOKEN")
        return columns(name=name + OF_TYPE, system=parts[0], code=f"{parts[1]}|{parts[2]}"[:TEXT_LENGTH])
    if modifier in ("in", "not-in"):
        return eq("name", name) & valueset_q("".join(split_escaped(value, ",")))
    if modifier in ("below", "above"):
        return eq("name", name) & codes_q(name, value, modifier)
    return eq("name", name) & token_q(value, name=name)


def valueset_q(url: str) -> Sql:
    """Codes of the value set `url` (`|version` allowed) as a condition on (system, code), as the terminology
    engine expands it (stored first, then the packages the server ships): the same answer as
    `ValueSet/$expand` and required-binding validation give. A value set the server cannot expand is a 400."""
    try:
        held = members(resolve_value_set(url, terminology_source()), terminology_source())
    except TerminologyError as exc:
        raise bad_request(
            f"ValueSet '{url}' cannot be used for :in/:not-in: {exc.message}",
            code="SEARCH_UNKNOWN_VALUESET",
            issue_code="not-supported",
        ) from None
    by_system: dict[str, list[str]] = {}
    for member in held:
        by_system.setdefault(member.system or "", []).append(member.code[:TEXT_LENGTH])
    q = NEVER
    for system, system_codes in by_system.items():
        q |= eq("system", system) & one_of("code", system_codes)
    return q


class TokenType(ParamType):
    name = "token"
    model = model
    modifiers = MODIFIERS
    filter_ops = ("eq", "ne", "ss", "sb", "in", "ni", "pr")
    sort_by = "code"

    extract = staticmethod(extract)

    def condition(self, param, values: list[str], modifier: str | None, base_url: str = "") -> Condition:
        """`:not` and `:not-in` are the records with no matching row (R4: a resource without the code
        at all matches `:not`), so they are the positive condition, negated."""
        negated = modifier in ("not", "not-in")
        if negated:
            modifier = None if modifier == "not" else "in"
        return Condition(self.model, any_of(condition(param.name, v, modifier) for v in values), negated)

    def filter_test(self, param, op: str, value: str, base_url: str) -> Condition | tuple[str | None, str]:
        literal = filter_literal(value)
        if op == "ne":  # a row with another code (R4 _filter: not the :not of ordinary search)
            return Condition(self.model, eq("name", param.name) & ~token_q(literal, name=param.name))
        # ss/sb: the value subsumes / is subsumed by a code of the resource; in/ni: a ValueSet
        return FILTER_MODIFIERS.get(op), literal


TYPE = TokenType()
