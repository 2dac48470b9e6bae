"""uri parameters: exact match, `:below` (prefix) and `:above` (the value's ancestors)."""
from __future__ import annotations

from django.db.models import Q

from fhirserver.core.errors import bad_request

from ..models import UriIndex
from ..values import TEXT_LENGTH, split_escaped

model = UriIndex
MODIFIERS = (None, "below", "above")


def extract(values: list) -> list[dict]:
    return [{"uri": v[:TEXT_LENGTH]} for v in dict.fromkeys(v for v in values if isinstance(v, str) and v)]


def condition(name: str, value: str, modifier: str | None) -> Q:
    if modifier not in MODIFIERS:
        raise bad_request(f"Modifier :{modifier} is not supported on uri parameter {name}", code="SEARCH_BAD_MODIFIER")
    uri = "".join(split_escaped(value, ","))
    if modifier == "below":
        return Q(name=name, uri__startswith=uri)
    if modifier == "above":
        parts = uri.split("/")
        return Q(name=name, uri__in=["/".join(parts[:i]) for i in range(3, len(parts) + 1)])
    return Q(name=name, uri=uri)
