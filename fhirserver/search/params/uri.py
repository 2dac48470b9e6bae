"""uri parameters: exact match, `:below` and `:above` by URL path segments (R4 3.1.1.5.10).

`url:below=http://acme.org/fhir` matches that URL and everything under it (`.../fhir/ValueSet/1`),
not `http://acme.org/fhir-old`; `url:above=http://acme.org/fhir/ValueSet/1` matches that URL and its
ancestors (`.../fhir/ValueSet`, `.../fhir`, `http://acme.org`). Matching stays case-sensitive. The
modifiers only apply to URLs: on a URN (`urn:oid:...`) they are a 400, never a guess.
"""
from __future__ import annotations

from fhirserver.core.errors import bad_request

from ..conditions import Sql, columns, eq, like, one_of
from ..models import UriIndex
from ..values import TEXT_LENGTH, split_escaped
from .base import FILTER_LIKE, Condition, ParamType, filter_literal, refuse_modifier

model = UriIndex
MODIFIERS = (None, "below", "above")


def extract(values: list) -> list[dict]:
    return [{"uri": v[:TEXT_LENGTH]} for v in dict.fromkeys(v for v in values if isinstance(v, str) and v)]


def _url_parts(name: str, uri: str, modifier: str) -> tuple[str, list[str]]:
    """("scheme://authority", path segments) of a URL; a 400 for anything that is not a URL."""
    scheme, sep, rest = uri.partition("://")
    authority = rest.split("/", 1)[0]
    if not sep or not scheme or not authority:
        raise bad_request(f"{name}:{modifier} needs a URL (scheme://host/path), got '{uri}': "
                          f":{modifier} does not apply to URNs or relative URIs", code="SEARCH_BAD_URI")
    path = rest[len(authority):].strip("/")
    return f"{scheme}://{authority}", [s for s in path.split("/") if s] if path else []


def below(name: str, uri: str, field: str = "uri") -> Sql:
    """The URL itself (with or without a trailing slash) and every URL under it by path segment."""
    root, segments = _url_parts(name, uri, "below")
    base = "/".join([root, *segments])
    return one_of(field, [base, base + "/"]) | like(field, "startswith", base + "/")


def above(name: str, uri: str, field: str = "uri") -> Sql:
    """The URL itself and each of its ancestors, down to `scheme://authority`."""
    root, segments = _url_parts(name, uri, "above")
    ancestors = ["/".join([root, *segments[:i]]) for i in range(len(segments) + 1)]
    return one_of(field, ancestors + [a + "/" for a in ancestors] + ([uri] if uri not in ancestors else []))


def condition(name: str, value: str, modifier: str | None) -> Sql:
    refuse_modifier(modifier, MODIFIERS, "uri", name)
    uri = "".join(split_escaped(value, ","))
    if modifier == "below":
        return eq("name", name) & below(name, uri)
    if modifier == "above":
        return eq("name", name) & above(name, uri)
    return columns(name=name, uri=uri)


class UriType(ParamType):
    name = "uri"
    model = model
    modifiers = MODIFIERS
    filter_ops = ("eq", "ne", "co", "sw", "ew", "ss", "sb", "pr")
    sort_by = "uri"
    sort_kind = "str"

    extract = staticmethod(extract)

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        return condition(param.name, value, modifier)

    def filter_test(self, param, op: str, value: str, base_url: str) -> Condition | tuple[str | None, str]:
        if op in ("ss", "sb"):
            return ("below" if op == "ss" else "above"), filter_literal(value)
        if op == "eq":
            return None, filter_literal(value)
        uri = value[:TEXT_LENGTH]
        test = ~eq("uri", uri) if op == "ne" else like("uri", FILTER_LIKE[op], uri)
        return Condition(self.model, eq("name", param.name) & test)


TYPE = UriType()
