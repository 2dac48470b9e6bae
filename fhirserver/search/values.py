"""Value helpers shared by the parameter types: escaping, prefixes, text normalisation, date ranges."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from fhirserver.core.errors import bad_request

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
MIN_DATETIME = datetime(1, 1, 1, tzinfo=timezone.utc)
MAX_DATETIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
TEXT_LENGTH = 255


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on `sep` not preceded by a backslash, then unescape (`\\,` `\\|` `\\$` `\\\\`)."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def split_or(text: str) -> list[str]:
    """Split a parameter value on unescaped commas, keeping the other escapes for the type to read."""
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ",":
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def normalize_text(text: str, limit: int | None = TEXT_LENGTH) -> str:
    """Case- and accent-insensitive form used for string matching."""
    if text.isascii():
        return " ".join(text.lower().split())[:limit]
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())[:limit]


def split_prefix(value: str, *, name: str) -> tuple[str, str]:
    if len(value) >= 2 and value[:2] in PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    if value[:2].isalpha():
        raise bad_request(f"Unknown prefix '{value[:2]}' in {name}={value}", code="SEARCH_BAD_PREFIX")
    return "eq", value


def parse_decimal(text: str, *, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite():
        raise bad_request(f"'{text}' is not a number (parameter {name})", code="SEARCH_BAD_NUMBER")
    return value


def implicit_range(value: Decimal) -> tuple[Decimal, Decimal]:
    """The spec's implicit precision: 100 means [99.5, 100.5), 1e2 means [50, 150)."""
    exponent = value.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (exponent - 1)
    return value - half, value + half


_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2})(?::(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def date_range(text: str) -> tuple[datetime, datetime] | None:
    """[low, high] (both inclusive, microseconds) covered by a FHIR date/dateTime/instant string."""
    m = _DATE.match(text.strip())
    if not m:
        return None
    g = m.groupdict()
    try:
        tz = timezone.utc
        if g["tz"] and g["tz"] != "Z":
            sign = 1 if g["tz"][0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(g["tz"][1:3]), minutes=int(g["tz"][4:6])))
        year = int(g["y"])
        if g["m"] is None:
            low = datetime(year, 1, 1, tzinfo=tz)
            high = datetime(year + 1, 1, 1, tzinfo=tz) if year < 9999 else None
        elif g["d"] is None:
            month = int(g["m"])
            low = datetime(year, month, 1, tzinfo=tz)
            high = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz) if year < 9999 or month < 12 else None
        elif g["H"] is None:
            low = datetime(year, int(g["m"]), int(g["d"]), tzinfo=tz)
            high = low + timedelta(days=1)
        else:
            fraction = g["f"] or ""
            micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
            low = datetime(
                year, int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"] or 0), int(g["S"] or 0), micro, tzinfo=tz
            )
            if fraction:
                step = timedelta(microseconds=max(1, 10 ** (6 - min(len(fraction) - 1, 6))))
            elif g["S"] is not None:
                step = timedelta(seconds=1)
            elif g["M"] is not None:
                step = timedelta(minutes=1)
            else:
                step = timedelta(hours=1)
            high = low + step
    except (ValueError, OverflowError):
        return None
    low = low.astimezone(timezone.utc)
    high = (high - timedelta(microseconds=1)).astimezone(timezone.utc) if high else MAX_DATETIME
    return low, high


def search_date_range(text: str, *, name: str) -> tuple[datetime, datetime]:
    found = date_range(text)
    if found is None:
        raise bad_request(f"'{text}' is not a valid date (parameter {name})", code="SEARCH_BAD_DATE")
    return found
