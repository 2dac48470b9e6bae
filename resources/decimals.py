"""FHIR decimals kept exactly, from request to storage to every response (JSON and XML).

In FHIR a decimal's precision is part of its value (http://hl7.org/fhir/R4/datatypes.html#decimal):
a lab that prints `0.50 mg/dL` reported two decimal places, and `value-quantity=0.50` searches
[0.495, 0.505). A Python float forgets this (0.50 -> 0.5), and `1e245` would come back as `1e+245`.

`FhirDecimal` is a float that also carries the number's text as it came. Being a float, everything
that computes with values (search indexing, UCUM conversion, plausibility, validation) works as
before; `str()` gives the text back, and `dumps` writes the text, never a re-formatted float. A
number computed by the server (a float, or a `decimal.Decimal`) is written as such.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import orjson


class FhirDecimal(float):
    """A JSON number with a fraction or an exponent, with its text (`13.50`, `1e245`, `0.000000001`)."""

    __slots__ = ("text",)

    def __new__(cls, text: str):
        value = super().__new__(cls, text)
        value.text = text
        return value

    def __getnewargs__(self):
        return (self.text,)

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def decimal_of(text: str) -> FhirDecimal | int:
    """A number's JSON text as the value `loads` would give for it (ints stay ints)."""
    return json.loads(text, parse_float=FhirDecimal)


class NotJsonNumber(ValueError):
    """NaN or Infinity: JSON (RFC 8259) has no such numbers, and neither has FHIR."""


def _refuse_constant(name: str):
    raise NotJsonNumber(f"{name} is not a JSON number")


def loads(data: str | bytes, *, strict: bool = False) -> Any:
    """JSON with every non-integer number as a FhirDecimal. `strict` refuses NaN and Infinity
    (client input); stored text is read as it was written."""
    if strict:
        return json.loads(data, parse_float=FhirDecimal, parse_constant=_refuse_constant)
    return json.loads(data, parse_float=FhirDecimal)


def fragment(value):
    """orjson's `default`: a decimal as its text."""
    if isinstance(value, FhirDecimal):
        return orjson.Fragment(value.text)
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))  # "1.50", "1E-9": both JSON numbers
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, pretty: bool = False) -> str:
    """Compact (or two-space indented) JSON, decimals as their text."""
    try:
        return orjson.dumps(value, default=fragment, option=orjson.OPT_INDENT_2 if pretty else 0).decode()
    except TypeError:  # an integer beyond 64 bits, a lone surrogate, a non-string key: the standard library's way
        return "".join(_Encoder(indent=2 if pretty else None, separators=None if pretty else (",", ":"),
                                ensure_ascii=False).iterencode(value))


def dumpb(value: Any) -> bytes:
    """`dumps` as UTF-8 bytes (compact)."""
    try:
        return orjson.dumps(value, default=fragment)
    except TypeError:
        return dumps(value).encode("utf-8", "surrogatepass")


def _float_text(value: float, _repr=float.__repr__) -> str:
    if isinstance(value, FhirDecimal):
        return value.text
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return _repr(value)


class _Encoder(json.JSONEncoder):
    """The standard encoder, writing a FhirDecimal's text (its C version always re-formats floats)."""

    def default(self, o):
        if isinstance(o, Decimal) and o.is_finite():
            return FhirDecimal(str(o))
        return super().default(o)

    def iterencode(self, o, _one_shot=False):
        markers = {} if self.check_circular else None
        encode = json.encoder.encode_basestring_ascii if self.ensure_ascii else json.encoder.encode_basestring
        return json.encoder._make_iterencode(
            markers, self.default, encode, self.indent, _float_text, self.key_separator, self.item_separator,
            self.sort_keys, self.skipkeys, _one_shot,
        )(o, 0)
