"""Location `near` (R4 special parameter): great-circle distance from Location.position."""
from .helpers import idset, q, search

# Paris Notre-Dame as the centre; distances by haversine on the 6371.0088 km sphere
PLACES = {
    "louvre": (48.8606, 2.3376),        # ~1.2 km
    "versailles": (48.8049, 2.1204),    # ~17.6 km
    "orleans": (47.9030, 1.9093),       # ~110.5 km: 0.95° of latitude away, inside a ±1° box but not within 100 km
    "lyon": (45.7640, 4.8357),          # ~391 km
    "london": (51.5074, -0.1278),       # ~344 km
}
CENTRE = "48.8530|2.3499"


def _places(store):
    for id_, (lat, lon) in PLACES.items():
        store({"resourceType": "Location", "name": id_, "position": {"latitude": lat, "longitude": lon}}, id=id_)
    store({"resourceType": "Location", "name": "nowhere"}, id="nowhere")


def test_near_filters_by_distance_in_km_by_default(store, fhir):
    _places(store)
    assert idset(fhir, f"Location?near={q(CENTRE + '|2|km')}") == {"louvre"}
    assert idset(fhir, f"Location?near={q(CENTRE + '|20')}") == {"louvre", "versailles"}  # units omitted: km
    assert idset(fhir, f"Location?near={q(CENTRE + '|100|km')}") == {"louvre", "versailles"}
    assert idset(fhir, f"Location?near={q(CENTRE + '|115|km')}") == {"louvre", "versailles", "orleans"}
    assert idset(fhir, f"Location?near={q(CENTRE + '|350|km')}") == {"louvre", "versailles", "orleans", "london"}
    assert idset(fhir, f"Location?near={q(CENTRE + '|400|km')}") == set(PLACES)


def test_near_converts_ucum_length_units(store, fhir):
    _places(store)
    assert idset(fhir, f"Location?near={q(CENTRE + '|1500|m')}") == {"louvre"}
    assert idset(fhir, f"Location?near={q(CENTRE + '|1200|m')}") == set()  # the Louvre is 1.23 km away
    assert idset(fhir, f"Location?near={q(CENTRE + '|12|[mi_i]')}") == {"louvre", "versailles"}  # 19.3 km
    assert idset(fhir, f"Location?near={q(CENTRE + '|10|[mi_i]')}") == {"louvre"}  # 16.1 km


def test_near_default_distance_and_or_values(store, fhir):
    _places(store)
    assert idset(fhir, f"Location?near={q(CENTRE)}") == {"louvre"}  # the server's 10 km
    assert idset(fhir, f"Location?near={q('45.76|4.83|5|km')},{q('51.5|-0.12|5|km')}") == {"lyon", "london"}
    assert idset(fhir, f"Location?near={q(CENTRE + '|400|km')}&name=l") == {"louvre", "lyon", "london"}
    assert idset(fhir, "Location?near:missing=true") == {"nowhere"}


def test_near_across_the_antimeridian_and_the_pole(store, fhir):
    store(
        {"resourceType": "Location", "name": "fiji-east", "position": {"latitude": -17.0, "longitude": 179.9}},
        id="east",
    )
    store(
        {"resourceType": "Location", "name": "fiji-west", "position": {"latitude": -17.0, "longitude": -179.9}},
        id="west",
    )
    store({"resourceType": "Location", "name": "station", "position": {"latitude": 89.9, "longitude": 0}}, id="north1")
    store(
        {"resourceType": "Location", "name": "station", "position": {"latitude": 89.9, "longitude": 180}}, id="north2"
    )
    assert idset(fhir, f"Location?near={q('-17|180|12|km')}") == {"east", "west"}  # each 10.6 km away, across ±180
    assert idset(fhir, f"Location?near={q('-17|179.95|20|km')}") == {"east", "west"}  # 5.3 and 16 km
    assert idset(fhir, f"Location?near={q('-17|179.95|8|km')}") == {"east"}
    assert idset(fhir, f"Location?near={q('-17|-179.95|8|km')}") == {"west"}
    assert idset(fhir, f"Location?near={q('89.9|90|30|km')}") == {
        "north1",
        "north2",
    }  # each 15.7 km away, over the pole


def test_near_updates_follow_the_position(store, fhir):
    _places(store)
    store(
        {"resourceType": "Location", "name": "louvre", "position": {"latitude": 45.7640, "longitude": 4.8357}},
        id="louvre",
    )
    assert idset(fhir, f"Location?near={q(CENTRE + '|2|km')}") == set()
    assert idset(fhir, f"Location?near={q('45.7640|4.8357|1|km')}") == {"louvre", "lyon"}


def test_near_malformed_is_a_400(store, fhir):
    _places(store)
    for value in (
        "48.85",
        "91|2|1|km",
        "48|181|1|km",
        "48|2|-1|km",
        "48|2|1|kg",
        "48|2|1|parsec",
        "a|b|1|km",
        "1|2|3|km|5",
    ):
        outcome = search(fhir, f"Location?near={q(value)}", status=400)
        assert outcome["resourceType"] == "OperationOutcome"
    search(fhir, f"Location?near:exact={q(CENTRE)}", status=400)


def test_capability_statement_lists_near(fhir):
    statement = fhir.get("metadata").json()
    location = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Location")
    near = next(p for p in location["searchParam"] if p["name"] == "near")
    assert near["type"] == "special" and near["definition"] == "http://hl7.org/fhir/SearchParameter/Location-near"


def test_near_inside_filter(store, fhir):
    _places(store)
    assert idset(fhir, "Location?_filter=" + q(f"near eq {CENTRE}|20|km and not (name sw v)")) == {"louvre"}
    assert idset(fhir, "Location?_filter=" + q(f"near eq {CENTRE}|2|km or name eq lyon")) == {"louvre", "lyon"}
