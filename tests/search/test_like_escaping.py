"""String and uri prefix/suffix/infix searches are written as SQL `LIKE` directly (sql.py): `%`, `_`
and `\\` in a search value are literal characters there, never wildcards."""
from .helpers import idset, q


def test_wildcards_in_a_string_search_are_literal(store, fhir):
    for id_, family in [("under", "Pe_ter"), ("plain", "Peter"), ("pct", "100%Smith"), ("digits", "1000Smith"),
                        ("slash", "Back\\slash")]:
        store({"resourceType": "Patient", "name": [{"family": family}]}, id=id_)
    assert idset(fhir, f"Patient?family={q('pe_')}") == {"under"}
    assert idset(fhir, f"Patient?family={q('100%')}") == {"pct"}
    assert idset(fhir, f"Patient?family:contains={q('0%s')}") == {"pct"}
    assert idset(fhir, f"Patient?family:contains={q('_t')}") == {"under"}
    assert idset(fhir, f"Patient?family={q('back' + chr(92))}") == {"slash"}
    assert idset(fhir, "Patient?family=pe") == {"under", "plain"}


def test_wildcards_in_a_uri_filter_are_literal(store, fhir):
    for id_, url in [("a", "http://acme.org/vs_1"), ("b", "http://acme.org/vsX1")]:
        store({"resourceType": "ValueSet", "status": "active", "url": url}, id=id_)
    assert idset(fhir, "ValueSet?" + q("_filter") + "=" + q('url sw "http://acme.org/vs_"')) == {"a"}
    assert idset(fhir, "ValueSet?" + q("_filter") + "=" + q('url ew "_1"')) == {"a"}
