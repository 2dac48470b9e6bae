"""Writing index rows: every parameter of the resource's type, extracted from its current content.

Runs inside the storage write transaction. Rows of many records go out in one `bulk_create` per
table, so a transaction Bundle costs a handful of INSERTs, not one per value.
"""
from __future__ import annotations

import re
from typing import Iterable

from fhirserver.storage.models import ResourceRecord

from .models import INDEX_MODELS, TextIndex, TokenIndex
from .params import composite, date, number, quantity, reference, string, token, uri
from .registry import indexed_params
from .values import normalize_text

EXTRACTORS = {"string": string.extract, "token": token.extract, "date": date.extract, "number": number.extract,
              "quantity": quantity.extract, "reference": reference.extract, "uri": uri.extract}
CONTAINED_PREFIX = "#"  # index rows of contained resources use resource_type "#Type" (for _contained)
_TAG = re.compile(r"<[^>]+>")


def rows_for(resource_type: str, content: dict, record_id: int) -> dict[str, list]:
    """Unsaved index rows of one resource, by parameter type."""
    out: dict[str, list] = {kind: [] for kind in INDEX_MODELS}
    _collect(out, resource_type, resource_type, content, record_id)
    for contained in content.get("contained", []) or []:
        if isinstance(contained, dict) and contained.get("resourceType"):
            _collect(out, contained["resourceType"], CONTAINED_PREFIX + contained["resourceType"], contained, record_id)
    return out


def _collect(out: dict, resource_type: str, stored_type: str, content: dict, record_id: int) -> None:
    for param in indexed_params(resource_type):
        values = param.extractor(resource_type)(content)
        if not values:
            continue
        if param.type == "composite":
            rows = composite.extract(values, param.components)
        else:
            rows = EXTRACTORS[param.type](values)
        model = INDEX_MODELS[param.type]
        for row in rows:
            name = param.name + row.pop("name_suffix", "")
            out[param.type].append(model(record_id=record_id, resource_type=stored_type, name=name, **row))
        if param.type == "reference":
            for row in reference.extract_identifiers(values):
                out["token"].append(TokenIndex(record_id=record_id, resource_type=stored_type, name=param.name + reference.IDENTIFIER, **row))


def _strings(node, out: list[str]) -> None:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in ("div", "reference", "system", "url", "resourceType"):
                _strings(value, out)
    elif isinstance(node, list):
        for value in node:
            _strings(value, out)


def full_text(content: dict) -> tuple[str, str]:
    """(narrative, content) normalised for `_text` / `_content`."""
    div = (content.get("text") or {}).get("div") or ""
    narrative = normalize_text(_TAG.sub(" ", div), limit=None) if div else ""
    parts: list[str] = []
    _strings(content, parts)
    return narrative, normalize_text(" ".join(parts), limit=None)


def index_records(records: Iterable[ResourceRecord], *, clear: bool | None = None) -> None:
    """Rewrite the index rows of `records`. `clear=None`: clear only records that may have rows
    (updates and deletes; a version-1 record is new)."""
    records = list(records)
    stale = [r.id for r in records if clear or (clear is None and (r.version > 1 or r.deleted))]
    if stale:
        for model in INDEX_MODELS.values():
            model.objects.filter(record_id__in=stale).delete()
        TextIndex.objects.filter(record_id__in=stale).delete()
    batches: dict[str, list] = {kind: [] for kind in INDEX_MODELS}
    texts = []
    for record in records:
        if record.deleted or not record.content:
            continue
        for kind, rows in rows_for(record.resource_type, record.content, record.id).items():
            batches[kind].extend(rows)
        narrative, content = full_text(record.content)
        texts.append(TextIndex(record_id=record.id, resource_type=record.resource_type, narrative=narrative, content=content))
    for kind, rows in batches.items():
        if rows:
            INDEX_MODELS[kind].objects.bulk_create(rows, batch_size=1000)
    if texts:
        TextIndex.objects.bulk_create(texts, batch_size=1000)


def reindex(*, types: list[str] | None = None, batch: int = 500) -> int:
    """Rewrite the rows of every current record (optionally of some types), a batch per transaction."""
    from django.db import transaction

    records = ResourceRecord.objects.filter(deleted=False).order_by("id")
    if types:
        records = records.filter(resource_type__in=types)
    done, last_id = 0, 0
    while True:
        chunk = list(records.filter(id__gt=last_id)[:batch])
        if not chunk:
            return done
        with transaction.atomic():
            index_records(chunk, clear=True)
        done += len(chunk)
        last_id = chunk[-1].id
