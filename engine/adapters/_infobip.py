"""Infobip payloads to Outcomes: delivery reports of every channel (SMS v1 and v3, MMS, e-mail, voice, chat apps,
the Messages API), seen reports, send responses, and API errors (in `._infobip_api`).

The channel is a fact, not a guess: a report's own ``channel`` field decides, else the caller's channel (envelope,
``--channel``, the ``channel`` argument), else the few fields that only one channel's reports carry (voice call
details, e-mail delivery details).  When nobody says, the channel stays unknown and the code is looked up by its
id across the product tables.  Where the channel came from is kept on the outcome (``channel_source``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from .._errors import InvalidOutcomeError, PayloadError
from ..model._outcome import CodeRef, Outcome
from ._infobip_api import parse_infobip_api_error
from ._timestamps import parse_retry_after, parse_timestamp
from ._values import Skipped, boolean, kind_of, outcome_of, payload_error

Item = Outcome | PayloadError | Skipped

# Infobip's channel names, as reports of the multi-channel APIs carry them (the Messages API's channel enum, the
# older product names, Zalo's notification service) -> our channels.
_CHANNEL_NAMES: Final = {
    "SMS": "sms", "MMS": "mms", "EMAIL": "email", "VOICE": "voice", "WEBRTC": "webrtc", "WEB_RTC": "webrtc",
    "WHATSAPP": "whatsapp", "VIBER": "viber", "VIBER_BM": "viber", "VIBER_BOT": "viber", "RCS": "rcs",
    "LINE": "line", "LINE_ON": "line", "MESSENGER": "messenger", "FACEBOOK_MESSENGER": "messenger",
    "INSTAGRAM_DM": "instagram", "INSTAGRAM": "instagram", "TELEGRAM": "telegram", "ZALO": "zalo",
    "ZALO_NOTIFICATION_SERVICE": "zalo", "ZALO_ZNS": "zalo", "KAKAO": "kakao", "KAKAO_ALIMTALK": "kakao",
    "KAKAO_FRIENDTALK": "kakao", "KAKAO_BRAND_MESSAGE": "kakao", "APPLE_MB": "apple_mfb",
    "APPLE_MESSAGES_FOR_BUSINESS": "apple_mfb", "GBM": "gbm", "PUSH": "push", "MOBILE_PUSH": "push",
    "LIVE_CHAT": "live_chat",
}
# KakaoTalk message types that the channel name carries (FriendTalk retries must stay inside its send window).
_KAKAO_TYPES: Final = {"KAKAO_ALIMTALK": "ALIMTALK", "KAKAO_FRIENDTALK": "FRIENDTALK",
                       "KAKAO_BRAND_MESSAGE": "BRAND_MESSAGE"}
# Fields only one channel's reports carry.  (smsCount is not one: MMS and e-mail reports carry it too.)
_VOICE_KEYS: Final = ("voiceCall", "dtmfCodes", "pricePerSecond", "chargedDuration")
_EMAIL_KEYS: Final = ("browserLink", "sendingIp", "attemptCount", "timeToFirstAttempt")
_SHAPE_KEYS: Final = frozenset(_VOICE_KEYS + _EMAIL_KEYS)
# E-mail tracking webhooks (``notificationType``): an open or a click is the recipient reading the message.
_READ_NOTIFICATIONS: Final = frozenset({"OPENED", "CLICKED"})
# Messages API webhook events that are not about an outbound message's delivery.
_NOT_REPORTS: Final = {"MO": "an inbound message (MO), not a report on one of ours",
                       "TYPING_STARTED": "a typing indicator, not a report", "TYPING_STOPPED": "a typing indicator, "
                       "not a report"}
# Codes repeat across millions of reports; sharing one CodeRef per distinct code object saves building it again.
_REFS: dict[tuple[object, ...], CodeRef] = {}
_REFS_MAX: Final = 4096


def _opt_str(obj: Mapping[str, object], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    return _not_str(value, key, path)


def _not_str(value: object, key: str, path: str) -> str:
    if type(value) is int:  # ids sometimes travel as numbers; the text is the same id
        return str(value)
    raise PayloadError(f"{path}.{key}", f"expected a string, got {kind_of(value)}")


def code_ref(obj: object, report: str, slot: str) -> CodeRef:
    """An Infobip ``status`` or ``error`` object (``groupId``, ``groupName``, ``id``, ``name``, ``permanent``): the
    ``slot`` of the report at path ``report`` (the path is written out only for an error)."""
    if type(obj) is not dict:
        raise PayloadError(f"{report}.{slot}", f"expected an object with groupId, id and name, got {kind_of(obj)}")
    code = obj.get("id")
    group = obj.get("groupId")
    name = obj.get("name")
    raw_permanent = obj.get("permanent")
    group_name = obj.get("groupName")
    if type(code) is not int:
        problem = "missing" if code is None else f"expected an integer, got {kind_of(code)}"
        raise PayloadError(f"{report}.{slot}.id", f"{problem}: Infobip code ids are JSON integers")
    if group is not None and type(group) is not int:
        raise PayloadError(f"{report}.{slot}.groupId", f"expected an integer, got {kind_of(group)}")
    if name is not None and type(name) is not str:
        raise PayloadError(f"{report}.{slot}.name", f"expected a string, got {kind_of(name)}")
    # JSON true/false/null as they are (most reports); `boolean` reads the rest ("true") or refuses it.
    permanent = raw_permanent if raw_permanent is None or type(raw_permanent) is bool else boolean(raw_permanent)
    if raw_permanent is not None and permanent is None:
        raise PayloadError(f"{report}.{slot}.permanent", f"expected true or false, got {kind_of(raw_permanent)}")
    if group_name is not None and type(group_name) is not str:
        raise PayloadError(f"{report}.{slot}.groupName", f"expected a string, got {kind_of(group_name)}")
    key = (code, group, name, permanent, group_name)
    ref = _REFS.get(key)
    if ref is not None:
        return ref
    ref = CodeRef(id=code, group_id=group, name=name, permanent=permanent, group_name=group_name)
    if len(_REFS) >= _REFS_MAX:
        _REFS.clear()
    _REFS[key] = ref
    return ref


def report_channel(result: Mapping[str, object], caller: str | None = None) -> tuple[str | None, str | None]:
    """The channel a report travelled on and where that came from: its ``channel`` field (``report``), else the
    caller's (``caller``), else a field only one channel's reports carry (``shape``); (None, None) when nobody
    says, and (None, ``unrecognised``) when the field names a channel no document lists."""
    named = result.get("channel")
    if type(named) is str:
        channel = _CHANNEL_NAMES.get(named.upper())
        if channel is not None:
            return channel, "report"
        if caller is None:
            # A name no provider document gave us: said (the code's own table decides), never guessed from it.
            return None, "unrecognised"
    if caller is not None:
        return caller, "caller"
    if not _SHAPE_KEYS.isdisjoint(result):  # one pass over the report's keys in C, for the usual "none of them"
        for key in _VOICE_KEYS:
            if key in result:
                return "voice", "shape"
        return "email", "shape"
    to = result.get("to")
    if type(to) is str and "@" in to:
        return "email", "shape"
    if "mmsCount" in result:
        return "mms", "shape"
    return None, None


def _time(value: object, path: str, key: str) -> datetime | None:
    """`optional_timestamp` of ``path.key``, the path written out only for an error."""
    if value is None:
        return None
    if type(value) is str:
        try:
            parsed = _fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return parse_timestamp(value, f"{path}.{key}")  # raises the error that says what is wrong


_fromisoformat: Final = datetime.fromisoformat


def _sender(result: Mapping[str, object], path: str) -> str | None:
    sender = result.get("from")
    key = "from"
    if sender is None:
        sender, key = result.get("sender"), "sender"
    if sender is not None and type(sender) is not str:
        raise PayloadError(f"{path}.{key}", f"expected a string, got {kind_of(sender)}")
    return sender


def parse_infobip_report(result: object, *, channel: str | None = None, path: str = "$",
                         tenant: str | None = None, retry_after: timedelta | None = None,
                         retry_not_before: datetime | None = None) -> Outcome:
    """One Infobip report (an element of ``results`` or of a send response's ``messages``) as an Outcome.

    ``channel`` is the caller's channel, used when the report does not name its own.  A seen report (``seenAt``
    without a status, or the Messages API's ``event: "SEEN"``) becomes an outcome with ``event = "seen"``.
    """
    if type(result) is not dict:
        raise PayloadError(path, f"expected a delivery report object, got {kind_of(result)}")
    found, source = report_channel(result, channel)
    event = result.get("event")
    status_obj = result.get("status")
    seen = event == "SEEN" or (status_obj is None and "seenAt" in result)
    if status_obj is None and not seen:
        raise PayloadError(f"{path}.status", "missing: an Infobip delivery report carries a status object "
                                              "({groupId, groupName, id, name}); add it or drop the report")
    get = result.get
    status = None if seen else code_ref(status_obj, path, "status")
    error_obj = None if seen else get("error")
    # Strings are read inline (the common case); anything else goes through _opt_str for its conversion or error,
    # in the order the fields were always checked in.
    recipient = get("to")
    if recipient is not None and type(recipient) is not str:
        recipient = _not_str(recipient, "to", path)
    if recipient is None:
        recipient = _opt_str(result, "destination", path)  # the Messages API and SMS v3 send responses
    error = None if error_obj is None else code_ref(error_obj, path, "error")
    message_id = get("messageId")
    if message_id is not None and type(message_id) is not str:
        message_id = _not_str(message_id, "messageId", path)
    done_key = "seenAt" if seen else "doneAt"
    # The sender (`_sender` for its error) and the KakaoTalk message type read inline: a call each saved per report.
    sender = get("from")
    if sender is None:
        sender = get("sender")
        if sender is not None and type(sender) is not str:
            _sender(result, path)  # raises for the sender field
    elif type(sender) is not str:
        _sender(result, path)  # raises for the from field
    named = get("channel")
    return outcome_of({  # every field, in field order (see outcome_of)
        "provider": "infobip",
        "channel": found,
        "status": status,
        "error": error,
        "product": None,
        "message_id": message_id,
        "recipient": recipient,
        "sender": sender,
        "tenant": tenant,
        "template": None,
        "sent_at": _time(get("sentAt"), path, "sentAt"),
        "done_at": _time(get(done_key), path, done_key),
        "retry_after": retry_after,
        "retry_not_before": retry_not_before,
        "channel_source": source,
        "event": "seen" if seen else None,
        "resend": None,
        "message_type": _KAKAO_TYPES.get(named.upper()) if type(named) is str else None,
        "account": None,
    })


def _tracking_event(payload: Mapping[str, object], path: str, channel: str | None, tenant: str | None) -> Item:
    """An e-mail tracking webhook: OPENED and CLICKED are read reports (``seen``); other types carry no
    delivery outcome and are skipped, labelled."""
    kind = payload.get("notificationType")
    if kind not in _READ_NOTIFICATIONS:
        return Skipped(f"{path}.notificationType", f"an e-mail tracking event ({kind!r}), not a delivery report")
    return Outcome(provider="infobip", channel=channel or "email", channel_source="caller" if channel else "shape",
                   event="seen", message_id=_opt_str(payload, "messageId", path),
                   recipient=_opt_str(payload, "recipient", path), tenant=tenant)


def is_send_response(payload: Mapping[str, object]) -> bool:
    """An Infobip send response: ``{"bulkId"?, "messages": [{"messageId", "status": {...}, "to"|"destination"}]}``
    (NHN's ``messages`` rows carry ``resultCode``, never a status object)."""
    messages = payload.get("messages")
    return type(messages) is list and any(type(m) is dict and type(m.get("status")) is dict for m in messages)


def _each(rows: object, path: str, channel: str | None, tenant: str | None, retry_after: timedelta | None,
          not_before: datetime | None) -> list[Item]:
    if type(rows) is not list:
        return [PayloadError(path, f"expected an array of reports, got {kind_of(rows)}")]
    if not rows:
        return [Skipped(path, "empty: the payload holds no report (an empty pull; nothing new)")]
    items: list[Item] = []
    for index, result in enumerate(rows):
        where = f"{path}[{index}]"
        event = result.get("event") if type(result) is dict else None
        if type(event) is str and event in _NOT_REPORTS:
            items.append(Skipped(where, _NOT_REPORTS[event]))
            continue
        try:
            items.append(parse_infobip_report(result, channel=channel, path=where, tenant=tenant,
                                              retry_after=retry_after, retry_not_before=not_before))
        except (PayloadError, InvalidOutcomeError) as exc:
            items.append(payload_error(exc, where))
    return items


def infobip_items(payload: object, *, channel: str | None = None, http_status: int | None = None,
                  headers: Mapping[str, object] | None = None, tenant: str | None = None,
                  root: str = "$") -> list[Item]:
    """Every outcome in an Infobip payload, with a `PayloadError` in place of each report that cannot be read
    (so one bad report does not hide the good ones next to it) and a `Skipped` for each part with nothing to
    decide.  A Retry-After date travels as an instant (`Outcome.retry_not_before`), compared with ``now`` only
    when the outcome is evaluated."""
    if type(payload) is not dict:
        return [PayloadError(root, f"expected an Infobip payload object, got {kind_of(payload)}")]
    try:
        if "requestError" in payload or "errorCode" in payload:
            return [parse_infobip_api_error(payload, channel=channel, http_status=http_status, headers=headers,
                                            path=root, tenant=tenant)]
        retry_after, not_before = (None, None) if headers is None else parse_retry_after(headers, "$.headers")
        if "results" in payload:
            return _each(payload["results"], f"{root}.results", channel, tenant, retry_after, not_before)
        if "notificationType" in payload:
            return [_tracking_event(payload, root, channel, tenant)]
        if is_send_response(payload):
            return _each(payload["messages"], f"{root}.messages", channel, tenant, retry_after, not_before)
        return [parse_infobip_report(payload, channel=channel, path=root, tenant=tenant, retry_after=retry_after,
                                     retry_not_before=not_before)]
    except (PayloadError, InvalidOutcomeError) as exc:
        return [payload_error(exc, root)]


def parse_infobip(payload: object, *, channel: str | None = None, http_status: int | None = None,
                  headers: Mapping[str, object] | None = None) -> list[Outcome]:
    """All outcomes in an Infobip payload (reports, a send response or an API error); raises the first
    `PayloadError`.  Parts with nothing to decide (an empty pull, inbound messages) give no outcome."""
    outcomes = []
    for item in infobip_items(payload, channel=channel, http_status=http_status, headers=headers):
        if isinstance(item, PayloadError):
            raise item
        if isinstance(item, Outcome):
            outcomes.append(item)
    return outcomes
