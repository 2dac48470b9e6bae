"""Counters every worker shares: Redis (INCRBY) when the cache is Redis, else one atomic upsert on a
table of the database. Never process memory: with two workers that would double every limit."""
from __future__ import annotations

import random
import time

from django.core.cache import cache
from django.db import connection

from fhirserver.security.models import RateCounter

SWEEP_ONE_IN = 200  # a call now and then deletes expired windows


def _on_redis() -> bool:
    return type(cache).__name__ == "RedisCache"


def add(key: str, amount: int, ttl: int) -> int:
    """Add `amount` to the counter `key` (created with a lifetime of `ttl` seconds); its new value."""
    if _on_redis():
        try:
            return cache.incr(key, amount)
        except ValueError:  # first count of this window
            return amount if cache.add(key, amount, ttl) else cache.incr(key, amount)
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    now = time.time()
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {table} ("key", "count", "expires") VALUES (%s, %s, %s) ON CONFLICT ("key") '
            f'DO UPDATE SET "count" = {table}."count" + excluded."count" RETURNING "count"',
            [key, amount, now + ttl],
        )
        value = cursor.fetchone()[0]
        if random.randrange(SWEEP_ONE_IN) == 0:
            cursor.execute(f'DELETE FROM {table} WHERE "expires" < %s', [now])
    return int(value)


def get(key: str) -> int:
    if _on_redis():
        return int(cache.get(key) or 0)
    row = RateCounter.objects.filter(key=key, expires__gte=time.time()).values_list("count", flat=True).first()
    return int(row or 0)
