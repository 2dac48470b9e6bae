"""What the server keeps about subscriptions besides the Subscription resources themselves.

- `SubscriptionState`: one row per Subscription resource: the parsed channel, topic and filters,
  the owner whose access bounds what it is told, the header secrets (never in the resource), the
  event counter and the delivery state (lease, backoff).
- `OutboxEvent`: one row per write of a watched resource type, inserted in the write's own
  transaction (storage.repository's write observers), so an event exists exactly when its write
  committed. Matching turns it into notifications and deletes it.
- `Notification`: one event of one subscription, numbered in sequence (`eventNumber`), kept for
  `$events` and re-delivery until its retention runs out. Pending = above its subscription's
  `delivered_upto`.
- `BindingToken`: a websocket binding token from `$get-ws-binding-token` (only its hash is stored).
"""
from __future__ import annotations

from django.db import models


class SubscriptionState(models.Model):
    REQUESTED, ACTIVE, ERROR, OFF = "requested", "active", "error", "off"
    REST_HOOK, WEBSOCKET = "rest-hook", "websocket"

    logical_id = models.CharField(max_length=64, unique=True)  # Subscription/<logical_id>
    status = models.CharField(max_length=16, default=REQUESTED)
    error = models.TextField(blank=True, default="")  # why the status is error (also in the resource and $status)
    # What it listens to: a topic canonical (backport), or a classic R4 search URL (topic == "").
    topic = models.CharField(max_length=255, blank=True, default="")
    resource_type = models.CharField(max_length=64)  # the focus type the subscription's events are about
    query = models.JSONField(default=list)  # [[name, value], ...]: filters (topic) or the criteria (classic)
    # The channel.
    channel_type = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=2048, blank=True, default="")
    mime_type = models.CharField(max_length=64, blank=True, default="")  # "" = classic without payload
    content = models.CharField(max_length=16, default="id-only")  # empty | id-only | full-resource
    headers = models.JSONField(default=list)  # ["Name: value", ...]: secrets, never echoed
    heartbeat_seconds = models.PositiveIntegerField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_count = models.PositiveIntegerField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    base_url = models.CharField(max_length=255, blank=True, default="")  # FHIR base for the notifications' URLs
    # The owner: the access of the token that wrote it, rebuilt when events are matched.
    owner_client = models.CharField(max_length=255, blank=True, default="")
    owner_scopes = models.TextField(blank=True, default="")
    owner_patient = models.CharField(max_length=64, blank=True, default="")
    owner_trusted = models.BooleanField(default=False)  # written with security off (or internally): sees all
    # Events: numbered per subscription; outbox rows at or below `start_after` predate it.
    events_since_start = models.PositiveBigIntegerField(default=0)
    start_after = models.BigIntegerField(default=0)
    # Delivery is in eventNumber order, so two high-water marks say it all: events up to `delivered_upto`
    # were accepted by the endpoint; a send of events up to `sending_upto` was started (a resend is a retry).
    delivered_upto = models.PositiveBigIntegerField(default=0)
    sending_upto = models.PositiveBigIntegerField(default=0)
    # Delivery (rest-hook): one worker at a time (lease), the backoff of a failing endpoint.
    lease_until = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)  # any notification (heartbeat timing)
    revision = models.PositiveBigIntegerField(default=0)  # +1 at every change of what matching reads
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "resource_type"], name="subscription_watch")]

    def __str__(self) -> str:
        return f"Subscription/{self.logical_id} ({self.status})"


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    resource_type = models.CharField(max_length=64)
    logical_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    deleted = models.BooleanField(default=False)
    recorded_at = models.DateTimeField()


class Notification(models.Model):
    id = models.BigAutoField(primary_key=True)
    subscription = models.ForeignKey(SubscriptionState, on_delete=models.CASCADE, related_name="notifications")
    event_number = models.PositiveBigIntegerField()
    timestamp = models.DateTimeField()  # when the event happened (the write's lastUpdated)
    focus = models.CharField(max_length=200)  # "Observation/<id>/_history/<version>"
    interaction = models.CharField(max_length=8)  # create | update | delete
    additional_context = models.JSONField(default=list)  # ["Patient/<id>", ...]: what the owner may see

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subscription", "event_number"], name="uniq_event_number")]


class BindingToken(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)  # sha256 hex
    subscriptions = models.JSONField(default=list)  # logical ids
    owner_client = models.CharField(max_length=255, blank=True, default="")
    expires_at = models.DateTimeField()
