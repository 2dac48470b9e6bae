"""Compile parsed filters into SQL on stored records (a `Where`, conditions.py), the one way a search
becomes a condition: the statements of sql.py embed it as it is, nothing takes it apart again.

Each filter becomes `id IN (SELECT record_id FROM search_<type> WHERE name=... AND <OR of values>)`
(a driver of the `Where`), the condition its parameter type gives (params/:
`TYPES[param.type].condition`); repeating a parameter ANDs such conditions. Chains (`chain_q`,
one step for ordinary chains and `_filter` paths) select target ids with a nested search on the
target type; `_has` selects the ids referenced by a nested search on the referring type; both only
reach what the caller may see (`Context.visible`). `_filter` expressions (parsed by filter.py)
compile here too, test by test, through the same types.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fhirserver.core.errors import bad_request
from fhirserver.storage.models import ResourceRecord
from resources.types import R4_RESOURCE_TYPES

from . import filter as filter_tree
from .conditions import (
    EVERYTHING,
    RECORDS,
    Rows,
    Sql,
    Where,
    all_of,
    columns,
    eq,
    in_rows,
    like,
    one_of,
    where_any,
)
from .models import ReferenceIndex, TextIndex
from .params import TYPES, Condition, date, reference
from .params.base import PREFIXED, filter_literal
from .parser import Filter, parse_name
from .registry import SearchParam, get_param
from .values import normalize_text, split_escaped

MAX_CHAIN_DEPTH = 4


@dataclass
class Context:
    base_url: str = ""
    contained: bool = False  # match contained resources (index rows typed "#Type")
    ignored: list[str] = field(default_factory=list)
    # What the caller may see of a type (the access decision's search filter); None = everything.
    # Every step a search takes into other resources (chain, `_has`, `_filter` path) is held to it.
    visible: Callable[[str], Where] | None = None

    def index_type(self, resource_type: str) -> str:
        return "#" + resource_type if self.contained else resource_type

    def nested(self) -> Context:
        """The context of a search on other resources a step away (chain target, `_has` source)."""
        return Context(self.base_url, visible=self.visible)

    def reach(self, resource_type: str) -> Where:
        return self.visible(resource_type) if self.visible is not None else EVERYTHING


class UnknownParameter(Exception):
    pass


def lookup(resource_type: str | None, name: str) -> SearchParam | None:
    if resource_type is None:  # system search: only parameters every type has
        param = get_param("Basic", name)
        return param if param and (not param.base or set(param.base) & {"Resource", "DomainResource"}) else None
    return get_param(resource_type, name)


def compile_filters(resource_type: str | None, filters: list[Filter], ctx: Context) -> tuple[Where, list[Filter]]:
    """(condition on stored records, the filters applied). Unknown parameters are left out and noted
    in ctx.ignored."""
    q, applied = EVERYTHING, []
    for f in filters:
        try:
            q &= filter_q(resource_type, f, ctx, depth=0)
            applied.append(f)
        except UnknownParameter as exc:
            ctx.ignored.append(str(exc))
    return q, applied


def _rows(model, resource_type: str | None, condition: Sql, ctx: Context) -> Rows:
    if resource_type is not None:
        condition = eq("resource_type", ctx.index_type(resource_type)) & condition
    return Rows(model._meta.db_table, condition)


def filter_q(resource_type: str | None, f: Filter, ctx: Context, depth: int) -> Where:
    if depth > MAX_CHAIN_DEPTH:
        raise bad_request("Chains are limited to four levels", code="SEARCH_CHAIN_TOO_DEEP")
    if f.name == "_has":
        return _has_q(resource_type, f, ctx, depth)
    param = lookup(resource_type, f.name)
    if param is None:
        raise UnknownParameter(f.raw_name)
    if f.chain:
        return _chain_q(resource_type, param, f, ctx, depth)
    kind = TYPES[param.type]
    if f.modifier == "missing":
        if f.raw_value not in ("true", "false"):
            raise bad_request(f"{f.raw_name} must be true or false", code="SEARCH_BAD_MISSING")
        present = _matching(kind.missing(param), resource_type, ctx)  # _id, _list...: no index rows, a 400
        return ~present if f.raw_value == "true" else present
    special = SPECIAL_FILTERS.get(param.name)
    if special:
        return special(resource_type, f, ctx)
    return _matching(kind.condition(param, f.values, f.modifier, ctx.base_url), resource_type, ctx)


def _matching(condition: Condition, resource_type: str | None, ctx: Context) -> Where:
    """Records with a row of `condition` (or, negated, without one)."""
    matched = Where.of(_rows(condition.model, resource_type, condition.where, ctx))
    return ~matched if condition.negated else matched


def record_ids(resource_type: str, where: Where) -> Rows:
    """Ids of the records matching `where`. Index conditions alone are already that (index rows exist
    only for current, non-deleted records of their type): no need to visit the records themselves."""
    if where.drivers and where.rest.always:
        return where.drivers[0].narrowed(where.drivers[1:])
    return Rows(RECORDS, columns(resource_type=resource_type, deleted=False) & where.sql(), "id")


def _chain_q(resource_type: str | None, param: SearchParam, f: Filter, ctx: Context, depth: int) -> Where:
    """`subject:Patient.name=x`: references whose target matches a search on the target type."""
    if param.type != "reference":
        raise bad_request(f"Only reference parameters can be chained ({f.raw_name})", code="SEARCH_BAD_CHAIN")
    name, modifier, chain = parse_name(f.chain)
    inner = Filter(name, modifier, chain, f.values, f.chain, f.raw_value)
    targets = [
        t for t in ([f.modifier] if f.modifier else list(param.targets))
        if t in R4_RESOURCE_TYPES and (name == "_has" or get_param(t, name) is not None)
    ]
    if not targets:
        raise UnknownParameter(f.raw_name)
    return chain_q(resource_type, param, targets,
                   lambda target, inner_ctx: filter_q(target, inner, inner_ctx, depth + 1), ctx)


def chain_q(resource_type: str | None, param: SearchParam, targets: list[str], inner, ctx: Context) -> Where:
    """Records whose reference `param` points at a `targets` resource the caller may see and that
    matches `inner(target, context)`: the one chain step of both ordinary chains and `_filter` paths."""
    alternatives = []
    for target in targets:
        inner_ctx = ctx.nested()
        matched = inner(target, inner_ctx) & ctx.reach(target)
        target_ids = Rows(RECORDS, columns(resource_type=target, deleted=False) & matched.sql(), "logical_id")
        alternatives.append(Where.of(_rows(
            ReferenceIndex, resource_type,
            columns(name=param.name, target_type=target) & in_rows("target_id", target_ids), ctx,
        )))
    return where_any(alternatives)


def _has_q(resource_type: str | None, f: Filter, ctx: Context, depth: int) -> Where:
    """`_has:Observation:patient:code=x`: resources referenced (through `patient`) by matching Observations."""
    source_type, ref_name, rest = f.has
    if resource_type is None:
        raise bad_request("_has needs a resource type", code="SEARCH_BAD_HAS")
    if source_type not in R4_RESOURCE_TYPES:
        raise bad_request(f"_has: unknown resource type {source_type}", code="SEARCH_BAD_HAS")
    ref_param = get_param(source_type, ref_name)
    if ref_param is None or ref_param.type != "reference":
        raise bad_request(f"_has: {source_type} has no reference parameter {ref_name}", code="SEARCH_BAD_HAS")
    name, modifier, chain = parse_name(rest)
    inner = Filter(name, modifier, chain, f.values, rest, f.raw_value)
    # only sources the caller may see answer: else `_has` tells what another patient's records say
    source_ids = record_ids(source_type, filter_q(source_type, inner, ctx.nested(), depth + 1) & ctx.reach(source_type))
    target_ids = Rows(
        ReferenceIndex._meta.db_table,
        columns(resource_type=source_type, name=ref_name, target_type=resource_type) & in_rows("record_id", source_ids),
        "target_id",
    )
    return Where(rest=in_rows("logical_id", target_ids))


# --- parameters answered from the record row or computed at query time ---------------------------

def _id_q(resource_type, f: Filter, ctx: Context) -> Where:
    if f.modifier not in (None, "not"):
        raise bad_request(f"Modifier :{f.modifier} is not supported on _id", code="SEARCH_BAD_MODIFIER")
    ids = Where(rest=one_of("logical_id", ["".join(split_escaped(v, ",")) for v in f.values]))
    return ~ids if f.modifier == "not" else ids


def _last_updated_q(resource_type, f: Filter, ctx: Context) -> Where:
    if f.modifier:
        raise bad_request(f"Modifier :{f.modifier} is not supported on _lastUpdated", code="SEARCH_BAD_MODIFIER")
    return where_any(Where(rest=date.compare(*date.parse("_lastUpdated", v), "last_updated", "last_updated"))
                     for v in f.values)


def _text_q(field_name: str):
    def q(resource_type, f: Filter, ctx: Context) -> Where:
        if f.modifier not in (None, "contains"):
            raise bad_request(f"Modifier :{f.modifier} is not supported on {f.name}", code="SEARCH_BAD_MODIFIER")
        alternatives = []
        for value in f.values:
            words = normalize_text("".join(split_escaped(value, ",")), limit=None).split()
            condition = all_of(like(field_name, "contains", word) for word in words)
            if resource_type is not None:
                condition &= eq("resource_type", resource_type)
            alternatives.append(Where.of(Rows(TextIndex._meta.db_table, condition)))
        return where_any(alternatives)

    return q


def _list_q(resource_type, f: Filter, ctx: Context) -> Where:
    ids: list[str] = []
    # only Lists the caller may see: else `_list=<another patient's List>` tells what it holds
    lists = ResourceRecord.objects.filter(
        (Where(rest=columns(resource_type="List", deleted=False) & one_of("logical_id", f.values))
         & ctx.reach("List")).q())
    for record in lists:
        for entry in record.content.get("entry", []):
            target_type, target_id, _ = reference.parse_reference(
                (entry.get("item") or {}).get("reference", ""), ctx.base_url
            )
            if target_id and (resource_type is None or target_type == resource_type):
                ids.append(target_id)
    return Where(rest=one_of("logical_id", ids))


# What `_filter` may ask of the parameters above (the types' own operations are in params/).
SPECIAL_FILTER_OPS = {
    "_id": ("eq", "ne"),
    "_lastUpdated": PREFIXED + ("po",),
    "_text": ("co",),
    "_content": ("co",),
    "_list": ("eq",),
}


# --- _filter: the expression's tree through the same conditions ----------------------------------

def _filter_q(resource_type: str | None, f: Filter, ctx: Context) -> Where:
    """`_filter=...`: a condition on stored records."""
    if f.modifier:
        raise filter_tree.error(f"modifier :{f.modifier} is not allowed on _filter", code="SEARCH_BAD_MODIFIER")
    return _node_q(resource_type, filter_tree.parse_filter(f.raw_value), ctx)


def _node_q(resource_type: str | None, node, ctx: Context, depth: int = 0) -> Where:
    if isinstance(node, filter_tree.Logical):
        q = _node_q(resource_type, node.parts[0], ctx, depth)
        for part in node.parts[1:]:
            other = _node_q(resource_type, part, ctx, depth)
            q = (q & other) if node.op == "and" else (q | other)
        return q
    if isinstance(node, filter_tree.Not):
        return ~_node_q(resource_type, node.part, ctx, depth)
    return _test_q(resource_type, node, ctx, depth)


def _filter_param(resource_type: str | None, name: str) -> SearchParam:
    param = lookup(resource_type, name)
    if param is None or name == "_filter":
        where = f" on {resource_type}" if resource_type else ""
        raise filter_tree.error(
            f"unknown search parameter '{name}'{where}", code="SEARCH_UNKNOWN_PARAMETER", issue_code="not-supported"
        )
    return param


def _test_q(resource_type: str | None, test: filter_tree.Test, ctx: Context, depth: int) -> Where:
    if depth > MAX_CHAIN_DEPTH:
        raise bad_request("Chains are limited to four levels", code="SEARCH_CHAIN_TOO_DEEP")
    param = _filter_param(resource_type, test.path[0])
    if len(test.path) > 1:
        return _filter_chain_q(resource_type, param, test, ctx, depth)
    allowed = SPECIAL_FILTER_OPS[param.name] if param.name in SPECIAL_FILTER_OPS else TYPES[param.type].filter_ops
    if test.op not in allowed:
        raise filter_tree.error(
            f"operation '{test.op}' is not supported on {param.type} parameter '{param.name}' "
            f"(supported: {', '.join(allowed) or 'none'})",
            code="SEARCH_FILTER_UNSUPPORTED",
            issue_code="not-supported",
        )

    def ordinary(modifier: str | None, value: str) -> Where:
        raw = f"{param.name}:{modifier}" if modifier else param.name
        return filter_q(resource_type, Filter(param.name, modifier, None, [value], raw, value), ctx, depth)

    value, op = test.value, test.op
    if op == "pr":
        if value.lower() not in ("true", "false"):
            raise filter_tree.error(f"'{param.name} pr' takes true or false, got '{value}'")
        return ordinary("missing", "false" if value.lower() == "true" else "true")
    literal = filter_literal(value)
    if param.name == "_id":
        return ordinary(None if op == "eq" else "not", literal)
    if param.name in ("_text", "_content", "_list"):  # words that must all occur; a List's id
        return ordinary(None, literal)
    if param.name == "_lastUpdated":
        if op == "po":
            low, high = date.search_date_range(value, name=param.name)
            return Where(rest=date.compare("eq", low, high, "last_updated", "last_updated"))
        return ordinary(None, op + literal)
    asked = TYPES[param.type].filter_test(param, op, value, ctx.base_url)
    if isinstance(asked, Condition):
        return _matching(asked, resource_type, ctx)
    return ordinary(*asked)


def _filter_chain_q(
    resource_type: str | None, param: SearchParam, test: filter_tree.Test, ctx: Context, depth: int
) -> Where:
    """`subject.name co "pet"`: references whose target matches the rest of the path (the one chain step)."""
    if param.type != "reference":
        raise filter_tree.error(f"only reference parameters can be chained ('{'.'.join(test.path)}')",
                                code="SEARCH_BAD_CHAIN")
    rest = filter_tree.Test(test.path[1:], test.op, test.value)
    targets = [t for t in param.targets if t in R4_RESOURCE_TYPES and get_param(t, rest.path[0]) is not None]
    if not targets:
        raise filter_tree.error(
            f"no target of '{param.name}' has a search parameter '{rest.path[0]}'",
            code="SEARCH_UNKNOWN_PARAMETER",
            issue_code="not-supported",
        )
    return chain_q(resource_type, param, targets,
                            lambda target, inner_ctx: _test_q(target, rest, inner_ctx, depth + 1), ctx)


SPECIAL_FILTERS = {"_id": _id_q, "_lastUpdated": _last_updated_q, "_text": _text_q("narrative"),
                   "_content": _text_q("content"), "_list": _list_q, "_filter": _filter_q}
