"""Compile parsed filters into a `Q` over ResourceRecord.

Each filter becomes `id IN (SELECT record_id FROM search_<type> WHERE name=... AND <OR of values>)`;
repeating a parameter ANDs such conditions. Chains select target ids with a nested search on the
target type; `_has` selects the ids referenced by a nested search on the referring type.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q

from fhirserver.core.errors import bad_request
from fhirserver.storage.models import ResourceRecord
from resources.types import R4_RESOURCE_TYPES

from .models import INDEX_MODELS, ReferenceIndex, TextIndex, TokenIndex
from .params import composite, date, number, quantity, reference, special, string, token, uri
from .parser import Filter, parse_name
from .registry import SearchParam, get_param
from .sql import Rows
from .values import normalize_text, split_escaped

CONDITIONS = {"string": string.condition, "token": token.condition, "date": date.condition,
              "number": number.condition, "quantity": quantity.condition, "uri": uri.condition,
              "special": special.condition}
MAX_CHAIN_DEPTH = 4


@dataclass
class Context:
    base_url: str = ""
    contained: bool = False  # match contained resources (index rows typed "#Type")
    ignored: list[str] = field(default_factory=list)
    where: Q | None = None  # the compiled condition, once built (the engine reads it to plan the page)
    # What the caller may see of a type (the access decision's search filter); None = everything.
    # Every step a search takes into other resources (chain, `_has`, `_filter` path) is held to it.
    visible: Callable[[str], Q] | None = None

    def index_type(self, resource_type: str) -> str:
        return "#" + resource_type if self.contained else resource_type

    def nested(self) -> Context:
        """The context of a search on other resources a step away (chain target, `_has` source)."""
        return Context(self.base_url, visible=self.visible)

    def reach(self, resource_type: str) -> Q:
        return self.visible(resource_type) if self.visible is not None else Q()


class UnknownParameter(Exception):
    pass


def lookup(resource_type: str | None, name: str) -> SearchParam | None:
    if resource_type is None:  # system search: only parameters every type has
        param = get_param("Basic", name)
        return param if param and (not param.base or set(param.base) & {"Resource", "DomainResource"}) else None
    return get_param(resource_type, name)


def compile_filters(resource_type: str | None, filters: list[Filter], ctx: Context) -> tuple[Q, list[Filter]]:
    """(Q over ResourceRecord, the filters applied). Unknown parameters are left out and noted in ctx.ignored."""
    q, applied = Q(), []
    for f in filters:
        try:
            q &= filter_q(resource_type, f, ctx, depth=0)
            applied.append(f)
        except UnknownParameter as exc:
            ctx.ignored.append(str(exc))
    return q, applied


def _rows(model, resource_type: str | None, condition: Q, ctx: Context) -> Rows:
    if resource_type is not None:
        condition = Q(resource_type=ctx.index_type(resource_type)) & condition
    return Rows(model, condition)


def filter_q(resource_type: str | None, f: Filter, ctx: Context, depth: int) -> Q:
    if depth > MAX_CHAIN_DEPTH:
        raise bad_request("Chains are limited to four levels", code="SEARCH_CHAIN_TOO_DEEP")
    if f.name == "_has":
        return _has_q(resource_type, f, ctx, depth)
    param = lookup(resource_type, f.name)
    if param is None:
        raise UnknownParameter(f.raw_name)
    if f.chain:
        return _chain_q(resource_type, param, f, ctx, depth)
    if f.modifier == "missing":
        if f.raw_value not in ("true", "false"):
            raise bad_request(f"{f.raw_name} must be true or false", code="SEARCH_BAD_MISSING")
        if param.type not in INDEX_MODELS or not param.expression:  # no index rows (_id, _list...)
            raise bad_request(f"{f.name}:missing is not supported", code="SEARCH_BAD_MODIFIER")
        present = Q(id__in=_rows(INDEX_MODELS[param.type], resource_type, Q(name=param.name), ctx))
        return ~present if f.raw_value == "true" else present
    special = SPECIAL_FILTERS.get(param.name)
    if special:
        return special(resource_type, f, ctx)
    if param.type == "reference":
        return _reference_q(resource_type, param, f, ctx)
    if param.type == "composite":
        condition = _any(
            composite.condition(param.name, v, f.modifier, param.components, ctx.base_url) for v in f.values
        )
        return Q(id__in=_rows(INDEX_MODELS["composite"], resource_type, condition, ctx))
    modifier = f.modifier
    negate = param.type == "token" and modifier in ("not", "not-in")
    if negate:
        modifier = None if modifier == "not" else "in"
    condition = _any(CONDITIONS[param.type](param.name, v, modifier) for v in f.values)
    matched = Q(id__in=_rows(INDEX_MODELS[param.type], resource_type, condition, ctx))
    return ~matched if negate else matched


def _any(conditions) -> Q:
    q = None
    for c in conditions:
        q = c if q is None else q | c
    return q if q is not None else Q(pk__in=[])


def _reference_q(resource_type: str | None, param: SearchParam, f: Filter, ctx: Context) -> Q:
    if f.modifier == "identifier":
        condition = _any(reference.identifier_condition(param.name, v) for v in f.values)
        return Q(id__in=_rows(TokenIndex, resource_type, condition, ctx))
    if f.modifier is not None and f.modifier not in R4_RESOURCE_TYPES:
        raise bad_request(
            f"Modifier :{f.modifier} is not supported on reference parameter {f.name}", code="SEARCH_BAD_MODIFIER"
        )
    condition = _any(reference.condition(param.name, v, f.modifier, param.targets, ctx.base_url) for v in f.values)
    return Q(id__in=_rows(ReferenceIndex, resource_type, condition, ctx))


def record_ids(resource_type: str, q: Q):
    """Ids of the records matching `q`. A plain index condition is already that (index rows exist
    only for current, non-deleted records of their type): no need to visit the records themselves."""
    if not q.negated and q.connector == Q.AND and len(q.children) == 1 and isinstance(q.children[0], tuple) \
            and q.children[0][0] == "id__in":
        return q.children[0][1]
    return Rows(ResourceRecord, Q(resource_type=resource_type, deleted=False) & q, "id")


def _chain_q(resource_type: str | None, param: SearchParam, f: Filter, ctx: Context, depth: int) -> Q:
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


def chain_q(resource_type: str | None, param: SearchParam, targets: list[str], inner, ctx: Context) -> Q:
    """Records whose reference `param` points at a `targets` resource the caller may see and that
    matches `inner(target, context)`: the one chain step of both ordinary chains and `_filter` paths."""
    q = Q(pk__in=[])
    for target in targets:
        inner_ctx = ctx.nested()
        target_ids = Rows(
            ResourceRecord,
            Q(resource_type=target, deleted=False) & inner(target, inner_ctx) & ctx.reach(target),
            "logical_id",
        )
        q |= Q(
            id__in=_rows(
                ReferenceIndex, resource_type, Q(name=param.name, target_type=target, target_id__in=target_ids), ctx
            )
        )
    return q


def _has_q(resource_type: str | None, f: Filter, ctx: Context, depth: int) -> Q:
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
        ReferenceIndex,
        Q(resource_type=source_type, name=ref_name, target_type=resource_type),
        "target_id",
        within=(source_ids,),
    )
    return Q(logical_id__in=target_ids)


# --- parameters answered from the record row or computed at query time ---------------------------

def _id_q(resource_type, f: Filter, ctx: Context) -> Q:
    if f.modifier not in (None, "not"):
        raise bad_request(f"Modifier :{f.modifier} is not supported on _id", code="SEARCH_BAD_MODIFIER")
    ids = ["".join(split_escaped(v, ",")) for v in f.values]
    return ~Q(logical_id__in=ids) if f.modifier == "not" else Q(logical_id__in=ids)


def _last_updated_q(resource_type, f: Filter, ctx: Context) -> Q:
    if f.modifier:
        raise bad_request(f"Modifier :{f.modifier} is not supported on _lastUpdated", code="SEARCH_BAD_MODIFIER")
    return _any(date.compare(*date.parse("_lastUpdated", v), "last_updated", "last_updated") for v in f.values)


def _text_q(field_name: str):
    def q(resource_type, f: Filter, ctx: Context) -> Q:
        if f.modifier not in (None, "contains"):
            raise bad_request(f"Modifier :{f.modifier} is not supported on {f.name}", code="SEARCH_BAD_MODIFIER")
        alternatives = []
        for value in f.values:
            words = normalize_text("".join(split_escaped(value, ",")), limit=None).split()
            condition = Q()
            for word in words:
                condition &= Q(**{f"{field_name}__contains": word})
            rows = TextIndex.objects.filter(condition)
            if resource_type is not None:
                rows = rows.filter(resource_type=resource_type)
            alternatives.append(Q(id__in=rows.values("record_id")))
        return _any(alternatives)

    return q


def _list_q(resource_type, f: Filter, ctx: Context) -> Q:
    ids: list[str] = []
    lists = ResourceRecord.objects.filter(resource_type="List", deleted=False, logical_id__in=f.values)
    for record in lists:
        for entry in record.content.get("entry", []):
            target_type, target_id, _ = reference.parse_reference(
                (entry.get("item") or {}).get("reference", ""), ctx.base_url
            )
            if target_id and (resource_type is None or target_type == resource_type):
                ids.append(target_id)
    return Q(logical_id__in=ids)


def _filter_q(resource_type, f: Filter, ctx: Context) -> Q:
    from .filter import filter_q  # filter.py builds on this module

    return filter_q(resource_type, f, ctx)


SPECIAL_FILTERS = {"_id": _id_q, "_lastUpdated": _last_updated_q, "_text": _text_q("narrative"),
                   "_content": _text_q("content"), "_list": _list_q, "_filter": _filter_q}
