"""Random tokens and their stored form."""

import hashlib
import secrets


def new_token() -> str:
    """A 256-bit random token, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy token (a slow hash buys nothing for random 256-bit secrets)."""
    return hashlib.sha256(token.encode()).hexdigest()
