"""SMART scope grammar, v1 and v2, and what a registration lets a client ask for."""
import pytest

from fhirserver.security.scopes import ScopeError, describe, parse_rule, parse_scopes, registration_allows


@pytest.mark.parametrize("text, context, rtype, letters", [
    ("patient/Observation.read", "patient", "Observation", "rs"),
    ("user/*.write", "user", "*", "cud"),
    ("system/*.*", "system", "*", "cruds"),
    ("patient/Observation.rs", "patient", "Observation", "rs"),
    ("user/Patient.cruds", "user", "Patient", "cruds"),
    ("system/Encounter.d", "system", "Encounter", "d"),
])
def test_rules_parse(text, context, rtype, letters):
    rule = parse_rule(text)
    assert (rule.context, rule.resource_type, rule.permissions) == (context, rtype, frozenset(letters))


def test_v2_query_constraint_is_kept_as_pairs():
    rule = parse_rule("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
    assert rule.query == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)


@pytest.mark.parametrize("bad", ["patient/Observation.sr", "patient/Observation.rr", "doctor/Observation.read",
                                 "patient/observation.read", "patient/Observation.read?code=1", "patient/Observation.x",
                                 "Observation.read", "admin"])
def test_malformed_scopes_are_refused(bad):
    with pytest.raises(ScopeError):
        parse_scopes(bad)


def test_non_resource_scopes_are_kept_apart():
    scopes = parse_scopes("openid fhirUser launch/patient offline_access patient/*.rs")
    assert scopes.wants_patient and scopes.wants_refresh
    assert len(scopes.rules) == 1 and "openid" in scopes.others


@pytest.mark.parametrize("registered, requested, allowed", [
    ("patient/*.read launch/patient openid", "patient/Observation.rs launch/patient", True),
    ("patient/*.read", "patient/Observation.c", False),
    ("patient/Observation.rs", "patient/Patient.rs", False),
    ("user/*.cruds", "patient/Observation.rs", False),
    ("patient/Observation.rs?category=x|lab", "patient/Observation.rs?category=x|lab", True),
    ("patient/Observation.rs?category=x|lab", "patient/Observation.rs", False),
    ("patient/*.rs", "patient/Observation.rs?category=x|lab", True),
    ("patient/*.rs", "patient/*.rs openid", False),
])
def test_registration_bounds_requests(registered, requested, allowed):
    assert registration_allows(registered, requested) is allowed


def test_consent_words():
    assert describe("patient/Observation.rs") == "read, search the selected patient's Observation resources"
    assert describe("launch/patient") == "ask which patient to work on"
