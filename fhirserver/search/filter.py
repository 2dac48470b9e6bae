"""`_filter` (R4 search_filter.html): the expression's grammar, parsed into a small tree (Test,
Logical, Not). The compiler (compiler.py) turns the tree into the same conditions the ordinary
parameters give, each test through its parameter type (params/), chains through the one chain step.

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

from fhirserver.core.errors import bad_request

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


def error(message: str, code: str = "SEARCH_BAD_FILTER", issue_code: str = "invalid"):
    return bad_request(f"_filter: {message}", code=code, issue_code=issue_code)


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def parse(self):
        node = self._or()
        self._space()
        if self.pos < len(self.text):
            raise error(f"unexpected '{self.text[self.pos:self.pos + 20]}' at position {self.pos + 1}")
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
            raise error(f"missing ')' at position {self.pos + 1}")
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
            raise error(f"expected a parameter name at position {self.pos + 1}, found '{found}'")
        return self.text[start:self.pos]

    def _test(self) -> Test:
        self._space()
        path = [self._name()]
        while self.pos < len(self.text) and self.text[self.pos] in ".[":
            if self.text[self.pos] == "[":
                raise error(
                    f"filters inside a path ('{path[-1]}[...]') are not supported",
                    code="SEARCH_FILTER_UNSUPPORTED",
                    issue_code="not-supported",
                )
            self.pos += 1
            path.append(self._name())
        if self.pos < len(self.text) and self.text[self.pos] == ":":
            raise error(f"'{'.'.join(path)}:...': modifiers and _has are not part of the R4 _filter grammar",
                         code="SEARCH_FILTER_UNSUPPORTED", issue_code="not-supported")
        if self.pos >= len(self.text) or not self.text[self.pos].isspace():
            raise error(f"expected a space and an operation after '{'.'.join(path)}' at position {self.pos + 1}")
        self._space()
        op = self.text[self.pos:self.pos + 2].lower()
        if op not in OPERATIONS or (self.pos + 2 < len(self.text) and not self.text[self.pos + 2].isspace()):
            raise error(f"unknown operation '{self.text[self.pos:].split(' ')[0]}' after '{'.'.join(path)}' "
                         f"(one of {', '.join(OPERATIONS)})")
        self.pos += 2
        if self.pos >= len(self.text):
            raise error(f"'{'.'.join(path)} {op}' needs a value")
        self._space()
        return Test(path, op, self._value())

    def _value(self) -> str:
        if self.pos >= len(self.text):
            raise error("a value is missing at the end")
        if self.text[self.pos] == '"':
            return self._string()
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace() and self.text[self.pos] not in ")]":
            self.pos += 1
        if self.pos == start:
            raise error(f"a value is missing at position {start + 1}")
        return self.text[start:self.pos]

    def _string(self) -> str:
        """A JSON string: `"..."` with JSON's escapes (\\" \\\\ \\/ \\n \\uXXXX ...)."""
        try:
            value, end = json.JSONDecoder().raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            raise error(f"bad string at position {self.pos + 1}: {exc.msg}") from None
        if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):  # no database stores these
            raise error(f"the string at position {self.pos + 1} holds a NUL or an unpaired surrogate")
        self.pos = end
        return value


def parse_filter(text: str):
    if not text.strip():
        raise error("the expression is empty")
    return _Parser(text).parse()
