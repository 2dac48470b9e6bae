"""special parameters with index rows. R4 has one: Location `near`, on `Location.position`.

`near=latitude|longitude|distance|units` (WGS84 degrees; units a UCUM length, `km` when omitted)
matches positions within that great-circle distance, by the haversine formula on a sphere of the
Earth's mean radius, in plain SQL (sin/cos/radians: PostgreSQL and SQLite alike, no PostGIS). A
latitude band (and longitude band away from the poles) lets the index narrow the rows first.
"""
from __future__ import annotations

import math
from decimal import Decimal

from fhirserver.core.errors import bad_request
from resources import ucum

from ..conditions import ALWAYS, Sql, compare, eq, raw
from ..models import PositionIndex
from ..values import parse_decimal, split_escaped
from .base import ParamType, refuse_modifier

model = PositionIndex
MODIFIERS = (None,)
EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
DEFAULT_DISTANCE_KM = 10  # the spec leaves "near" without a distance to the server
UNITS_NOT_IN_UCUM_TABLE = {"[mi_i]": Decimal("1.609344"), "[nmi_i]": Decimal("1.852"), "[mi_us]": Decimal("1.609347")}


def _degrees(value, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    try:
        number = float(Decimal(str(value)))
    except ArithmeticError:
        return None
    return number if low <= number <= high else None


def extract(values: list) -> list[dict]:
    """Rows for Location.position values (`{latitude, longitude}`); values out of range are dropped."""
    rows = []
    for value in values:
        if isinstance(value, dict):
            latitude, longitude = _degrees(value.get("latitude"), -90, 90), _degrees(value.get("longitude"), -180, 180)
            if latitude is not None and longitude is not None:
                rows.append({"latitude": latitude, "longitude": longitude})
    return rows


def kilometres(distance: Decimal, unit: str, *, name: str) -> float:
    if unit in UNITS_NOT_IN_UCUM_TABLE:
        return float(distance * UNITS_NOT_IN_UCUM_TABLE[unit])
    converted = ucum.convert(distance, unit, "km")
    if converted is None:
        raise bad_request(f"{name}: '{unit}' is not a UCUM unit of length (e.g. km, m, [mi_i])", code="SEARCH_BAD_NEAR")
    return float(converted)


def parse_near(name: str, value: str) -> tuple[float, float, float]:
    """`lat|long[|distance[|units]]` -> (latitude, longitude, kilometres)."""
    parts = split_escaped(value, "|")
    if not 2 <= len(parts) <= 4:
        raise bad_request(f"{name} must be latitude|longitude|distance|units, got '{value}'", code="SEARCH_BAD_NEAR")
    latitude = float(parse_decimal(parts[0], name=name))
    longitude = float(parse_decimal(parts[1], name=name))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request(
            f"{name}: latitude must be within ±90 and longitude within ±180, got '{value}'", code="SEARCH_BAD_NEAR"
        )
    distance_text = parts[2] if len(parts) > 2 else ""
    unit = (parts[3] if len(parts) > 3 else "") or "km"
    if not distance_text:
        return latitude, longitude, float(DEFAULT_DISTANCE_KM)
    distance = parse_decimal(distance_text, name=name)
    if distance < 0:
        raise bad_request(f"{name}: the distance cannot be negative, got '{value}'", code="SEARCH_BAD_NEAR")
    return latitude, longitude, kilometres(distance, unit, name=name)


def within(
    latitude: float, longitude: float, km: float, lat_field: str = "latitude", lon_field: str = "longitude"
) -> Sql:
    """Positions whose great-circle distance from (latitude, longitude) is at most `km`."""
    angle = km / EARTH_RADIUS_KM  # central angle, radians
    if angle >= math.pi:
        return ALWAYS  # the whole sphere
    band = math.degrees(angle) + 1e-9
    condition = compare(lat_field, ">=", latitude - band) & compare(lat_field, "<=", latitude + band)
    if abs(latitude) + band < 90:  # away from the poles a longitude band holds every match too
        spread = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(latitude))))) + 1e-9
        low, high = longitude - spread, longitude + spread
        if low < -180:
            condition &= compare(lon_field, ">=", low + 360) | compare(lon_field, "<=", high)
        elif high > 180:
            condition &= compare(lon_field, ">=", low) | compare(lon_field, "<=", high - 360)
        else:
            condition &= compare(lon_field, ">=", low) & compare(lon_field, "<=", high)
    # haversine: hav(d/R) = hav(dlat) + cos(lat1) cos(lat2) hav(dlon), compared without asin/sqrt;
    # SIN, COS, RADIANS and POWER are PostgreSQL's, and Django gives SQLite connections the same.
    phi, lam = math.radians(latitude), math.radians(longitude)
    lat, lon = f'RADIANS("{lat_field}")', f'RADIANS("{lon_field}")'
    haversine = raw(f"(POWER(SIN(({lat} - %s) / 2), 2) + %s * COS({lat}) * POWER(SIN(({lon} - %s) / 2), 2)) <= %s",
                    phi, math.cos(phi), lam, math.sin(angle / 2) ** 2 + 1e-15)
    return condition & haversine


def condition(name: str, value: str, modifier: str | None) -> Sql:
    if name != "near":
        raise bad_request(
            f"Special parameter {name} is not supported", code="SEARCH_BAD_MODIFIER", issue_code="not-supported"
        )
    refuse_modifier(modifier, MODIFIERS, "special", name)
    return eq("name", name) & within(*parse_near(name, value))


class SpecialType(ParamType):
    name = "special"
    model = model
    modifiers = MODIFIERS
    filter_ops = ("eq", "pr")  # near

    extract = staticmethod(extract)

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        return condition(param.name, value, modifier)


TYPE = SpecialType()
