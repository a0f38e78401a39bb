"""Random secrets handed to members (sign-in links, session ids, API tokens) and their hashes.

Only the SHA-256 of a secret is stored: a stolen database does not yield working links,
sessions or tokens. The secrets are 256-bit random, so an unsalted fast hash is enough.
"""

from __future__ import annotations

import hashlib
import secrets

API_TOKEN_PREFIX = "pf_"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    """A personal access token; the prefix makes leaked tokens easy to spot in code scans."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
