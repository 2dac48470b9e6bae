"""issue 16: decimals are kept exactly. In FHIR a decimal's precision is part of its value, so `13.50`
must come back as `13.50` (not 13.5), `1e245` as `1e245`, `0.000000001` as `0.000000001`, from every
interaction and in JSON and XML. Bodies are sent and checked as raw text: a JSON parser on the test's
side would hide exactly what is tested."""
import json
import re

import pytest

pytestmark = pytest.mark.django_db

LOINC = "http://loinc.org"
NUMBERS = ["13.50", "1e245", "0.000000001", "-0.10", "2.0E-3", "100.000"]


def observation(id: str, value: str = "13.50", patient: str = "dec-p") -> str:
    """An Observation as raw JSON text, so that its numbers are exactly the text written here."""
    return (
        '{"resourceType":"Observation","id":"%s","status":"final",'
        '"code":{"coding":[{"system":"%s","code":"2345-7"}]},"subject":{"reference":"Patient/%s"},'
        '"valueQuantity":{"value":%s,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},'
        '"referenceRange":[{"low":{"value":0.50,"unit":"mg/dL"},"high":{"value":1e245,"unit":"mg/dL"}}],'
        '"component":[{"code":{"text":"tiny"},"valueQuantity":{"value":0.000000001}},'
        '{"code":{"text":"negative"},"valueQuantity":{"value":-0.10}},'
        '{"code":{"text":"exponent"},"valueQuantity":{"value":2.0E-3}},'
        '{"code":{"text":"zeros"},"valueQuantity":{"value":100.000}}]}'
    ) % (id, LOINC, patient, value)


PATIENT = ('{"resourceType":"Patient","id":"dec-p","extension":[{"url":"http://example.org/weight",'
           '"valueDecimal":70.10}],"birthDate":"1980-01-01"}')


def assert_exact(text: str, value: str = "13.50") -> None:
    for number in (value, "0.50", "1e245", "0.000000001", "-0.10", "2.0E-3", "100.000"):
        assert re.search(r'"value":\s*' + re.escape(number) + r"\b", text), (number, text[:600])


@pytest.fixture
def stored(fhir):
    assert fhir.put("Patient/dec-p", PATIENT).status_code in (200, 201)
    created = fhir.put("Observation/dec-1", observation("dec-1"))
    assert created.status_code == 201, created.content
    return created


def test_create_answer_read_and_vread_keep_the_text(fhir, stored):
    assert_exact(stored.content.decode())
    assert_exact(fhir.get("Observation/dec-1").content.decode())
    assert_exact(fhir.get("Observation/dec-1/_history/1").content.decode())
    pretty = fhir.get("Observation/dec-1?_pretty=true").content.decode()
    assert "\n" in pretty
    assert_exact(pretty)
    posted = fhir.post("Observation", observation("ignored", "4.20"), Prefer="return=representation")
    assert posted.status_code == 201
    assert_exact(posted.content.decode(), "4.20")


def test_history_search_include_and_everything_keep_the_text(fhir, stored):
    assert fhir.put("Observation/dec-1", observation("dec-1", "13.60")).status_code == 200
    history = fhir.get("Observation/dec-1/_history").content.decode()
    assert '"value":13.60' in history and '"value":13.50' in history
    assert '"value":13.60' in fhir.get("Observation/_history").content.decode()
    found = fhir.get("Observation?subject=Patient/dec-p&_include=Observation:subject")
    text = found.content.decode()
    assert found.json()["total"] == 1
    assert_exact(text, "13.60")
    assert '"valueDecimal":70.10' in text  # the included Patient
    elements = fhir.get("Observation?subject=Patient/dec-p&_elements=valueQuantity").content.decode()
    assert '"value":13.60' in elements  # a shaped resource is re-serialised, with its decimals' text
    everything = fhir.get("Patient/dec-p/$everything")
    assert everything.status_code == 200
    assert_exact(everything.content.decode(), "13.60")
    assert '"valueDecimal":70.10' in everything.content.decode()


