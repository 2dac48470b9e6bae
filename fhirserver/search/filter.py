"""`_filter` (R4 search_filter.html): an expression parsed into a small tree, then compiled into the
same `Q` the ordinary parameters give, each test through its parameter type's own module.

    _filter=given eq "peter" and (birthdate ge 2014-10-10 or not (gender eq male))
    _filter=subject.name co "pet"          chains through reference parameters, like `subject.name=`
    _filter=code ss http://acme.org/cs|A   subsumption, like `code:below=`

Grammar: `filter = test | filter ("and"|"or") filter | "not" "(" filter ")" | "(" filter ")"`,
`test = paramPath SP op SP value`, values a JSON string or a token (no spaces, `)` or `]`). The
grammar gives `and` and `or` no precedence; like FHIRPath, `not` binds tightest, then `and`, then `or`.
A test the server cannot answer exactly (an operation a parameter type has no meaning for, a
`[filter]` inside a path, an unknown parameter) is a 400 naming it: a term cannot be dropped from an
expression without changing what the expression means.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.db.models import Q

from fhirserver.core.errors import bad_request
from resources.types import R4_RESOURCE_TYPES

from . import compiler
from .models import DateIndex, ReferenceIndex, StringIndex, TokenIndex, UriIndex
from .params import date, reference, token
from .parser import Filter
from .registry import SearchParam, get_param
from .values import TEXT_LENGTH, normalize_text

OPERATIONS = (
    "eq",
    "ne",
    "co",
    "sw",
    "ew",
    "gt",
    "lt",
    "ge",
    "le",
    "sa",
    "eb",
    "ap",
    "pr",
    "po",
    "ss",
    "sb",
    "in",
    "ni",
    "re",
)
PREFIXED = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")  # the ordinary search prefixes
# What each operation means per parameter type; anything else is a 400 (see _test_q).
SUPPORTED = {
    "string": ("eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr"),
    "token": ("eq", "ne", "ss", "sb", "in", "ni", "pr"),
    "date": PREFIXED + ("po", "pr"),
    "number": PREFIXED + ("pr",),
    "quantity": PREFIXED + ("pr",),
    "reference": ("eq", "ne", "re", "pr"),
    "uri": ("eq", "ne", "co", "sw", "ew", "ss", "sb", "pr"),
    "composite": ("eq", "pr"),
    "special": ("eq", "pr"),  # near
}
SPECIAL_SUPPORTED = {
    "_id": ("eq", "ne"),
    "_lastUpdated": PREFIXED + ("po",),
    "_text": ("co",),
    "_content": ("co",),
    "_list": ("eq",),
}


# --- the tree ---------------------------------------------------------------------------------

@dataclass
class Test:
    path: list[str]  # "subject.name" -> ["subject", "name"]
    op: str
    value: str


@dataclass
class Logical:
    op: str  # "and" | "or"
    parts: list


@dataclass
class Not:
    part: object


def _error(message: str, code: str = "SEARCH_BAD_FILTER", issue_code: str = "invalid"):
    return bad_request(f"_filter: {message}", code=code, issue_code=issue_code)


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def parse(self):
        node = self._or()
        self._space()
        if self.pos < len(self.text):
            raise _error(f"unexpected '{self.text[self.pos:self.pos + 20]}' at position {self.pos + 1}")
        return node

    def _space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _keyword(self, word: str) -> bool:
        """`word` next, followed by a space or a parenthesis (not the start of a longer name)."""
        self._space()
        end = self.pos + len(word)
        if self.text[self.pos : end].lower() == word and (
            end == len(self.text) or self.text[end].isspace() or self.text[end] == "("
        ):
            self.pos = end
            return True
        return False

    def _or(self):
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Logical("or", parts)

    def _and(self):
        parts = [self._unary()]
        while self._keyword("and"):
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else Logical("and", parts)

    def _unary(self):
        self._space()
        start = self.pos
        if self._keyword("not"):
            self._space()
            if self.pos < len(self.text) and self.text[self.pos] == "(":
                return Not(self._group())
            self.pos = start  # a parameter that happens to be called "not..."
        self._space()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            return self._group()
        return self._test()

    def _group(self):
        self.pos += 1  # "("
        node = self._or()
        self._space()
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise _error(f"missing ')' at position {self.pos + 1}")
        self.pos += 1
        return node

    def _name(self) -> str:
        start = self.pos
        if self.pos < len(self.text) and (self.text[self.pos].isalpha() or self.text[self.pos] == "_"):
            self.pos += 1
            while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_-"):
                self.pos += 1
        if self.pos == start:
            found = self.text[self.pos:self.pos + 20] or "the end"
            raise _error(f"expected a parameter name at position {self.pos + 1}, found '{found}'")
        return self.text[start:self.pos]

    def _test(self) -> Test:
        self._space()
        path = [self._name()]
        while self.pos < len(self.text) and self.text[self.pos] in ".[":
            if self.text[self.pos] == "[":
                raise _error(
                    f"filters inside a path ('{path[-1]}[...]') are not supported",
                    code="SEARCH_FILTER_UNSUPPORTED",
                    issue_code="not-supported",
                )
            self.pos += 1
            path.append(self._name())
        if self.pos < len(self.text) and self.text[self.pos] == ":":
            raise _error(f"'{'.'.join(path)}:...': modifiers and _has are not part of the R4 _filter grammar",
                         code="SEARCH_FILTER_UNSUPPORTED", issue_code="not-supported")
        if self.pos >= len(self.text) or not self.text[self.pos].isspace():
            raise _error(f"expected a space and an operation after '{'.'.join(path)}' at position {self.pos + 1}")
        self._space()
        op = self.text[self.pos:self.pos + 2].lower()
        if op not in OPERATIONS or (self.pos + 2 < len(self.text) and not self.text[self.pos + 2].isspace()):
            raise _error(f"unknown operation '{self.text[self.pos:].split(' ')[0]}' after '{'.'.join(path)}' "
                         f"(one of {', '.join(OPERATIONS)})")
        self.pos += 2
        if self.pos >= len(self.text):
            raise _error(f"'{'.'.join(path)} {op}' needs a value")
        self._space()
        return Test(path, op, self._value())

    def _value(self) -> str:
        if self.pos >= len(self.text):
            raise _error("a value is missing at the end")
        if self.text[self.pos] == '"':
            return self._string()
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace() and self.text[self.pos] not in ")]":
            self.pos += 1
        if self.pos == start:
            raise _error(f"a value is missing at position {start + 1}")
        return self.text[start:self.pos]

    def _string(self) -> str:
        """A JSON string: `"..."` with JSON's escapes (\\" \\\\ \\/ \\n \\uXXXX ...)."""
        try:
            value, end = json.JSONDecoder().raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            raise _error(f"bad string at position {self.pos + 1}: {exc.msg}") from None
        if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):  # no database stores these
            raise _error(f"the string at position {self.pos + 1} holds a NUL or an unpaired surrogate")
        self.pos = end
        return value


