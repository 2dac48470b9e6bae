"""reference parameters: `Type/id`, `id`, absolute URLs, canonical URLs (`url|version`), `:Type`,
`:identifier` (kept as token rows named `param:identifier`). Chains and `_has` live in the compiler."""
from __future__ import annotations

import re

from django.conf import settings

from fhirserver.core.errors import bad_request
from resources.types import R4_RESOURCE_TYPES

from ..conditions import NEVER, Sql, any_of, columns, eq, one_of
from ..models import ReferenceIndex
from ..values import TEXT_LENGTH, split_escaped
from . import token
from .base import Condition, ParamType, filter_literal

model = ReferenceIndex
IDENTIFIER = ":identifier"
_LOCAL = re.compile(r"^(?:(?P<base>.*)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def parse_reference(text: str, base_url: str = "") -> tuple[str, str, str]:
    """(target_type, target_id, url): type/id for local references, url for the others."""
    m = _LOCAL.match(text)
    if m and (m.group("base") is None or (base_url and m.group("base") == base_url)):
        return m.group("type"), m.group("id"), ""
    return "", "", text.split("|")[0][:TEXT_LENGTH]


def _configured_base() -> str:
    return (settings.FHIR.get("BASE_URL") or "").rstrip("/")


def extract(values: list) -> list[dict]:
    rows, base = [], _configured_base()
    for v in values:
        if isinstance(v, str):  # canonical / uri used as a reference
            text = v
        elif isinstance(v, dict) and isinstance(v.get("reference"), str):
            text = v["reference"]
        else:
            continue
        if text.startswith("#"):
            continue  # contained: not a search target
        target_type, target_id, url = parse_reference(text, base)
        rows.append({"target_type": target_type, "target_id": target_id, "url": url})
    return rows


def extract_identifiers(values: list) -> list[dict]:
    """Token rows for Reference.identifier (for `:identifier`)."""
    return token.extract(
        [v["identifier"] for v in values if isinstance(v, dict) and isinstance(v.get("identifier"), dict)]
    )


def condition(name: str, value: str, modifier: str | None, targets: tuple[str, ...], base_url: str) -> Sql:
    """A condition on ReferenceIndex rows; `modifier` is None or a resource type (`subject:Patient`)."""
    text = "".join(split_escaped(value, ","))
    if not text:
        raise bad_request(f"Empty reference value for {name}", code="SEARCH_BAD_REFERENCE")
    target_type, target_id, url = parse_reference(text, base_url)
    if modifier and target_type and target_type != modifier:
        return NEVER
    if target_type:
        local = columns(name=name, target_type=target_type, target_id=target_id)
        return local | columns(name=name, url=text[:TEXT_LENGTH]) if "://" in text else local
    if "/" not in text and ":" not in text:  # a bare id
        if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", text):
            raise bad_request(f"'{text}' is not a valid id (parameter {name})", code="SEARCH_BAD_REFERENCE")
        if modifier:
            return columns(name=name, target_type=modifier, target_id=text)
        q = columns(name=name, target_id=text)
        return q & one_of("target_type", targets) if targets else q
    return columns(name=name, url=url)


def identifier_condition(name: str, value: str) -> Sql:
    return eq("name", name + IDENTIFIER) & token.token_q(value, name=name)


class ReferenceType(ParamType):
    name = "reference"
    model = model
    filter_ops = ("eq", "ne", "re", "pr")
    sort_by = "target_id"

    extract = staticmethod(extract)

    def condition(self, param, values: list[str], modifier: str | None, base_url: str = "") -> Condition:
        """`:identifier` asks the token rows of Reference.identifier; `:[type]` narrows the target."""
        if modifier == "identifier":
            return Condition(token.model, any_of(identifier_condition(param.name, v) for v in values))
        if modifier is not None and modifier not in R4_RESOURCE_TYPES:
            raise bad_request(
                f"Modifier :{modifier} is not supported on reference parameter {param.name}",
                code="SEARCH_BAD_MODIFIER",
            )
        return Condition(self.model, any_of(condition(param.name, v, modifier, param.targets, base_url)
                                            for v in values))

    def filter_test(self, param, op: str, value: str, base_url: str) -> Condition | tuple[str | None, str]:
        literal = filter_literal(value)
        if op == "ne":  # a row pointing elsewhere
            same = condition(param.name, literal, None, param.targets, base_url)
            return Condition(self.model, eq("name", param.name) & ~same)
        return None, literal  # eq, re


TYPE = ReferenceType()
