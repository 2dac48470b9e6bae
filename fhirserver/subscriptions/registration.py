"""Reading a Subscription resource: what it listens to, where it delivers, and whether we accept it.

Topic-based (Backport IG profile): `criteria` is a topic canonical, `_criteria.extension` holds
filterBy criteria (`[Type?]name[:modifier]=value`, ANDed), `channel._payload.extension` the content
level (empty | id-only | full-resource). Classic R4: `criteria` is a search (`Observation?code=...`)
matched on every create and update. Either way the filters are run by the search engine, and the
request is refused with an OperationOutcome naming the element when the server cannot honour it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings

from fhirserver.core.errors import FhirError
from fhirserver.search import api as search_api
from fhirserver.subscriptions import topics
from resources.types import R4_RESOURCE_TYPES

EXT_FILTER = f"{topics.IG}/StructureDefinition/backport-filter-criteria"
EXT_CONTENT = f"{topics.IG}/StructureDefinition/backport-payload-content"
EXT_HEARTBEAT = f"{topics.IG}/StructureDefinition/backport-heartbeat-period"
EXT_TIMEOUT = f"{topics.IG}/StructureDefinition/backport-timeout"
EXT_MAX_COUNT = f"{topics.IG}/StructureDefinition/backport-max-count"
EXT_CHANNEL_TYPE = f"{topics.IG}/StructureDefinition/backport-channel-type"
CONTENTS = ("empty", "id-only", "full-resource")
CHANNELS = ("rest-hook", "websocket")
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
# Search parameters every type has: allowed in classic criteria besides the type's own.
COMMON_PARAMS = {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "_text", "_content", "_list"}


def invalid(diagnostics: str, path: str, code: str = "SUBSCRIPTION_INVALID", status: int = 422) -> FhirError:
    return FhirError(status, diagnostics, issue_code="invalid" if status != 403 else "forbidden",
                     code=code, expression=[path])


@dataclass
class Parsed:
    topic: str
    resource_type: str
    query: list[tuple[str, str]]
    channel_type: str
    endpoint: str
    mime_type: str
    content: str
    headers: list[str]
    heartbeat_seconds: int | None = None
    timeout_seconds: int | None = None
    max_count: int | None = None
    end: datetime | None = None
    requested_status: str = "requested"
    extra: dict = field(default_factory=dict)


def parse(content: dict) -> Parsed:
    criteria = (content.get("criteria") or "").strip()
    if not criteria:
        raise invalid("Subscription.criteria is required: a topic canonical or a search such as Observation?code=...",
                      "Subscription.criteria")
    channel = content.get("channel") or {}
    channel_type = channel.get("type") or ""
    custom = _extensions(channel.get("_type"), EXT_CHANNEL_TYPE)
    if custom:
        raise invalid("Custom channel types (backport-channel-type) are not supported; use rest-hook or websocket",
                      "Subscription.channel.type", "SUBSCRIPTION_CHANNEL")
    if channel_type not in CHANNELS:
        raise invalid(f"Channel type '{channel_type}' is not supported; this server delivers by rest-hook or websocket",
                      "Subscription.channel.type", "SUBSCRIPTION_CHANNEL")
    topic = topics.find(criteria)
    if topic is not None:
        resource_type, query = topic.resource, _filters(content, topic)
    elif criteria.startswith(("http://", "https://", "urn:")):
        known = ", ".join(t.url for t in topics.TOPICS)
        raise invalid(f"'{criteria}' is not a topic this server implements (it implements {known})",
                      "Subscription.criteria", "SUBSCRIPTION_UNKNOWN_TOPIC")
    else:
        resource_type, query = _classic(criteria)
    mime, content_level = _payload(channel, topic is not None)
    endpoint = (channel.get("endpoint") or "").strip()
    if channel_type == "rest-hook":
        check_endpoint(endpoint)
    headers = [h for h in channel.get("header") or [] if isinstance(h, str)]
    for header in headers:
        name, sep, _ = header.partition(":")
        if not sep or not name.strip() or any(c in header for c in "\r\n"):
            raise invalid(f"Header '{name.strip()}' must be written 'Name: value' on one line",
                          "Subscription.channel.header", "SUBSCRIPTION_HEADER")
    return Parsed(
        topic=topic.url if topic else "", resource_type=resource_type, query=query, channel_type=channel_type,
        endpoint=endpoint if channel_type == "rest-hook" else "", mime_type=mime, content=content_level,
        headers=headers,
        heartbeat_seconds=_unsigned(channel, EXT_HEARTBEAT, "valueUnsignedInt"),
        timeout_seconds=_unsigned(channel, EXT_TIMEOUT, "valueUnsignedInt"),
        max_count=_unsigned(channel, EXT_MAX_COUNT, "valuePositiveInt"),
        end=_instant(content.get("end")), requested_status=content.get("status") or "requested",
    )


def _extensions(element, url: str) -> list[dict]:
    return [e for e in (element or {}).get("extension") or [] if e.get("url") == url]


def _filters(content: dict, topic: topics.Topic) -> list[tuple[str, str]]:
    """The filterBy criteria as search pairs on the focus type, each name one the topic offers."""
    pairs: list[tuple[str, str]] = []
    for extension in _extensions(content.get("_criteria"), EXT_FILTER):
        text = (extension.get("valueString") or "").strip()
        for type_name, name, value in _split_filter(text):
            if type_name and type_name != topic.resource:
                raise invalid(f"Filter '{text}' is on {type_name}; topic {topic.url} filters {topic.resource}",
                              "Subscription.criteria.extension", "SUBSCRIPTION_FILTER")
            base = name.split(":", 1)[0]
            if base not in topic.filter_names():
                offered = ", ".join(sorted(topic.filter_names()))
                raise invalid(f"Topic {topic.url} cannot filter by '{base}' (it offers {offered})",
                              "Subscription.criteria.extension", "SUBSCRIPTION_FILTER")
            pairs.append((name, value))
    return pairs


def _split_filter(text: str) -> list[tuple[str, str, str]]:
    """`Observation?patient=Patient/1&code=x`, `Observation.patient=Patient/1`, `patient=Patient/1`."""
    type_name = ""
    head, sep, rest = text.partition("?")
    if sep and head[:1].isupper() and "=" not in head:
        type_name, text = head, rest
    out = []
    for name, value in parse_qsl(text, keep_blank_values=True):
        if "." in name and name[:1].isupper():
            prefix, name = name.split(".", 1)
            type_name = type_name or prefix
        if not name or value == "":
            raise invalid(f"Filter '{text}' must be name=value", "Subscription.criteria.extension",
                          "SUBSCRIPTION_FILTER")
        out.append((type_name, name, value))
    if not out:
        raise invalid("An empty filter criteria extension", "Subscription.criteria.extension", "SUBSCRIPTION_FILTER")
    return out


def _classic(criteria: str) -> tuple[str, list[tuple[str, str]]]:
    resource_type, _, query = criteria.lstrip("/").partition("?")
    if resource_type not in R4_RESOURCE_TYPES:
        raise invalid(f"Criteria '{criteria}' must start with a resource type (e.g. Observation?code=...)",
                      "Subscription.criteria", "SUBSCRIPTION_CRITERIA")
    pairs = parse_qsl(query, keep_blank_values=True)
    known = {p.name for p in search_api.search_parameters_for(resource_type)} | COMMON_PARAMS
    for name, _ in pairs:
        base = name.split(":", 1)[0].split(".", 1)[0]
        if base not in known or base.startswith("_") and base not in COMMON_PARAMS:
            raise invalid(f"Criteria parameter '{name}' is not a search parameter of {resource_type}",
                          "Subscription.criteria", "SUBSCRIPTION_CRITERIA")
    return resource_type, pairs


def _payload(channel: dict, topic_based: bool) -> tuple[str, str]:
    mime = (channel.get("payload") or "").strip()
    level = next((e.get("valueCode") for e in _extensions(channel.get("_payload"), EXT_CONTENT)), None)
    if level is not None and level not in CONTENTS:
        raise invalid(f"Payload content '{level}' is not one of {', '.join(CONTENTS)}",
                      "Subscription.channel.payload.extension", "SUBSCRIPTION_PAYLOAD")
    if mime:
        kind, *params = [p.strip() for p in mime.split(";")]
        if kind not in JSON_TYPES:
            raise invalid(f"Payload '{mime}' is not supported; notifications are sent as application/fhir+json",
                          "Subscription.channel.payload", "SUBSCRIPTION_PAYLOAD")
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "fhirVersion" and value.strip() not in ("4.0", "4.0.1"):
                raise invalid(f"Notifications are FHIR R4 (fhirVersion=4.0), not {value.strip()}",
                              "Subscription.channel.payload", "SUBSCRIPTION_PAYLOAD")
    elif topic_based:
        mime = "application/fhir+json"
    if not topic_based:
        return mime, "full-resource" if mime else "empty"
    return mime, level or "id-only"


def _unsigned(channel: dict, url: str, key: str) -> int | None:
    for extension in _extensions(channel, url):
        value = extension.get(key)
        if not isinstance(value, int) or value < 0:
            raise invalid(f"{url.rsplit('/', 1)[1]} must be a non-negative integer", "Subscription.channel.extension")
        return value
    return None


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"Subscription.end '{value}' is not an instant", "Subscription.end") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


def check_endpoint(endpoint: str) -> None:
    """https always; http only to this machine's loopback, and never under production settings."""
    path = "Subscription.channel.endpoint"
    if not endpoint:
        raise invalid("A rest-hook subscription needs channel.endpoint (the URL notifications are POSTed to)", path,
                      "SUBSCRIPTION_ENDPOINT")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"Endpoint '{endpoint}' is not an http(s) URL", path, "SUBSCRIPTION_ENDPOINT")
    if parts.username or parts.password:
        raise invalid("Endpoint URLs must not carry credentials; use channel.header", path, "SUBSCRIPTION_ENDPOINT")
    if parts.scheme == "https":
        return
    if settings.SUBSCRIPTIONS["REQUIRE_HTTPS"]:
        raise invalid(f"Endpoint '{endpoint}' must use https", path, "SUBSCRIPTION_ENDPOINT_HTTPS")
    if not is_loopback(parts.hostname):
        raise invalid(f"Endpoint '{endpoint}': plain http is allowed only to loopback (127.0.0.1, ::1, localhost)",
                      path, "SUBSCRIPTION_ENDPOINT_HTTPS")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
