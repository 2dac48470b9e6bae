"""NDJSON files of an export, written through Django's storage API (settings.BULK["STORAGE"]).

Each type's lines go to a local temporary file that is handed to the storage when it reaches
BULK["FILE_MAX_BYTES"] (then the next part starts) or when the type is done: the local file system
by default, S3-compatible object storage with django-storages' backend, either way without the
export ever holding more than one fetch of rows in memory.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages

NDJSON = "application/fhir+ndjson"


def storage():
    return storages[settings.BULK["STORAGE"]]


def folder(job_id) -> str:
    return f"bulk/{job_id}"


@dataclass
class Part:
    resource_type: str
    number: int
    file: tempfile._TemporaryFileWrapper
    size: int = 0
    count: int = 0


class NdjsonFiles:
    """The parts of one export. `entries` lists what was stored: type, storage name, count."""

    def __init__(self, job_id, max_bytes: int | None = None, prefix: str = ""):
        self.job_id, self.prefix = job_id, prefix  # prefix: "deleted-" files beside the output of one type
        self.max_bytes = int(max_bytes or settings.BULK["FILE_MAX_BYTES"])
        self.open: dict[str, Part] = {}
        self.numbers: dict[str, int] = {}
        self.entries: list[dict] = []

    def write(self, resource_type: str, lines: list[str]) -> None:
        if not lines:
            return
        chunk = ("\n".join(lines) + "\n").encode()
        part = self._part(resource_type)
        if part.size + len(chunk) <= self.max_bytes:
            self._append(part, chunk, len(lines))
            return
        for line in lines:  # the batch crosses the limit: split between lines
            data = (line + "\n").encode()
            if part.count and part.size + len(data) > self.max_bytes:
                self.close(resource_type)
                part = self._part(resource_type)
            self._append(part, data, 1)

    def _append(self, part: Part, data: bytes, lines: int) -> None:
        part.file.write(data)
        part.size += len(data)
        part.count += lines

    def _part(self, resource_type: str) -> Part:
        part = self.open.get(resource_type)
        if part is None:
            number = self.numbers[resource_type] = self.numbers.get(resource_type, 0) + 1
            part = self.open[resource_type] = Part(resource_type, number, tempfile.TemporaryFile())
        return part

    def close(self, resource_type: str) -> None:
        part = self.open.pop(resource_type, None)
        if part is None:
            return
        try:
            if part.count:
                part.file.seek(0)
                name = storage().save(f"{folder(self.job_id)}/{self.prefix}{resource_type}-{part.number}.ndjson",
                                      File(part.file))
                self.entries.append({"type": resource_type, "name": name, "count": part.count})
        finally:
            part.file.close()

    def close_all(self) -> None:
        for resource_type in list(self.open):
            self.close(resource_type)

    def discard(self) -> None:
        for part in self.open.values():
            part.file.close()
        self.open.clear()


def remove(job) -> None:
    """Every file of an export: the manifest's, and whatever an attempt that died left behind."""
    store = storage()
    names = {entry["name"] for entry in list(job.output or []) + list(job.errors or []) + list(job.deleted or [])}
    try:
        _, found = store.listdir(folder(job.id))
        names |= {f"{folder(job.id)}/{name}" for name in found}
    except (FileNotFoundError, NotImplementedError):
        pass
    for name in names:
        store.delete(name)


def basename(name: str) -> str:
    return name.rsplit("/", 1)[-1]
