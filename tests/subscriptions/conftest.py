"""A real HTTP receiver (a threaded HTTP server on loopback) and the background machinery running."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from resources import decimals

TOPIC = "http://fhirserver.example.org/fhir/SubscriptionTopic/"
IG = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"


class Receiver:
    """Collects what is POSTed to it; can refuse (`down`) or hold requests (`hold`)."""

    def __init__(self):
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.down = False
        self.hold = threading.Event()
        self.hold.set()
        self.drop_held = False
        self.refused = 0
        self.held = 0  # requests that arrived while held  # a held request whose sender died: never processed
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if receiver.down:
                    with receiver.arrived:
                        receiver.refused += 1
                        receiver.arrived.notify_all()
                    self.send_response(503)
                    self.end_headers()
                    return
                if not receiver.hold.is_set():
                    with receiver.arrived:
                        receiver.held += 1
                        receiver.arrived.notify_all()
                    receiver.hold.wait(30)
                    if receiver.drop_held:
                        return
                with receiver.arrived:
                    receiver.received.append(decimals.loads(body) if body else {})  # decimals with their text
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()} | {"method": self.command,
                                                                                              "path": self.path})
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        with self.arrived:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"not received in {timeout}s; got {[kind(b) for b in self.received]}")
                self.arrived.wait(left)
        return self.received

    def events(self) -> list[int]:
        return [n for bundle in self.received for n in event_numbers(bundle)]

    def close(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def status_of(bundle: dict) -> dict:
    return {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}


def kind(bundle: dict) -> str:
    if not bundle.get("entry"):
        return "?"
    return status_of(bundle)["type"]["valueCode"]


def event_numbers(bundle: dict) -> list[int]:
    if not bundle.get("entry") or kind(bundle) != "event-notification":
        return []
    parameters = bundle["entry"][0]["resource"]["parameter"]
    return [int(part["valueString"]) for p in parameters if p["name"] == "notification-event"
            for part in p["part"] if part["name"] == "event-number"]


def focus_of(bundle: dict) -> list[str]:
    parameters = bundle["entry"][0]["resource"]["parameter"]
    return [part["valueReference"]["reference"] for p in parameters if p["name"] == "notification-event"
            for part in p["part"] if part["name"] == "focus"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def topic_subscription(topic: str, endpoint: str = "", *, filters=(), content="id-only", channel="rest-hook",
                       headers=(), heartbeat=None) -> dict:
    sub = {
        "resourceType": "Subscription",
        "meta": {"profile": [IG + "backport-subscription"]},
        "status": "requested",
        "reason": "test",
        "criteria": TOPIC + topic,
        "channel": {"type": channel, "payload": "application/fhir+json",
                    "_payload": {"extension": [{"url": IG + "backport-payload-content", "valueCode": content}]}},
    }
    if filters:
        sub["_criteria"] = {"extension": [{"url": IG + "backport-filter-criteria", "valueString": f}
                                          for f in filters]}
    if endpoint:
        sub["channel"]["endpoint"] = endpoint
    if headers:
        sub["channel"]["header"] = list(headers)
    if heartbeat:
        sub["channel"]["extension"] = [{"url": IG + "backport-heartbeat-period", "valueUnsignedInt": heartbeat}]
    return sub


def lab_observation(patient: str, code: str = "2345-7", category: str = "laboratory") -> dict:
    return {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": patient},
        "valueQuantity": {"value": 5.5, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    }


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def background(settings, transactional_db):
    """Jobs in process, the sweep ticking fast, the websocket server on a free port."""
    from fhirserver import jobs
    from fhirserver.subscriptions import outbox, scheduler, websocket

    settings.CELERY_BROKER_URL = ""
    settings.SUBSCRIPTIONS = dict(settings.SUBSCRIPTIONS, TICK_SECONDS=0.2, RETRY_BASE_SECONDS=0.2,
                                  RETRY_MAX_SECONDS=0.5, WEBSOCKET_PORT=free_port(), LEASE_SECONDS=2)
    outbox.forget_watched()
    scheduler.start()
    yield settings.SUBSCRIPTIONS
    scheduler.stop()
    websocket.stop()
    jobs.shutdown()
    outbox.forget_watched()


def wait_status(fhir, sub_id: str, status: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        resource = fhir.get(f"Subscription/{sub_id}").json()
        if resource.get("status") == status or time.monotonic() > deadline:
            assert resource.get("status") == status, resource
            return resource
        time.sleep(0.05)
