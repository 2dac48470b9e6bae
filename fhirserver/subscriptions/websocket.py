"""The websocket channel: a small threaded websocket server on its own port, beside the WSGI app.

Django's runserver and gunicorn's sync workers speak WSGI, which has no websockets; an ASGI stack
(Channels, uvicorn workers) would change how the whole API is served for one channel. Instead the
`websockets` library serves ws:// on SUBSCRIPTIONS["WEBSOCKET_PORT"] from a thread of the web
process (one connection = one thread), started by the sweep (scheduler.py). See docs/subscriptions.md.

Protocol (Backport IG, Channels: websockets): the client gets a token from `$get-ws-binding-token`,
connects, and sends `bind-with-token` (as text `bind-with-token: <token>` or as JSON
`{"type": "bind-with-token", "payload": {"token": "..."}}`); the server answers with a `handshake`
Bundle per subscription of the token, then sends each pending `event-notification` (first the
events that waited while no client was bound) and `heartbeat`s, as text frames of notification
Bundle JSON. `unbind-from-token` stops them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connections

from fhirserver.subscriptions import notifications
from fhirserver.subscriptions.background import background_priority, now
from fhirserver.subscriptions.models import BindingToken, SubscriptionState
from resources import decimals

log = logging.getLogger("fhirserver.subscriptions")
_server = None
_server_lock = threading.Lock()
_generation = 0  # bumped when this process matched events for a websocket subscription
_generation_lock = threading.Condition()
POLL_SECONDS = 0.5  # events matched by another process are found this often


def wake() -> None:
    global _generation
    with _generation_lock:
        _generation += 1
        _generation_lock.notify_all()


def start() -> bool:
    """Serve websockets in this process if the port is free; True when this process serves them."""
    global _server
    with _server_lock:
        if _server is not None:
            return True
        from websockets.sync.server import serve

        config = settings.SUBSCRIPTIONS
        try:
            _server = serve(_connection, config["WEBSOCKET_HOST"], config["WEBSOCKET_PORT"])
        except OSError:  # another process of the pool holds the port
            return False
        threading.Thread(target=_server.serve_forever, name="subscriptions-websocket", daemon=True).start()
        log.info("websocket channel on ws://%s:%s", config["WEBSOCKET_HOST"], config["WEBSOCKET_PORT"])
        return True


def stop() -> None:
    global _server
    with _server_lock:
        if _server is not None:
            _server.shutdown()
            _server = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _connection(socket) -> None:
    background_priority()
    bound: dict[int, float] = {}  # subscription pk -> when the last notification went out
    seen_generation, last_poll = -1, 0.0
    try:
        while True:
            try:
                message = socket.recv(timeout=0.05)
            except TimeoutError:
                message = None
            if message is not None:
                _handle(socket, message, bound, notifications)
            if not bound:
                continue
            with _generation_lock:
                generation = _generation
            if generation != seen_generation or time.monotonic() - last_poll >= POLL_SECONDS:
                seen_generation, last_poll = generation, time.monotonic()
                _push(socket, bound, notifications)
    except Exception as error:  # noqa: BLE001 - the client went away (ConnectionClosed) or the database did
        if type(error).__name__ not in ("ConnectionClosedOK", "ConnectionClosedError", "ConnectionClosed"):
            log.exception("websocket connection failed")
    finally:
        connections.close_all()


def _handle(socket, message, bound: dict, notifications) -> None:
    action, token = _parse(message)
    if action is None:
        socket.send(json.dumps({"type": "error", "message": "expected bind-with-token or unbind-from-token"}))
        return
    row = BindingToken.objects.filter(token_hash=token_hash(token)).first()
    if row is None or row.expires_at <= now():
        socket.send(json.dumps({"type": "error", "message": "the binding token is unknown or has expired"}))
        return
    states = SubscriptionState.objects.filter(logical_id__in=row.subscriptions, channel_type="websocket")
    for state in states:
        if action == "unbind":
            bound.pop(state.pk, None)
            continue
        socket.send(decimals.dumps(notifications.bundle(state, _base(state), "handshake")))
        bound[state.pk] = time.monotonic()


def _parse(message) -> tuple[str | None, str]:
    text = message.decode() if isinstance(message, bytes) else message
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None, ""
        kind, token = data.get("type", ""), str((data.get("payload") or {}).get("token", ""))
    else:
        kind, _, token = text.replace(":", " ", 1).partition(" ")
        token = token.strip()
    action = {"bind-with-token": "bind", "unbind-from-token": "unbind"}.get(kind)
    return (action, token) if action and token else (None, "")


def _push(socket, bound: dict, notifications) -> None:
    limit = settings.SUBSCRIPTIONS["MAX_EVENTS_PER_NOTIFICATION"]
    for state in SubscriptionState.objects.filter(pk__in=list(bound)):
        if state.status != SubscriptionState.ACTIVE:
            continue
        pending = list(state.notifications.filter(event_number__gt=state.delivered_upto)
                       .order_by("event_number")[:limit])
        claimed = pending and SubscriptionState.objects.filter(pk=state.pk, delivered_upto=state.delivered_upto) \
            .update(delivered_upto=pending[-1].event_number)  # one connection sends them, whichever claims first
        if claimed:
            try:
                socket.send(decimals.dumps(notifications.bundle(state, _base(state), "event-notification", pending)))
            except Exception:
                SubscriptionState.objects.filter(pk=state.pk, delivered_upto=pending[-1].event_number).update(
                    delivered_upto=state.delivered_upto)  # not sent after all: the next client gets them
                raise
            bound[state.pk] = time.monotonic()
        elif state.heartbeat_seconds and time.monotonic() - bound[state.pk] >= state.heartbeat_seconds:
            socket.send(decimals.dumps(notifications.bundle(state, _base(state), "heartbeat")))
            bound[state.pk] = time.monotonic()


def _base(state) -> str:
    return state.base_url or settings.FHIR.get("BASE_URL") or "http://localhost/fhir"


def new_token_expiry():
    return now() + timedelta(seconds=settings.SUBSCRIPTIONS["BINDING_TOKEN_SECONDS"])
