"""The RSA key that signs id_tokens: from the environment, or generated once into var/ and kept.

Imported by the settings module, so nothing here may touch Django.
"""
from __future__ import annotations

import os
from pathlib import Path


def oidc_private_key(path: Path) -> str:
    """PEM of the signing key: $OIDC_RSA_PRIVATE_KEY, else `path` (created with mode 0600 if missing)."""
    from_env = os.environ.get("OIDC_RSA_PRIVATE_KEY", "").strip()
    if from_env:
        return from_env
    if path.exists():
        return path.read_text()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    os.replace(temporary, path)  # two processes racing: one file wins whole, and both read it below
    return path.read_text()
