"""Content negotiation: `_format`, `Accept`, `Content-Type` and their `fhirVersion` parameter."""
from __future__ import annotations

from fhirserver.core.errors import FhirError

JSON_TYPES = {"application/fhir+json", "application/json", "json", "text/json"}
XML_TYPES = {"application/fhir+xml", "application/xml", "xml", "text/xml"}
FHIR_XML = "application/fhir+xml"
SUPPORTED_VERSIONS = {"4.0", "4.0.1"}


def _media_ranges(header: str) -> list[tuple[str, dict[str, str], float]]:
    ranges = []
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        media, *params = [p.strip() for p in item.split(";")]
        values = {}
        for p in params:
            key, _, value = p.partition("=")
            values[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(values.pop("q", "1"))
        except ValueError:
            quality = 1.0
        ranges.append((media.lower(), values, quality))
    return ranges


def response_media_type(format_param: str | None, accept: str | None) -> str:
    """The media type to answer with, or FhirError 406 when we can't serve what is asked."""
    if format_param:
        # An unencoded "+" in a query string arrives as a space: "application/fhir json".
        chosen = format_param.split(";")[0].strip().lower().replace(" ", "+")
        if chosen in JSON_TYPES:
            return "application/json" if chosen in ("application/json", "text/json") else "application/fhir+json"
        if chosen in XML_TYPES:
            return _xml_answer(chosen)
        if chosen in ("html", "text/html"):
            return "application/fhir+json"
        raise FhirError(
            406,
            f"_format '{format_param}' is not supported; "
            "this server speaks application/fhir+json and application/fhir+xml",
            issue_code="not-supported",
            code="FORMAT_NOT_SUPPORTED",
        )
    if not accept:
        return "application/fhir+json"
    acceptable = False
    for media, params, quality in sorted(_media_ranges(accept), key=lambda r: -r[2]):
        if quality <= 0:
            continue
        version = params.get("fhirversion")
        servable = media in JSON_TYPES or media in XML_TYPES or media in ("*/*", "application/*", "text/html")
        if servable and version and version not in SUPPORTED_VERSIONS:
            raise FhirError(406, f"fhirVersion {version} is not supported; this server is FHIR 4.0.1",
                            issue_code="not-supported", code="FHIR_VERSION_NOT_SUPPORTED")
        if media in XML_TYPES:
            return _xml_answer(media)
        if servable:
            return "application/json" if media == "application/json" else "application/fhir+json"
        acceptable = acceptable or media.startswith("text/")
    if acceptable:
        return "application/fhir+json"
    raise FhirError(
        406,
        f"None of Accept '{accept}' can be served; this server speaks application/fhir+json and application/fhir+xml",
        issue_code="not-supported",
        code="FORMAT_NOT_SUPPORTED",
    )


def is_xml(media_type: str) -> bool:
    return media_type.split(";")[0].strip().lower() in XML_TYPES


def _xml_answer(media: str) -> str:
    # R4 http.html: answer in the XML mime type the client named; "xml" alone means FHIR's own.
    return FHIR_XML if media == "xml" else media


def request_media_type(content_type: str) -> tuple[str, dict[str, str]]:
    ranges = _media_ranges(content_type or "")
    if not ranges:
        return "", {}
    media, params, _ = ranges[0]
    version = params.get("fhirversion")
    if version and version not in SUPPORTED_VERSIONS:
        raise FhirError(415, f"fhirVersion {version} is not supported; this server is FHIR 4.0.1",
                        issue_code="not-supported", code="FHIR_VERSION_NOT_SUPPORTED")
    return media, params