def test_transaction_and_batch_keep_the_text(fhir, stored):
    entry = json.loads(observation("x"))
    del entry["id"]
    body = ('{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1",'
            '"resource":%s,"request":{"method":"POST","url":"Observation"}}]}') % observation("tx", "7.250")
    answer = fhir.post("", body, Prefer="return=representation")
    assert answer.status_code == 200, answer.content
    assert_exact(answer.content.decode(), "7.250")
    location = answer.json()["entry"][0]["response"]["location"]
    assert_exact(fhir.get(location.split("/_history")[0]).content.decode(), "7.250")
    batch = fhir.post("", '{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET",'
                          '"url":"Observation/dec-1"}},{"request":{"method":"GET","url":"Observation?_id=dec-1"}}]}')
    assert batch.status_code == 200
    assert batch.content.decode().count('"value":13.50') == 2


def test_xml_writes_and_reads_the_text(fhir, stored):
    xml = fhir.get("Observation/dec-1", Accept="application/fhir+xml").content.decode()
    for number in ("13.50", "0.50", "1e245", "0.000000001", "-0.10", "2.0E-3", "100.000"):
        assert f'<value value="{number}"/>' in xml, number
    sent = xml.replace('<value value="13.50"/>', '<value value="5.500"/>').replace("dec-1", "dec-xml")
    put = fhir.put("Observation/dec-xml", sent, content_type="application/fhir+xml")
    assert put.status_code == 201, put.content
    assert_exact(fhir.get("Observation/dec-xml").content.decode(), "5.500")
    bundle = fhir.get("Observation?_id=dec-1,dec-xml", Accept="application/fhir+xml").content.decode()
    assert '<value value="13.50"/>' in bundle and '<value value="5.500"/>' in bundle


def test_patch_keeps_untouched_and_new_decimals(fhir, stored):
    patched = fhir.patch("Observation/dec-1", '[{"op":"replace","path":"/valueQuantity/value","value":9.90}]',
                         content_type="application/json-patch+json")
    assert patched.status_code == 200, patched.content
    assert_exact(fhir.get("Observation/dec-1").content.decode(), "9.90")


@pytest.mark.parametrize("query, expected", [
    ("13.50", {"q-13.50", "q-13.496", "q-13.504"}),  # [13.495, 13.505)
    ("13.5", {"q-13.50", "q-13.496", "q-13.504", "q-13.46", "q-13.54"}),  # [13.45, 13.55)
    ("eq13.500", {"q-13.50"}),  # [13.4995, 13.5005)
    ("gt13.50", {"q-13.504", "q-13.54", "q-13.506"}),
])
def test_search_uses_the_precision_of_the_query(fhir, query, expected):
    for value in ("13.50", "13.496", "13.504", "13.46", "13.54", "13.494", "13.506"):
        assert fhir.put(f"Observation/q-{value}", observation(f"q-{value}", value, patient="q")).status_code == 201
    bundle = fhir.get(f"Observation?subject=Patient/q&value-quantity={query}").json()
    expected_all = expected if query != "13.5" else expected | {"q-13.494", "q-13.506"}
    assert {e["resource"]["id"] for e in bundle["entry"]} == expected_all


def test_bad_numbers_are_still_refused(fhir):
    for text, words in (('"abc"', "valueQuantity"), ("1.2.3", "JSON"), ("NaN", "JSON"), ("Infinity", "JSON")):
        answer = fhir.post("Observation", observation("bad", text))
        assert answer.status_code == 400, (text, answer.content)
        body = answer.json()
        assert body["resourceType"] == "OperationOutcome"
        assert words.lower() in json.dumps(body).lower(), (text, body)
    assert fhir.get("Observation?_id=bad").json()["total"] == 0


@pytest.mark.parametrize("element, value, path", [
    ("valueQuantity", '{"value":"13.50","unit":"mg/dL"}', "Observation.valueQuantity.value"),
    ("valueInteger", '"12"', "Observation.valueInteger"),
    ("valueBoolean", '"true"', "Observation.valueBoolean"),
    ("valueString", "12", "Observation.valueString"),
    ("component", '[{"code":{"text":"x"},"valueQuantity":{"value":"0.50"}}]',
     "Observation.component[0].valueQuantity.value"),
])
def test_a_primitive_of_the_wrong_json_type_is_a_400_naming_it(fhir, element, value, path):
    """R4 JSON: a decimal is a JSON number, not a string (the R4B models would coerce "13.50")."""
    body = '{"resourceType":"Observation","status":"final","code":{"text":"x"},"%s":%s}' % (element, value)
    answer = fhir.post("Observation", body)
    assert answer.status_code == 400, answer.content
    issues = answer.json()["issue"]
    assert [i["expression"] for i in issues] == [[path]], issues
    assert fhir.get("Observation").json()["total"] == 0
