"""The audit spool: a durable hand-off between answering a request and storing its audit row.

A request's record is appended as one JSON line to this process's spool file before the response is
handed to the WSGI server. write(2) puts it in the kernel's page cache, so a worker killed right
after answering loses nothing (a machine that loses power can lose the lines the disk had not synced
yet: docs/security.md). A daemon thread per process, the drainer, moves spooled lines into the audit
table in batches: one multi-row INSERT per batch, in its own transaction, then deletes the file.

Files and who drains them, in FHIR["AUDIT_SPOOL_DIR"]/<database>/:
- a process writes `<host>-<pid>-<random>.spool` and holds an exclusive flock on it all its life;
  each drain swaps in a fresh file under the append lock and drains the previous one to its end;
- a file whose flock can be taken belongs to a dead process (the kernel dropped its lock): any
  process that takes the lock drains the file and deletes it;
- every line carries a unique key (the `key` column, ON CONFLICT DO NOTHING), so a file drained twice
  (a crash between the commit and the deletion, or a reader catching up on a live process's file)
  adds nothing twice.
"""
from __future__ import annotations

import atexit
import fcntl
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from fhirserver.security.models import AuditRecord

log = logging.getLogger("fhirserver.security")
DRAIN_SECONDS = 0.2  # how stale the audit table may be behind the spool, at most, on a live process
BATCH_LINES = 500  # a drain starts early once this many records wait
RECLAIM_SECONDS = 2.0  # how often a drainer looks for the files of dead processes
STORE_CHUNK = 2000  # records per INSERT
IDLE_CYCLES = 10  # a drainer with nothing to store for this many cycles (2 s) closes its connection
COLUMNS = [f.column for f in AuditRecord._meta.concrete_fields if not f.primary_key]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class SpoolFile:
    path: Path
    fd: int
    written: int = 0  # records appended by this process


def directory() -> Path:
    """This database's spool folder: processes on other databases never drain each other's records."""
    db = connection.settings_dict
    name = _SAFE.sub("_", f"{connection.vendor}-{db.get('HOST') or ''}-{db.get('PORT') or ''}-{db['NAME']}")
    return Path(settings.FHIR["AUDIT_SPOOL_DIR"]) / name[-120:]


def lines_of(data: bytes) -> list[bytes]:
    """Complete lines only: a line being written (or torn by a full disk) has no newline yet."""
    return [line for line in data[: data.rfind(b"\n") + 1].split(b"\n") if line.strip()]


class Spool:
    """This process's spool and its drainer."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.append_lock = threading.Lock()  # appends and the swap of the current file
        self.drain_lock = threading.RLock()  # one drain or reclaim at a time in this process
        self.start_lock = threading.Lock()
        self.wake = threading.Event()
        self.current: SpoolFile | None = None
        self.pending: list[SpoolFile] = []  # swapped out, not yet drained (the database was away)
        self.folder: Path | None = None
        self.key_prefix = f"{secrets.randbits(64):016x}"
        self.sequence = 0
        self.thread: threading.Thread | None = None
        self.last_reclaim = 0.0

    # --- the request's side ----------------------------------------------------------------------
    def append(self, row: dict) -> None:
        """Spool one record (a dict of column -> JSON value); raises OSError when the disk refuses it."""
        with self.append_lock:
            self.sequence += 1
            row["key"] = f"{self.key_prefix}{self.sequence:016x}"
            line = dumps(row)
            if self.current is None:
                self.current = self._new_file()
            current = self.current
            written = os.write(current.fd, line)
            current.written += 1
            if written != len(line):  # a full disk: the torn line is skipped by every reader
                os.write(current.fd, b"\n")
                raise OSError(f"audit spool: short write to {current.path}")
        if current.written >= BATCH_LINES:
            self.wake.set()
        if self.thread is None:
            self._start()

    # --- draining --------------------------------------------------------------------------------
    def drain(self) -> int:
        """Store what this process has spooled so far; the number of records stored."""
        with self.drain_lock:
            if self.current is not None and self.current.written:
                fresh = self._new_file()  # made here, so a request never waits for a file to be created
                with self.append_lock:
                    full, self.current = self.current, fresh
                self.pending.append(full)
            stored = 0
            for spooled in list(self.pending):
                stored += store(lines_of(_read(spooled.fd)))
                os.unlink(spooled.path)
                os.close(spooled.fd)
                self.pending.remove(spooled)
            return stored

    def catch_up(self) -> None:
        """Before the log is read: store every record spooled so far by any process on this machine
        (answered requests appear in an AuditEvent search at once, whichever worker answered them)."""
        self.drain()
        self.reclaim(live_too=True)

    def reclaim(self, *, live_too: bool = False) -> None:
        """Drain and delete the spool files of dead processes; with `live_too`, also store the complete
        lines of live processes' files (their owners store them again later: nothing twice)."""
        with self.drain_lock:
            self._reclaim(live_too)

    def _reclaim(self, live_too: bool) -> None:
        self.last_reclaim = time.monotonic()
        folder = self._folder()
        mine = {f.path for f in self.pending} | ({self.current.path} if self.current else set())
        for path in sorted(folder.glob("*.spool")):
            if path in mine:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # drained and deleted meanwhile
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # its process is alive
                    if live_too:
                        store(lines_of(_read(fd)))
                    continue
                if not _same_file(fd, path):
                    continue  # another process drained and deleted it before we took the lock
                store(lines_of(_read(fd)))
                os.unlink(path)
                log.info("audit spool: stored the records of a dead process (%s)", path.name)
            finally:
                os.close(fd)

    def _run(self) -> None:
        _lower_priority()
        failures = idle = 0
        while True:
            self.wake.wait(DRAIN_SECONDS if not failures else min(30.0, DRAIN_SECONDS * 2 ** failures))
            self.wake.clear()
            try:
                stored = self.drain()
                if time.monotonic() - self.last_reclaim >= RECLAIM_SECONDS:
                    self.reclaim()
                idle = 0 if stored else idle + 1
                if idle >= IDLE_CYCLES and connection.connection is not None:
                    connection.close()  # idle: hold no session (a test database can then be dropped)
                failures = 0
            except Exception:  # noqa: BLE001 - the records stay spooled; the next cycle retries
                failures += 1
                log.warning("audit spool: drain failed (attempt %d); the records stay spooled", failures,
                            exc_info=failures == 1)
                connection.close()

    # --- internals -------------------------------------------------------------------------------
    def _start(self) -> None:
        with self.start_lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="audit-spool-drainer", daemon=True)
                self.thread.start()

    def _folder(self) -> Path:
        if self.folder is None:
            folder = directory()
            folder.mkdir(parents=True, exist_ok=True)
            self.folder = folder
        return self.folder

    def _new_file(self) -> SpoolFile:
        """Locked before it gets its final name, so no scanner ever sees it unlocked while its process lives."""
        name = f"{_SAFE.sub('_', socket.gethostname())}-{os.getpid()}-{secrets.token_hex(6)}"
        temporary = self._folder() / f".{name}.new"
        fd = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = temporary.with_name(f"{name}.spool")
        os.rename(temporary, final)
        return SpoolFile(final, fd)


