"""The ``X-Gracedesk-Signature`` of every webhook the desk sends (notifications, replies).

``sha256=<hex HMAC-SHA256 of the raw body under the shared secret>``; a receiver checks it with
:func:`verify_signature` (docs/notifications.md).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The ``X-Gracedesk-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the signature of the raw ``body`` under ``secret`` (constant-time)."""
    if not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.strip().encode("utf-8"))
