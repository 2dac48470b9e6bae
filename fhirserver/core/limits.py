"""Bounds on the work one request may ask for, checked at the request's edge before any search is compiled.

Every number lives in `settings.FHIR["LIMITS"]` (one environment variable each, docs/security.md) and
a request over one is refused with a 4xx OperationOutcome (issue code `too-costly`) that names the
limit, instead of running for minutes:

- the query: parameters, OR-ed values of one parameter, chain depth, `_has` steps, `_sort` keys,
  `_include`/`_revinclude` parameters, `_filter` length and nesting (the raw query is enough);
- the body: nesting depth of JSON (before it is parsed, so a 10,000-deep body never recurses), Bundle entries;
- the URL: its length (414; `fhirserver.serving` makes gunicorn answer the same way);
- the database: each statement's time (PostgreSQL `statement_timeout`, an SQLite progress handler) and
  the database time of the whole request (`DatabaseBudget`, an execute wrapper).
"""
from __future__ import annotations

import re
import threading
import time
from urllib.parse import parse_qsl

from django.conf import settings

from fhirserver.core.errors import FhirError

CODE_SYSTEM = "urn:fhir-digitize:error"


def limit(name: str) -> int:
    return int(settings.FHIR["LIMITS"][name])


def too_costly(status: int, diagnostics: str, code: str, expression: list[str] | None = None) -> FhirError:
    return FhirError(status, diagnostics, issue_code="too-costly", code=code, expression=expression)


def check_request(request) -> None:
    """All the bounds a FhirRequest can be held to (the router calls it for every request and Bundle entry)."""
    if request.query:
        check_query(request.query)
    condition = request.header("if-none-exist")
    if condition:
        check_query(parse_qsl(condition.split("?", 1)[-1], keep_blank_values=True))
    if request.kind == "system" and request.method == "POST":
        check_bundle(request.body)


# --- the query -----------------------------------------------------------------------------------
def check_query(query: list[tuple[str, str]]) -> None:
    """Refuse a query (a search, a conditional write's condition) that asks for unbounded work."""
    if not query:
        return
    if len(query) > limit("MAX_PARAMETERS"):
        raise too_costly(400, f"The query has {len(query)} parameters; this server takes at most "
                         f"{limit('MAX_PARAMETERS')}", "LIMIT_PARAMETERS")
    has_steps = includes = 0
    for name, value in query:
        if "\x00" in name or "\x00" in value:
            raise FhirError(400, "Search parameters cannot contain NUL characters", issue_code="invalid",
                            code="SEARCH_BAD_VALUE", expression=[name.replace("\x00", "")])
        base = name.split(":", 1)[0]
        if base == "_filter":
            _check_filter(value)
            continue
        if base in ("_include", "_revinclude"):
            includes += 1
            continue
        if base == "_sort":
            keys = [k for k in value.split(",") if k.strip("-")]
            if len(keys) > limit("MAX_SORT_KEYS"):
                raise too_costly(400, f"_sort has {len(keys)} keys; this server takes at most "
                                 f"{limit('MAX_SORT_KEYS')}", "LIMIT_SORT_KEYS", ["_sort"])
            continue
        values = _or_count(value)
        if values > limit("MAX_OR_VALUES"):
            raise too_costly(400, f"{name} has {values} OR-ed values; this server takes at most "
                             f"{limit('MAX_OR_VALUES')}", "LIMIT_OR_VALUES", [name])
        steps = name.count("_has:")
        has_steps += steps
        depth = _chain_depth(name)
        if depth > limit("MAX_CHAIN_DEPTH"):
            raise too_costly(400, f"{name} chains {depth} references; this server follows at most "
                             f"{limit('MAX_CHAIN_DEPTH')}", "LIMIT_CHAIN_DEPTH", [name])
    if has_steps > limit("MAX_HAS"):
        raise too_costly(400, f"The query has {has_steps} _has steps; this server takes at most {limit('MAX_HAS')}",
                         "LIMIT_HAS")
    if includes > limit("MAX_INCLUDES"):
        raise too_costly(400, f"The query has {includes} _include/_revinclude parameters; this server takes at "
                         f"most {limit('MAX_INCLUDES')}", "LIMIT_INCLUDES")


def _or_count(value: str) -> int:
    return value.count(",") - value.count("\\,") + 1


def _chain_depth(name: str) -> int:
    """`subject:Patient.organization.name` follows 2 references; each `_has` step is one more."""
    return name.count(".") + name.count("_has:")


def _check_filter(expression: str) -> None:
    if len(expression) > limit("MAX_FILTER_LENGTH"):
        raise too_costly(400, f"_filter is {len(expression)} characters long; this server takes at most "
                         f"{limit('MAX_FILTER_LENGTH')}", "LIMIT_FILTER", ["_filter"])
    depth = deepest = 0
    in_string = False
    previous = ""
    for char in expression:
        if char == '"' and previous != "\\":
            in_string = not in_string
        elif not in_string and char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif not in_string and char in ")]":
            depth -= 1
        previous = char
    if deepest > limit("MAX_FILTER_DEPTH"):
        raise too_costly(400, f"_filter nests {deepest} levels deep; this server takes at most "
                         f"{limit('MAX_FILTER_DEPTH')}", "LIMIT_FILTER", ["_filter"])