def parse_filter(text: str):
    if not text.strip():
        raise _error("the expression is empty")
    return _Parser(text).parse()


# --- compiling --------------------------------------------------------------------------------

def filter_q(resource_type: str | None, f: Filter, ctx: compiler.Context) -> Q:
    """The compiler's hook for `_filter=...`: a Q over ResourceRecord."""
    if f.modifier:
        raise _error(f"modifier :{f.modifier} is not allowed on _filter", code="SEARCH_BAD_MODIFIER")
    return node_q(resource_type, parse_filter(f.raw_value), ctx)


def node_q(resource_type: str | None, node, ctx: compiler.Context, depth: int = 0) -> Q:
    if isinstance(node, Logical):
        q = node_q(resource_type, node.parts[0], ctx, depth)
        for part in node.parts[1:]:
            other = node_q(resource_type, part, ctx, depth)
            q = (q & other) if node.op == "and" else (q | other)
        return q
    if isinstance(node, Not):
        return ~node_q(resource_type, node.part, ctx, depth)
    return _test_q(resource_type, node, ctx, depth)


def _escape(value: str) -> str:
    """A literal filter value as an ordinary search value (commas and backslashes are syntax there)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$")


def _param(resource_type: str | None, name: str) -> SearchParam:
    param = compiler.lookup(resource_type, name)
    if param is None or name == "_filter":
        where = f" on {resource_type}" if resource_type else ""
        raise _error(
            f"unknown search parameter '{name}'{where}", code="SEARCH_UNKNOWN_PARAMETER", issue_code="not-supported"
        )
    return param


def _test_q(resource_type: str | None, test: Test, ctx: compiler.Context, depth: int) -> Q:
    if depth > compiler.MAX_CHAIN_DEPTH:
        raise bad_request("Chains are limited to four levels", code="SEARCH_CHAIN_TOO_DEEP")
    param = _param(resource_type, test.path[0])
    if len(test.path) > 1:
        return _chain_q(resource_type, param, test, ctx, depth)
    allowed = SPECIAL_SUPPORTED.get(param.name) if param.name in SPECIAL_SUPPORTED else SUPPORTED.get(param.type, ())
    if test.op not in allowed:
        raise _error(
            f"operation '{test.op}' is not supported on {param.type} parameter '{param.name}' "
            f"(supported: {', '.join(allowed) or 'none'})",
            code="SEARCH_FILTER_UNSUPPORTED",
            issue_code="not-supported",
        )

    def ordinary(modifier: str | None, value: str) -> Q:
        raw = f"{param.name}:{modifier}" if modifier else param.name
        return compiler.filter_q(resource_type, Filter(param.name, modifier, None, [value], raw, value), ctx, depth)

    value, op = test.value, test.op
    if op == "pr":
        if value.lower() not in ("true", "false"):
            raise _error(f"'{param.name} pr' takes true or false, got '{value}'")
        return ordinary("missing", "false" if value.lower() == "true" else "true")
    if param.type == "composite":
        return ordinary(None, value.replace("\\", "\\\\").replace(",", "\\,"))
    literal = _escape(value)
    if param.name == "_id":
        return ordinary(None if op == "eq" else "not", literal)
    if param.name in ("_text", "_content", "_list"):  # words that must all occur; a List's id
        return ordinary(None, literal)
    if param.name == "_lastUpdated" and op == "po":
        low, high = date.search_date_range(value, name=param.name)
        return Q(last_updated__gte=low, last_updated__lte=high)
    if op in PREFIXED and param.type in ("date", "number", "quantity"):
        return ordinary(None, op + literal)
    if param.type == "string":
        return _string_q(resource_type, param, op, value, ctx)
    if param.type == "date":  # po: the stored period overlaps the value's implied period
        low, high = date.search_date_range(value, name=param.name)
        return _rows(DateIndex, resource_type, Q(name=param.name, low__lte=high, high__gte=low), ctx)
    if op in ("ss", "sb"):  # the value subsumes / is subsumed by an item in the set
        return ordinary("below" if op == "ss" else "above", literal)
    if op in ("in", "ni"):
        return ordinary("in" if op == "in" else "not-in", literal)
    if param.type == "uri" and op in ("ne", "co", "sw", "ew"):
        lookup = {"ne": "uri", "co": "uri__contains", "sw": "uri__startswith", "ew": "uri__endswith"}[op]
        condition = Q(**{lookup: value[:TEXT_LENGTH]})
        return _rows(UriIndex, resource_type, Q(name=param.name) & (~condition if op == "ne" else condition), ctx)
    if op == "ne" and param.type == "token":
        return _rows(TokenIndex, resource_type, Q(name=param.name) & ~token.token_q(literal, name=param.name), ctx)
    if op == "ne" and param.type == "reference":
        same = reference.condition(param.name, literal, None, param.targets, ctx.base_url)
        return _rows(ReferenceIndex, resource_type, Q(name=param.name) & ~same, ctx)
    return ordinary(None, literal)  # eq (token, reference, uri, composite, near) and re


def _rows(model, resource_type: str | None, condition: Q, ctx: compiler.Context) -> Q:
    return Q(id__in=compiler._rows(model, resource_type, condition, ctx))


def _string_q(resource_type: str | None, param: SearchParam, op: str, value: str, ctx: compiler.Context) -> Q:
    """Strings compare case- and accent-insensitively (the normalised column), whole values for eq/ne."""
    norm = normalize_text(value)
    lookup = {"eq": "value", "ne": "value", "co": "value__contains", "sw": "value__startswith", "ew": "value__endswith",
              "gt": "value__gt", "lt": "value__lt", "ge": "value__gte", "le": "value__lte"}[op]
    condition = Q(**{lookup: norm})
    return _rows(StringIndex, resource_type, Q(name=param.name) & (~condition if op == "ne" else condition), ctx)


def _chain_q(resource_type: str | None, param: SearchParam, test: Test, ctx: compiler.Context, depth: int) -> Q:
    """`subject.name co "pet"`: references whose target matches the rest of the path (the compiler's chain step)."""
    if param.type != "reference":
        raise _error(f"only reference parameters can be chained ('{'.'.join(test.path)}')", code="SEARCH_BAD_CHAIN")
    rest = Test(test.path[1:], test.op, test.value)
    targets = [t for t in param.targets if t in R4_RESOURCE_TYPES and get_param(t, rest.path[0]) is not None]
    if not targets:
        raise _error(
            f"no target of '{param.name}' has a search parameter '{rest.path[0]}'",
            code="SEARCH_UNKNOWN_PARAMETER",
            issue_code="not-supported",
        )
    return compiler.chain_q(resource_type, param, targets,
                            lambda target, inner_ctx: _test_q(target, rest, inner_ctx, depth + 1), ctx)
