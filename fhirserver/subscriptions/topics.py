"""The subscription topics this server ships, and how they are published on R4.

A topic says what triggers a notification (a resource type, the interactions, criteria on the
resource as written and, where the change matters, a FHIRPath test on %previous and %current), the
filters a subscriber may set (`canFilterBy`: search parameters of the focus type) and what a
notification carries besides its focus (`notificationShape`).

R4 has no SubscriptionTopic resource. The Backport IG (STU 1.1) advertises topic canonicals in the
CapabilityStatement (the `capabilitystatement-subscriptiontopic-canonical` extension on the
Subscription entry); later versions of the IG also describe Basic-wrapped topics (code
`http://hl7.org/fhir/fhir-types|SubscriptionTopic`, cross-version extensions). This server does both:
`capability()` adds the canonicals, `store_topics()` keeps one Basic resource per topic.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from functools import lru_cache

from fhirserver.storage import repository

log = logging.getLogger("fhirserver.subscriptions")

IG = "http://hl7.org/fhir/uv/subscriptions-backport"
PROFILE_SUBSCRIPTION = f"{IG}/StructureDefinition/backport-subscription"
PROFILE_STATUS = f"{IG}/StructureDefinition/backport-subscription-status-r4"
PROFILE_NOTIFICATION = f"{IG}/StructureDefinition/backport-subscription-notification-r4"
EXT_TOPIC_CANONICAL = f"{IG}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical"
TOPIC_BASE = "http://fhirserver.example.org/fhir/SubscriptionTopic/"
LAB_OBSERVATION = "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
LAB_REPORT = "http://terminology.hl7.org/CodeSystem/v2-0074|LAB"
AI_ASSERTED = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue|AIAST"  # the label $digitize writes


@dataclass(frozen=True)
class Filter:
    name: str  # the filterParameter: a search parameter of the focus type
    description: str


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    description: str
    resource: str  # the focus resource type
    interactions: tuple[str, ...]  # create | update | delete
    criteria: tuple[tuple[str, str], ...]  # queryCriteria.current: a search, run by the search engine
    fhirpath: str = ""  # fhirPathCriteria on %previous and %current (the change, when it matters)
    filters: tuple[Filter, ...] = ()
    context: tuple[str, ...] = ()  # elements of the focus whose references are additional context
    includes: tuple[str, ...] = ()  # notificationShape.include, as the IG writes it

    @property
    def url(self) -> str:
        return TOPIC_BASE + self.slug

    def filter_names(self) -> set[str]:
        return {f.name for f in self.filters}


_SMART_FILTERS = (
    Filter("patient", "The patient the resource is about (Patient/<id>)"),
    Filter("code", "What was tested (system|code, e.g. http://loinc.org|2345-7)"),
    Filter("category", "The category (system|code)"),
)

TOPICS: tuple[Topic, ...] = (
    Topic(
        slug="new-lab-result",
        title="New laboratory result",
        description="An Observation with category laboratory is created (by any client or by $digitize).",
        resource="Observation",
        interactions=("create",),
        criteria=(("category", LAB_OBSERVATION),),
        filters=_SMART_FILTERS,
        context=("subject",),
        includes=("Observation:patient",),
    ),
    Topic(
        slug="lab-report-finalised",
        title="Laboratory report finalised",
        description="A laboratory DiagnosticReport's status becomes final or amended (e.g. a clinician confirms a "
                    "digitised report on the review page).",
        resource="DiagnosticReport",
        interactions=("create", "update"),
        criteria=(("category", LAB_REPORT), ("status", "final,amended")),
        fhirpath="(%previous.id.empty() or %previous.status != %current.status) and "
                 "(%current.status = 'final' or %current.status = 'amended')",
        filters=_SMART_FILTERS,
        context=("subject", "result"),
        includes=("DiagnosticReport:patient", "DiagnosticReport:result"),
    ),
    Topic(
        slug="digitize-finished",
        title="$digitize job finished",
        description="A $digitize job stored what it read: a machine-read laboratory DiagnosticReport (labelled "
                    "AIAST, status preliminary until a clinician confirms it) and its Observations.",
        resource="DiagnosticReport",
        interactions=("create",),
        criteria=(("category", LAB_REPORT), ("_security", AI_ASSERTED)),
        filters=_SMART_FILTERS,
        context=("subject", "result"),
        includes=("DiagnosticReport:patient", "DiagnosticReport:result"),
    ),
)
BY_URL = {t.url: t for t in TOPICS}


def find(url: str) -> Topic | None:
    return BY_URL.get(url.split("|", 1)[0])  # a canonical may carry |version


# --- the change test ------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _compiled(expression: str):
    import fhirpathpy

    return fhirpathpy.compile(expression)


def change_matches(topic: Topic, previous: dict | None, current: dict) -> bool:
    """The topic's FHIRPath test on %previous and %current (true when it has none)."""
    if not topic.fhirpath:
        return True
    # fhirpathpy annotates what it evaluates: give it copies of the stored content.
    context = {"previous": copy.deepcopy(previous) if previous else {}, "current": copy.deepcopy(current)}
    result = _compiled(topic.fhirpath)(context["current"], context)
    return result == [True]


