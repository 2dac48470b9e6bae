"""Pieces a SMART app would have: PKCE pairs, client keys, signed client assertions."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache

from fhirserver.security import services, tokens

LAUNCH_SCOPES = "launch/patient openid fhirUser offline_access patient/*.rs"
REDIRECT = "http://app.example/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def client_key(kind: str = "RS384"):
    """A private key and the public JWKS a backend service registers for it."""
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "RS384"
        else ec.generate_private_key(ec.SECP384R1())
    )
    algorithm = jwt.algorithms.RSAAlgorithm if kind == "RS384" else jwt.algorithms.ECAlgorithm
    public = json.loads(algorithm.to_jwk(private.public_key()))
    kid = uuid.uuid4().hex
    public.update(kid=kid, alg=kind, use="sig")
    return private, kid, {"keys": [public]}


def client_assertion(client_id: str, token_url: str, private_key, kid: str, alg: str = "RS384", **overrides) -> str:
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": int(time.time()) + 240,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, private_key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def security_on(settings):
    """AUTH_REQUIRED on for one test (the test settings turn it off for the other suites); a generator
    for a fixture to `yield from`."""
    settings.FHIR = {**settings.FHIR, "AUTH_REQUIRED": True}
    tokens.forget_all()
    cache.clear()
    yield settings
    tokens.forget_all()


def client_token(name: str, scopes: str, **claims) -> tuple[str, str]:
    """A freshly registered client and a bearer token issued to it: (client id, raw token)."""
    client = services.client_create(name=name, scopes=scopes)
    return client["client_id"], services.token_issue(client_id=client["client_id"], scopes=scopes, **claims)
