"""Checking that a webhook request really comes from the provider.

NHN Cloud sends ``X-Toast-Webhook-Signature`` with every KakaoTalk Bizmessage webhook: the value entered when the
webhook was configured (NHN documents no HMAC scheme; the header carries the configured signature itself).  A
receiver compares it with its own copy in constant time, so the comparison leaks nothing about the secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Final

#: The header NHN Cloud puts the configured webhook signature in.
NHN_SIGNATURE_HEADER: Final = "X-Toast-Webhook-Signature"


def verify_nhn_signature(received: Mapping[str, object] | str | None, expected: str) -> bool:
    """True when the NHN webhook signature in ``received`` (the request's headers, any letter case, or the header's
    value) equals ``expected`` (the signature configured for the webhook), compared in constant time.

    A missing header, an empty configured signature or a value that is not text all give False: a receiver that
    answers False with 401 never processes an unsigned request.
    """
    if not isinstance(expected, str) or not expected:
        return False
    value: object = received
    if isinstance(received, Mapping):
        wanted = NHN_SIGNATURE_HEADER.lower()
        value = next((v for k, v in received.items() if isinstance(k, str) and k.lower() == wanted), None)
    if not isinstance(value, str):
        return False
    # surrogatepass: a byte that is not UTF-8 (read with surrogateescape) compares as itself, never raises.
    return hmac.compare_digest(value.strip().encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))