# --- publication ----------------------------------------------------------------------------------
def capability(statement: dict) -> None:
    """Declare the backport: the topics on the Subscription entry, its profile, channels and payloads."""
    statement["instantiates"] = [f"{IG}/CapabilityStatement/backport-subscription-server-r4"]
    statement["implementationGuide"] = [f"{IG}/ImplementationGuide/hl7.fhir.uv.subscriptions-backport|1.1.0"]
    for rest in statement.get("rest", []):
        for entry in rest.get("resource", []):
            if entry.get("type") == "Subscription":
                entry["extension"] = [{"url": EXT_TOPIC_CANONICAL, "valueCanonical": t.url} for t in TOPICS]
                entry["supportedProfile"] = [PROFILE_SUBSCRIPTION]
                entry["documentation"] = (
                    "Topic-based subscriptions (Subscriptions R5 Backport IG 1.1.0) on the topics listed in the "
                    "extensions, and classic R4 subscriptions (criteria = a search URL). Channel types: rest-hook, "
                    "websocket. Payload content: empty, id-only, full-resource. Topics are also readable "
                    "as Basic resources (Basic?code=http://hl7.org/fhir/fhir-types|SubscriptionTopic). "
                    "See docs/subscriptions.md."
                )


def basic_id(topic: Topic) -> str:
    return f"subscriptiontopic-{topic.slug}"


def as_basic(topic: Topic) -> dict:
    """The topic as a Basic resource with cross-version extensions (the IG's R4 representation)."""
    r5 = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
    r4b = "http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic."
    trigger = [{"url": "description", "valueMarkdown": topic.description},
               {"url": "resource", "valueUri": f"http://hl7.org/fhir/StructureDefinition/{topic.resource}"}]
    trigger += [{"url": "supportedInteraction", "valueCode": i} for i in topic.interactions]
    query = "&".join(f"{name}={value}" for name, value in topic.criteria)
    trigger.append({"url": "queryCriteria", "extension": [
        {"url": "current", "valueString": query},
        {"url": "resultForCreate", "valueCode": "test-passes"},
        {"url": "resultForDelete", "valueCode": "test-fails"},
        {"url": "requireBoth", "valueBoolean": False}]})
    if topic.fhirpath:
        trigger.append({"url": "fhirPathCriteria", "valueString": topic.fhirpath})
    extensions = [
        {"url": r5 + "url", "valueUri": topic.url},
        {"url": r5 + "version", "valueString": "1"},
        {"url": r5 + "name", "valueString": topic.slug.replace("-", "_")},
        {"url": r5 + "title", "valueString": topic.title},
        {"url": r5 + "description", "valueMarkdown": topic.description},
        {"url": r4b + "resourceTrigger", "extension": trigger},
    ]
    for item in topic.filters:
        extensions.append({"url": r4b + "canFilterBy", "extension": [
            {"url": "description", "valueMarkdown": item.description},
            {"url": "resource", "valueUri": topic.resource},
            {"url": "filterParameter", "valueString": item.name}]})
    shape = [{"url": "resource", "valueUri": topic.resource}]
    shape += [{"url": "include", "valueString": include} for include in topic.includes]
    extensions.append({"url": r4b + "notificationShape", "extension": shape})
    return {
        "resourceType": "Basic",
        "id": basic_id(topic),
        "modifierExtension": [{"url": r5 + "status", "valueCode": "active"}],
        "extension": extensions,
        "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]},
    }


def store_topics(**kwargs) -> None:
    """post_migrate: the shipped topics as Basic resources, rewritten only when they changed."""
    for topic in TOPICS:
        wanted = as_basic(topic)
        stored = repository.current("Basic", wanted["id"])
        if stored is not None and not stored.deleted and _same(stored.content, wanted):
            continue
        repository.update("Basic", wanted["id"], wanted)
        log.info("subscription topic %s stored as Basic/%s", topic.url, wanted["id"])


def _same(stored: dict, wanted: dict) -> bool:
    return {k: v for k, v in stored.items() if k != "meta"} == wanted
