"""Identities the stores key on: a report's identity, a message's key, and suppression keys normalised the way
providers write the same person differently (E.164 phone numbers, case-folded e-mail, IDNA domains)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import lru_cache
from typing import Final

import phonenumbers

from ..model._datetimes import iso_z
from ..model._outcome import CodeRef, Outcome
from ._codec import iso_utc

#: Suppression scopes in the order `check` prefers them, most specific first.
CHECK_ORDER: Final = ("message", "recipient_sender_advertising", "recipient_channel_advertising", "recipient_channel",
                      "recipient_sender", "recipient", "sender", "sender_domain", "template", "account")
#: Scopes whose entries block one channel (their keys start with it).
CHANNEL_SCOPES: Final = frozenset({"recipient_channel", "recipient_channel_advertising",
                                   "recipient_sender_advertising"})
#: How a missing tenant is written in keys (tenant ids never start with ``_``).
NO_TENANT: Final = "_"

_E164: Final = re.compile(r"\+[1-9]\d{6,14}")
_PHONE: Final = re.compile(r"[+\d][\d ()./-]{5,}")
_INTERNATIONAL: Final = re.compile(r"[1-9]\d{7,14}")


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def _code(ref: CodeRef | None) -> str:
    if ref is None:
        return "-"
    return f"{ref.group_id if ref.group_id is not None else ''}/{ref.id}"


def report_identity(outcome: Outcome, now: datetime) -> str:
    """(provider, provider message id, codes, done time) as a short hash; a duplicate delivery hashes alike.

    A report with neither a message id nor a done time (an API error) cannot be told from a later identical one
    by its content, so its recipient and the time it was received stand in.
    """
    done = "" if outcome.done_at is None else iso_utc(outcome.done_at)
    parts = [outcome.provider, outcome.message_id or "", _code(outcome.status), _code(outcome.error), done]
    if outcome.message_id is None and not done:
        parts += [outcome.recipient or "", outcome.sender or "", iso_z(now) or ""]
    return _digest(*parts)


@lru_cache(maxsize=65536)
def phone(raw: str, region: str | None) -> str | None:
    """E.164 for a phone number (``01012345678`` in ``KR`` -> ``+821012345678``; ``821012345678`` ->
    ``+821012345678``), or None when ``raw`` is not a phone number."""
    text = raw.strip()
    if _E164.fullmatch(text):
        return text
    if region is None and _INTERNATIONAL.fullmatch(text):
        # How providers write numbers in reports (Infobip's "to": "821012345678"): international, without the
        # plus.  A country code never starts with 0, so with no home region to read national numbers in, this
        # is the E.164 number (the full parse below costs about 100 us a number).
        return "+" + text
    if not _PHONE.fullmatch(text):
        return None
    tries = [(text, None)] if text.startswith("+") else [(text, region), ("+" + re.sub(r"\D", "", text), None)]
    for candidate, where in tries:
        if where is None and not candidate.startswith("+"):
            continue
        try:
            number = phonenumbers.parse(candidate, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def domain(raw: str) -> str:
    """A domain in its IDNA (ASCII) form, lower case: ``Bücher.Example`` -> ``xn--bcher-kva.example``."""
    text = raw.strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        return text


def address(raw: str, region: str | None) -> str:
    """A recipient or sender as the suppression list keys it: e-mail case-folded with an IDNA domain, phone
    numbers in E.164, anything else (an alphanumeric sender id, a push token) case-folded."""
    text = raw.strip()
    if "@" in text:
        local, _, host = text.rpartition("@")
        return f"{local.casefold()}@{domain(host)}"
    return phone(text, region) or text.casefold()


def suppression_key(scope: str, *, raw: str | None, channel: str | None, region: str | None,
                    sender: str | None = None) -> str | None:
    """The normalised key of a ``scope`` entry for ``raw`` (the recipient, sender, domain, template, ...);
    ``recipient_sender`` keys the recipient (``raw``) for one ``sender``, its advertising form also for one
    ``channel``."""
    if raw is None:
        return None
    if scope in ("recipient", "sender"):
        return address(raw, region)
    if scope == "recipient_channel" or scope == "recipient_channel_advertising":
        return None if channel is None else f"{channel}:{address(raw, region)}"
    if scope == "recipient_sender":
        return None if sender is None else f"{address(sender, region)}:{address(raw, region)}"
    if scope == "recipient_sender_advertising":
        if sender is None or channel is None:
            return None
        return f"{channel}:{address(sender, region)}:{address(raw, region)}"
    if scope == "sender_domain":
        return domain(raw.rpartition("@")[2])
    return raw


def entry_id(tenant: str, scope: str, key: str) -> str:
    """A suppression entry's id (``s-<hash>-<tenant>``): the same (tenant, scope, normalised key) always has the
    same id, so `check` can ask for the candidates by id in one round trip."""
    return f"s-{_digest(tenant, scope, key)}-{tenant}"


def candidates(*, tenant: str, key: str | None, recipient: str | None, channel: str | None,
               sender: str | None, template: str | None, region: str | None,
               advertising: bool = False) -> list[tuple[str, str, str]]:
    """(entry id, scope, normalised key) of every entry that would block this send, most specific first; the
    advertising scopes only for a send marked ``advertising``.

    The keys `suppression_key` gives for each scope, built with the recipient normalised once; the candidates
    that depend only on the sender, the template and the tenant (the same for every send of a campaign) are
    worked out once per combination."""
    found = [] if key is None else [(entry_id(tenant, "message", key), "message", key)]
    sender_key, tail = _sender_part(tenant, sender, template, region)
    if recipient is not None:
        person = address(recipient, region)
        keys: list[tuple[str, str | None]] = []
        if advertising:
            keys.append(("recipient_sender_advertising", None if sender_key is None or channel is None
                         else f"{channel}:{sender_key}:{person}"))
            keys.append(("recipient_channel_advertising", None if channel is None else f"{channel}:{person}"))
        keys += [("recipient_channel", None if channel is None else f"{channel}:{person}"),
                 ("recipient_sender", None if sender_key is None else f"{sender_key}:{person}"),
                 ("recipient", person)]
        found += [(entry_id(tenant, scope, normal), scope, normal) for scope, normal in keys if normal is not None]
    found += tail
    return found


@lru_cache(maxsize=4096)
def _sender_part(tenant: str, sender: str | None, template: str | None,
                 region: str | None) -> tuple[str | None, tuple[tuple[str, str, str], ...]]:
    """The sender's normalised key, and the sender, sender_domain, template and account candidates."""
    tail = []
    for scope, raw in (("sender", sender), ("sender_domain", sender), ("template", template), ("account", tenant)):
        normal = suppression_key(scope, raw=raw, channel=None, region=region)
        if normal is not None:
            tail.append((entry_id(tenant, scope, normal), scope, normal))
    return (None if sender is None else address(sender, region)), tuple(tail)


_PLAIN_ORDER: Final = tuple(scope for scope in CHECK_ORDER if not scope.endswith("_advertising"))


def incident_id(tenant: str, route: str, cause: str, opened: str) -> str:
    """An incident's id, from what groups it and the report that opened it."""
    return f"i-{_digest(tenant, route, cause, opened)}-{tenant}"


def tenant_in(ident: str) -> str:
    """The tenant an entry, incident or lease id belongs to (ids end with ``-<tenant>``; tokens start with
    ``<tenant>.``), so a store can find its keys from the id alone."""
    if ident.startswith(("s-", "i-")) and len(ident) > 19:
        return ident[19:]
    return ident.split(".", 1)[0]