# --- the body ------------------------------------------------------------------------------------
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def check_json_depth(raw: bytes) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before it is parsed (a parser and validator
    that recurse would otherwise hit Python's recursion limit on it)."""
    if raw.count(b"{") + raw.count(b"[") <= limit("MAX_JSON_DEPTH"):
        return  # cannot be that deep
    import numpy as np

    skeleton = np.frombuffer(_STRINGS.sub(b'""', raw), dtype=np.uint8)
    steps = (skeleton == ord("{")).astype(np.int32) + (skeleton == ord("["))
    steps -= (skeleton == ord("}")).astype(np.int32) + (skeleton == ord("]"))
    deepest = int(np.cumsum(steps).max(initial=0))
    if deepest > limit("MAX_JSON_DEPTH"):
        raise too_costly(400, f"The JSON body nests {deepest} levels deep; this server takes at most "
                         f"{limit('MAX_JSON_DEPTH')}", "LIMIT_JSON_DEPTH")


def check_bundle(body) -> None:
    if isinstance(body, dict) and body.get("resourceType") == "Bundle" and isinstance(body.get("entry"), list):
        entries = len(body["entry"])
        if entries > limit("MAX_BUNDLE_ENTRIES"):
            raise too_costly(413, f"The Bundle has {entries} entries; this server takes at most "
                             f"{limit('MAX_BUNDLE_ENTRIES')} in one request", "LIMIT_BUNDLE_ENTRIES", ["Bundle.entry"])


def check_url(path: str, query_string: str) -> None:
    length = len(path) + (len(query_string) + 1 if query_string else 0)
    if length > limit("MAX_URL_BYTES"):
        raise too_costly(414, f"The URL is {length} bytes long; this server takes at most {limit('MAX_URL_BYTES')}."
                         " Send long searches as POST [type]/_search with a form body", "LIMIT_URL")


# --- database time -------------------------------------------------------------------------------
_serving = threading.local()  # set in threads that serve HTTP requests: only they get the request bounds


def statement_timeout_ms() -> int:
    return int(float(settings.FHIR["LIMITS"]["STATEMENT_TIMEOUT_SECONDS"]) * 1000)


def statement_timed_out(error: BaseException) -> bool:
    """A statement the database stopped because it ran past the statement timeout."""
    cause = getattr(error, "__cause__", None) or error
    if getattr(cause, "pgcode", None) == "57014":  # query_canceled
        return True
    return "interrupted" in str(cause) and type(cause).__module__.startswith("sqlite3")


def statement_too_long() -> FhirError:
    return too_costly(422, f"The request needed a database statement longer than "
                      f"{settings.FHIR['LIMITS']['STATEMENT_TIMEOUT_SECONDS']} s and was stopped; narrow the search "
                      "or page through it", "LIMIT_STATEMENT_TIME")


class DatabaseBudget:
    """An execute wrapper: the database time of one request, refused past REQUEST_DATABASE_SECONDS.
    On SQLite it also gives each statement the deadline that the progress handler enforces."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.allowed = float(settings.FHIR["LIMITS"]["REQUEST_DATABASE_SECONDS"])
        self.per_statement = statement_timeout_ms() / 1000

    def __call__(self, execute, sql, params, many, context):
        if self.spent > self.allowed:
            raise too_costly(422, f"The request used more than {self.allowed:g} s of database time and was "
                             "stopped; narrow it or split it", "LIMIT_REQUEST_TIME")
        started = time.monotonic()
        _serving.deadline = started + self.per_statement if self.per_statement > 0 else None
        try:
            return execute(sql, params, many, context)
        finally:
            _serving.deadline = None
            self.spent += time.monotonic() - started


def mark_serving_thread() -> None:
    _serving.active = True


def on_connection_created(sender, connection, **kwargs) -> None:
    """A request thread's connection gets the per-statement bound (jobs and commands keep none)."""
    if not getattr(_serving, "active", False):
        return
    timeout = statement_timeout_ms()
    if connection.vendor == "postgresql":
        with connection.connection.cursor() as cursor:  # the raw connection: no execute wrappers yet
            # Also notice a client (a worker killed by gunicorn) that went away mid-statement.
            cursor.execute("SET statement_timeout = %s; SET client_connection_check_interval = %s",
                           [timeout, int(settings.FHIR["LIMITS"]["CLIENT_CHECK_MS"])])
        if not connection.get_autocommit():
            connection.connection.commit()
    elif connection.vendor == "sqlite" and timeout > 0:
        connection.connection.set_progress_handler(_past_deadline, 20_000)


def _past_deadline() -> int:
    deadline = getattr(_serving, "deadline", None)
    return 1 if deadline is not None and time.monotonic() > deadline else 0
