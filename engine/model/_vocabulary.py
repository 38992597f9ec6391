"""The closed vocabularies every layer shares: verdicts, scopes, severities, channels, providers, the code
identity vocabulary (provider -> kind -> products), and safe tenant ids."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, Literal

from .._errors import TenantError

Verdict = Literal["retry", "suppress", "escalate", "wait", "done"]
VERDICTS: Final[tuple[str, ...]] = ("retry", "suppress", "escalate", "wait", "done")
#: What a suppression blocks.  ``recipient_sender`` is one recipient for one sender only.  The ``_advertising``
#: scopes block only sends the pipeline marks as advertising (``check(..., advertising=True)``), on one channel:
#: ``recipient_channel_advertising`` a recipient's promotional messages (India's DLT refusing a category for a
#: number on the DND register; OTPs still go), ``recipient_sender_advertising`` one sender's advertising to one
#: recipient (KakaoTalk's 080 opt-out; the sender's informational messages still go).
SCOPES: Final[tuple[str, ...]] = (
    "message", "recipient", "recipient_channel", "recipient_channel_advertising", "recipient_sender",
    "recipient_sender_advertising", "sender", "sender_domain", "template", "account",
)
#: Scopes whose entries block only advertising sends.
ADVERTISING_SCOPES: Final = frozenset({"recipient_channel_advertising", "recipient_sender_advertising"})
SEVERITIES: Final[tuple[str, ...]] = ("info", "warning", "error", "critical")
CHANNELS: Final[tuple[str, ...]] = (
    "sms", "mms", "voice", "webrtc", "email", "push", "whatsapp", "viber", "rcs", "line", "messenger", "zalo",
    "kakao", "apple_mfb", "instagram", "telegram", "gbm", "mobile_identity", "live_chat", "flow", "api",
)
# gbm: Google's Business Messages, a Messages API channel (GBM).
CHAT_CHANNELS: Final = frozenset({"whatsapp", "viber", "rcs", "line", "messenger", "zalo", "kakao", "apple_mfb",
                                  "instagram", "telegram", "gbm"})
PROVIDERS: Final[tuple[str, ...]] = ("infobip", "nhn_kakao")

#: The code identity vocabulary: provider -> kind -> products (see DESIGN.md, "Identity of a code").
VOCABULARY: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "infobip": {
        "status": ("general", "voice", "mms", "email", "push", "moments"),
        "error": (
            "general", "voice_legacy", "voice", "push", "mms", "email", "chat",
            "mobile_identity", "dlt", "live_chat", "moments", "people",
        ),
        # HTTP statuses of API responses (401 credentials, 429 rate limit, ...), one table for every product.
        "http": ("api",),
    },
    "nhn_kakao": {"api": ("bizmessage",), "delivery": ("bizmessage",)},
}

#: Every kind of code table, across providers.
KINDS: Final[tuple[str, ...]] = ("status", "error", "http", "api", "delivery")

# provider -> (kind of the `status` slot, kind of the `error` slot)
SLOT_KINDS: Final = {"infobip": ("status", "error"), "nhn_kakao": ("delivery", "api")}

# Infobip channel -> (status product, error product).
_INFOBIP_PRODUCTS: Final = {
    "sms": ("general", "general"),
    "mms": ("mms", "mms"),
    "voice": ("voice", "voice"),
    "webrtc": ("voice", "voice"),
    "email": ("email", "email"),
    "push": ("push", "push"),
    "mobile_identity": ("general", "mobile_identity"),
    "live_chat": ("general", "live_chat"),
    "flow": ("moments", "moments"),
    "api": ("general", "people"),
    **dict.fromkeys(CHAT_CHANNELS, ("general", "chat")),
}

#: The channel a product's messages travel on when nothing else says (used by `explain` and the adapters).
DEFAULT_CHANNEL: Final = {
    "general": "sms", "voice": "voice", "voice_legacy": "voice", "mms": "mms", "email": "email", "push": "push",
    "moments": "flow", "chat": "whatsapp", "mobile_identity": "mobile_identity", "dlt": "sms",
    "live_chat": "live_chat", "people": "api", "bizmessage": "kakao",
    # An HTTP status belongs to whichever call got it; SMS sends are the commonest.
    "api": "sms",
}


def product_for(provider: str, channel: str, kind: str) -> str:
    """The catalog product whose table a ``kind`` code reported on ``channel`` belongs to."""
    if provider == "nhn_kakao":
        return "bizmessage"
    if kind == "http":
        return "api"
    status_product, error_product = _INFOBIP_PRODUCTS.get(channel, ("general", "general"))
    return status_product if kind == "status" else error_product


TENANT_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def validate_tenant(tenant: object) -> str:
    """Return ``tenant`` when it is a safe id (``^[a-z0-9][a-z0-9_-]{0,63}$``); raise `TenantError` otherwise.

    Checked before any path is built, so ``../x``, absolute paths and NUL bytes never reach the file system.
    """
    if not isinstance(tenant, str) or TENANT_ID.fullmatch(tenant) is None:
        raise TenantError(tenant)
    return tenant