def store(lines: list[bytes]) -> int:
    """Insert spooled records (ON CONFLICT DO NOTHING on their key), a transaction per chunk; how many.
    (A file that grew while the database was away is not one giant statement; a crash between chunks
    leaves the file to be stored again, which adds nothing twice.)"""
    for start in range(0, len(lines), STORE_CHUNK):
        _store_chunk(lines[start:start + STORE_CHUNK])
    return len(lines)


def _store_chunk(lines: list[bytes]) -> None:
    if not lines:
        return
    try:
        with transaction.atomic():
            _insert_batch(lines)
    except (DatabaseError, ValueError, TypeError) as error:  # ValueError: a line that is not JSON (SQLite)
        if _database_away(error):
            raise
        log.warning("audit spool: a batch of %d failed (%s); storing its records one by one", len(lines), error)
        for line in lines:
            _insert_one(line)


def _insert_batch(lines: list[bytes]) -> None:
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    if connection.vendor == "postgresql":
        # PostgreSQL reads the lines as they are: no parsing of each record in Python.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{table}, %s)"
                f" ON CONFLICT (key) DO NOTHING",
                [(b"[" + b",".join(lines) + b"]").decode("utf-8")],
            )
        return
    AuditRecord.objects.bulk_create([_as_record(json.loads(line)) for line in lines], ignore_conflicts=True)


def _insert_one(line: bytes) -> None:
    try:
        record = _as_record(json.loads(line))
        with transaction.atomic():
            AuditRecord.objects.bulk_create([record], ignore_conflicts=True)
    except (ValueError, TypeError, DatabaseError) as error:
        if isinstance(error, DatabaseError) and _database_away(error):
            raise
        # Never silently: the record itself goes to the log, where an operator still has it.
        log.error("audit spool: a record could not be stored (%s): %s", error, line[:8000].decode("utf-8", "replace"))


def _as_record(values: dict) -> AuditRecord:
    record = AuditRecord(**{k: v for k, v in values.items() if k in COLUMNS})
    if record.address:
        try:
            record.address = str(ipaddress.ip_address(record.address))
        except ValueError:
            record.address = None
    return record


def _database_away(error: Exception) -> bool:
    return isinstance(error, (OperationalError, InterfaceError))


def dumps(row: dict) -> bytes:
    try:
        return orjson.dumps(row) + b"\n"
    except TypeError:  # a lone surrogate in a crafted path: keep every other character
        clean = {k: v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v for k, v in row.items()}
        return orjson.dumps(clean) + b"\n"


def _read(fd: int) -> bytes:
    return os.pread(fd, os.fstat(fd).st_size, 0)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _lower_priority() -> None:
    """The drainer yields to the threads answering requests (Linux: nice is per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


_spool: Spool | None = None
_spool_lock = threading.Lock()


def this_process() -> Spool:
    """The spool of this process (a forked child gets its own: files and locks are per process)."""
    global _spool
    spool = _spool
    if spool is None or spool.pid != os.getpid():
        with _spool_lock:
            if _spool is None or _spool.pid != os.getpid():
                _spool = Spool()
            spool = _spool
    return spool


def _forget_in_child() -> None:
    """A forked child must not hold its parent's spool files open: the parent's flocks would outlive the
    parent in the child, and nobody could reclaim the parent's records. (Spawned processes inherit no
    file descriptor: Python opens them non-inheritable.)"""
    global _spool
    spool, _spool = _spool, None
    for spooled in ([spool.current] + spool.pending) if spool is not None else []:
        if spooled is not None:
            try:
                os.close(spooled.fd)
            except OSError:
                pass


os.register_at_fork(after_in_child=_forget_in_child)


@atexit.register
def _drain_at_exit() -> None:
    """A process that stops cleanly stores its records itself (else another process reclaims them)."""
    spool = _spool
    if spool is None or spool.pid != os.getpid() or not (spool.current or spool.pending):
        return
    try:
        spool.drain()
    except Exception:  # noqa: BLE001 - left spooled: the next process to start reclaims the file
        log.warning("audit spool: could not drain at exit; the records stay spooled", exc_info=True)
        return
    with spool.append_lock:
        if spool.current is not None and not spool.current.written:  # an empty file: nothing to leave behind
            os.unlink(spool.current.path)
            os.close(spool.current.fd)
            spool.current = None
