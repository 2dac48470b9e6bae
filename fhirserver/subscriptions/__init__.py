"""Subscriptions: topic-based (R4 Subscriptions Backport IG 1.1.0) and classic R4 (docs/subscriptions.md).

    write (any path) --repository observer--> OutboxEvent rows, same transaction   outbox.py
    commit --> matcher job (fhirserver.jobs): trigger, owner access, search engine   matching.py
           --> Notification rows numbered per subscription (eventNumber)
    --> rest-hook delivery job: handshake, events in order, retries, error          delivery.py
    --> websocket server thread: bind-with-token, handshake, events, heartbeats     websocket.py
    sweep thread: leftovers after a restart, retries due, heartbeats                scheduler.py

Subscription resources are read and refused or accepted in `registration`/`lifecycle`; topics are
defined in `topics`; the operations ($status, $events, $get-ws-binding-token) live in
fhirserver/operations/, one file each.
"""
