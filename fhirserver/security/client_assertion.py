"""private_key_jwt client authentication (SMART Backend Services, RFC 7523).

The client signs a short-lived JWT (RS384 or ES384) with a key whose public half it registered,
inline (`ClientRegistration.jwks`) or at a URL (`jwks_uri`, the only place we ever fetch from).
"""
from __future__ import annotations

import json
import time

import jwt
from django.core.cache import cache

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["RS384", "ES384"]
MAX_LIFETIME = 300  # seconds: SMART says exp no more than five minutes ahead
LEEWAY = 30


class AssertionError_(Exception):
    """Why a client assertion was refused (the text goes to the log, not the client)."""


def unverified_issuer(assertion: str) -> str:
    try:
        return str(jwt.decode(assertion, options={"verify_signature": False}).get("iss", ""))
    except jwt.PyJWTError:
        return ""


def verify(assertion: str, *, client_id: str | None, registration, token_urls: list[str]) -> str:
    """Check the assertion against the client's registered keys; return the client_id it proves."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise AssertionError_(f"not a JWT: {exc}") from None
    if header.get("alg") not in ALGORITHMS:
        raise AssertionError_(f"alg {header.get('alg')!r} is not one of {ALGORITHMS}")
    key = _key_for(registration, header)
    try:
        claims = jwt.decode(assertion, key=key, algorithms=ALGORITHMS, audience=token_urls, leeway=LEEWAY,
                            options={"require": ["iss", "sub", "aud", "exp", "jti"]})
    except jwt.PyJWTError as exc:
        raise AssertionError_(f"invalid assertion: {exc}") from None
    issuer = claims["iss"]
    if claims["sub"] != issuer or (client_id and client_id != issuer) or issuer != registration.application.client_id:
        raise AssertionError_("iss and sub must both be the client_id")
    if claims["exp"] > time.time() + MAX_LIFETIME + LEEWAY:
        raise AssertionError_("exp is more than five minutes ahead")
    if not cache.add(f"jti:{issuer}:{claims['jti']}", 1, MAX_LIFETIME + 2 * LEEWAY):
        raise AssertionError_("jti was already used")
    return issuer


def _key_for(registration, header: dict):
    try:
        jwks = registration.jwks or (_fetch(registration.jwks_uri) if registration.jwks_uri else None)
    except Exception as exc:  # noqa: BLE001 - an unreachable or broken key URL is the client's failure to authenticate
        raise AssertionError_(f"could not fetch the registered JWKS: {exc}") from None
    if not jwks:
        raise AssertionError_("the client registered no public keys")
    try:
        keyset = jwt.PyJWKSet.from_dict(jwks)
    except jwt.PyJWTError as exc:
        raise AssertionError_(f"the registered JWKS is unusable: {exc}") from None
    kid = header.get("kid")
    for key in keyset.keys:
        if kid is None or key.key_id == kid:
            return key.key
    raise AssertionError_(f"no registered key with kid {kid!r}")


def _fetch(url: str) -> dict | None:
    cached = cache.get(f"jwks:{url}")
    if cached:
        return json.loads(cached)
    import requests

    response = requests.get(url, timeout=5)
    response.raise_for_status()
    cache.set(f"jwks:{url}", response.text, 300)
    return response.json()
