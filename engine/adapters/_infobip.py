"""Infobip payloads to Outcomes: delivery reports (SMS v1 and v3, email, chat apps, voice; webhook or pull, a
``results`` array or a single result) and API errors (``requestError.serviceException`` and ``errorCode``).

Pure: no I/O apart from the shipped catalog, read once, to map API error names to People API codes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from .._errors import InvalidOutcomeError, PayloadError
from ..model._outcome import CodeRef, Outcome
from ._timestamps import optional_timestamp, parse_retry_after
from ._values import kind_of, payload_error

Item = Outcome | PayloadError

# Infobip's channel names (reports of the multi-channel APIs carry one) -> our channels.
_CHANNEL_NAMES: Final = {
    "SMS": "sms", "MMS": "mms", "EMAIL": "email", "VOICE": "voice", "WEBRTC": "webrtc", "WEB_RTC": "webrtc",
    "WHATSAPP": "whatsapp", "VIBER": "viber", "VIBER_BM": "viber", "VIBER_BOT": "viber", "RCS": "rcs",
    "LINE": "line", "MESSENGER": "messenger", "FACEBOOK_MESSENGER": "messenger", "ZALO": "zalo",
    "KAKAO": "kakao", "KAKAO_ALIMTALK": "kakao", "KAKAO_FRIENDTALK": "kakao", "KAKAO_BRAND_MESSAGE": "kakao",
    "APPLE_MB": "apple_mfb", "APPLE_MESSAGES_FOR_BUSINESS": "apple_mfb", "PUSH": "push", "MOBILE_PUSH": "push",
    "LIVE_CHAT": "live_chat",
}
_VOICE_KEYS: Final = ("voiceCall", "duration", "dtmfCodes", "pricePerSecond", "chargedDuration")
_EMAIL_KEYS: Final = ("browserLink", "sendingIp", "attemptCount", "timeToFirstAttempt")
_SMS_V3_KEYS: Final = ("sender", "platform", "campaignReferenceId")
_E_CODE: Final = re.compile(r"E([1-5][0-9]{2})")
# HTTP statuses whose People API code is documented; other statuses are reported as the bare status number,
# which the catalog does not know, so they get the policy's labelled unknown decision.
_HTTP_CODES: Final = {400: 40001, 429: 42901}
_NAMED_STATUSES: Final = {
    "BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "TOO_MANY_REQUESTS": 429,
    "INTERNAL_SERVER_ERROR": 500, "GENERAL_ERROR": 500, "SERVICE_UNAVAILABLE": 503,
}
# Codes repeat across millions of reports; sharing one CodeRef per distinct code object saves building it again.
_REFS: dict[tuple[object, ...], CodeRef] = {}
_REFS_MAX: Final = 4096


def _opt_str(obj: Mapping[str, object], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    if type(value) is int:  # ids sometimes travel as numbers; the text is the same id
        return str(value)
    raise PayloadError(f"{path}.{key}", f"expected a string, got {kind_of(value)}")


def code_ref(obj: object, path: str) -> CodeRef:
    """An Infobip ``status`` or ``error`` object (``groupId``, ``groupName``, ``id``, ``name``, ``permanent``)."""
    if type(obj) is not dict:
        raise PayloadError(path, f"expected an object with groupId, id and name, got {kind_of(obj)}")
    code = obj.get("id")
    group = obj.get("groupId")
    name = obj.get("name")
    permanent = obj.get("permanent")
    group_name = obj.get("groupName")
    if type(code) is not int:
        problem = "missing" if code is None else f"expected an integer, got {kind_of(code)}"
        raise PayloadError(f"{path}.id", f"{problem}: Infobip code ids are JSON integers")
    if group is not None and type(group) is not int:
        raise PayloadError(f"{path}.groupId", f"expected an integer, got {kind_of(group)}")
    if name is not None and type(name) is not str:
        raise PayloadError(f"{path}.name", f"expected a string, got {kind_of(name)}")
    if permanent is not None and type(permanent) is not bool:
        raise PayloadError(f"{path}.permanent", f"expected true or false, got {kind_of(permanent)}")
    if group_name is not None and type(group_name) is not str:
        raise PayloadError(f"{path}.groupName", f"expected a string, got {kind_of(group_name)}")
    key = (code, group, name, permanent, group_name)
    ref = _REFS.get(key)
    if ref is not None:
        return ref
    ref = CodeRef(id=code, group_id=group, name=name, permanent=permanent, group_name=group_name)
    if len(_REFS) >= _REFS_MAX:
        _REFS.clear()
    _REFS[key] = ref
    return ref


def report_channel(result: Mapping[str, object]) -> str:
    """The channel a report travelled on, from its ``channel`` field or, failing that, from its shape."""
    named = result.get("channel")
    if type(named) is str:
        channel = _CHANNEL_NAMES.get(named.upper())
        if channel is not None:
            return channel
    if "smsCount" in result:
        return "sms"
    for key in _VOICE_KEYS:
        if key in result:
            return "voice"
    for key in _EMAIL_KEYS:
        if key in result:
            return "email"
    to = result.get("to")
    if type(to) is str and "@" in to:
        return "email"
    if "mmsCount" in result:
        return "mms"
    for key in _SMS_V3_KEYS:
        if key in result:
            return "sms"
    # ``messageCount`` without any SMS v3 field is the chat apps shape; WhatsApp is the chat product's default.
    return "whatsapp" if "messageCount" in result else "sms"


def parse_infobip_report(result: object, *, channel: str | None = None, path: str = "$",
                         tenant: str | None = None, retry_after: timedelta | None = None) -> Outcome:
    """One Infobip delivery report (one element of ``results``) as an Outcome.

    ``channel`` overrides the channel read from the report; the status and error ids are looked up in that
    channel's product tables (an email report's error 6016 is the email table's 6016).
    """
    if type(result) is not dict:
        raise PayloadError(path, f"expected a delivery report object, got {kind_of(result)}")
    status_obj = result.get("status")
    if status_obj is None:
        raise PayloadError(f"{path}.status", "missing: an Infobip delivery report carries a status object "
                                              "({groupId, groupName, id, name}); add it or drop the report")
    status = code_ref(status_obj, f"{path}.status")
    error_obj = result.get("error")
    error = None if error_obj is None else code_ref(error_obj, f"{path}.error")
    sender = result.get("from")
    if sender is None:
        sender = result.get("sender")
    if sender is not None and type(sender) is not str:
        raise PayloadError(f"{path}.from", f"expected a string, got {kind_of(sender)}")
    return Outcome(
        provider="infobip",
        channel=channel or report_channel(result),
        status=status,
        error=error,
        message_id=_opt_str(result, "messageId", path),
        recipient=_opt_str(result, "to", path),
        sender=sender,
        tenant=tenant,
        sent_at=optional_timestamp(result.get("sentAt"), f"{path}.sentAt"),
        done_at=optional_timestamp(result.get("doneAt"), f"{path}.doneAt"),
        retry_after=retry_after,
    )


#: People API error names -> ids, from the catalog's People API table (catalog/infobip/error_people.toml); the
#: adapters do not read the catalog themselves, and tests/adapters check this table against it.
PEOPLE_ERROR_CODES: Final[Mapping[str, int]] = {
    "BAD_REQUEST": 40001, "DUPLICATE": 40002, "DUPLICATE_EXT_PERSON_ID": 40003,
    "DUPLICATE_NUMBER_DESTINATION": 40004, "DUPLICATE_EMAIL_DESTINATION": 40005, "DUPLICATE_NAME": 40006,
    "INVALID_ADDITIONAL_FIELD_TYPE": 40007, "CUSTOM_ATTRIBUTE_OUT_OF_BOUNDS": 40010, "INVALID_UNIQUE_FIELD": 40012,
    "NON_MANAGED_DESTINATIONS_EXCEPTION": 40013, "INVALID_UPDATE_ENTRIES": 40014, "UNKNOWN_PROPERTY": 40015,
    "INVALID_DELETE_ENTRIES": 40016, "EMPTY_DESTINATIONS": 40018, "BAD_QUERY": 40019,
    "PLACEHOLDER_CANNOT_BE_DELETED": 40020, "TAG_CANNOT_BE_DELETED": 40021, "INVALID_PLACEHOLDER": 40022,
    "INTEGRATIONS_CANNOT_BE_MODIFIED": 40023, "WEB_SDK_RESTRICTED_OPERATION": 40024,
    "PERSON_DOES_NOT_EXIST": 40401, "TAG_DOES_NOT_EXIST": 40403, "ADDITIONAL_FIELD_DOES_NOT_EXIST": 40404,
    "CUSTOM_ATTRIBUTE_DOES_NOT_EXIST": 40404, "COMPANY_DOES_NOT_EXIST": 40405,
    "PLACEHOLDER_LIST_SCHEMA_MUST_EXIST": 40406, "NON_PARSABLE_DATE": 40407, "READ_ONLY_ALLOWED": 40501,
    "WRITE_SOURCES_RESTRICTED": 40502, "IMPORT_ALREADY_IN_PROGRESS": 40901, "OPTIMISTIC_LOCK": 40902,
    "TOO_MANY_REQUESTS": 42901,
}


def _http_status(value: object, path: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 100 <= value <= 599:
        raise PayloadError(path, f"expected an HTTP status between 100 and 599, got {kind_of(value)}")
    return value


def parse_infobip_api_error(payload: object, *, channel: str | None = None, http_status: int | None = None,
                            headers: Mapping[str, object] | None = None, path: str = "$",
                            tenant: str | None = None) -> Outcome:
    """An Infobip API error response as an Outcome in the People API error table.

    Reads ``{"requestError": {"serviceException" (or "policyException"): {"messageId", "text"}}}`` and the newer
    ``{"errorCode": "E429", "description"}``.  429 / ``E429`` is TOO_MANY_REQUESTS and honours ``Retry-After``
    from ``headers``.  A status the table does not document is reported as the bare HTTP status (an unknown
    code, flagged permanent for 4xx other than 408, 425 and 429).
    """
    if type(payload) is not dict:
        raise PayloadError(path, f"expected an API error object, got {kind_of(payload)}")
    status = _http_status(http_status, "http_status")
    if "errorCode" in payload:
        where = f"{path}.errorCode"
        name = payload["errorCode"]
    else:
        request = payload.get("requestError")
        if type(request) is not dict:
            raise PayloadError(f"{path}.requestError", f"expected an object, got {kind_of(request)}")
        key = "serviceException" if "serviceException" in request else "policyException"
        exception = request.get(key)
        if type(exception) is not dict:
            raise PayloadError(f"{path}.requestError.{key}", f"expected an object with messageId and text, "
                                                             f"got {kind_of(exception)}")
        where = f"{path}.requestError.{key}.messageId"
        name = exception.get("messageId")
    if type(name) is not str or not name:
        raise PayloadError(where, f"expected the error name as a string, got {kind_of(name)}")
    match = _E_CODE.fullmatch(name)
    if match is not None:
        status = int(match.group(1))
    elif status is None:
        status = _NAMED_STATUSES.get(name)
    code = PEOPLE_ERROR_CODES.get(name)
    if code is None and status is not None:
        code = _HTTP_CODES.get(status, status)
    if code is None:
        raise PayloadError(where, f"cannot tell which error {name!r} is: give the HTTP status of the response "
                                  "(envelope field http_status)")
    permanent = None if status is None else (400 <= status < 500 and status not in (408, 425, 429))
    return Outcome(
        provider="infobip",
        channel=channel or "api",
        product="people",
        error=CodeRef(id=code, name=name if match is None else None, permanent=permanent),
        message_id=None,
        tenant=tenant,
        retry_after=parse_retry_after(headers, "$.headers"),
    )


def infobip_items(payload: object, *, channel: str | None = None, http_status: int | None = None,
                  headers: Mapping[str, object] | None = None, tenant: str | None = None,
                  root: str = "$") -> list[Item]:
    """Every outcome in an Infobip payload, with a `PayloadError` in place of each report that cannot be read
    (so one bad report does not hide the good ones next to it)."""
    if type(payload) is not dict:
        return [PayloadError(root, f"expected an Infobip payload object, got {kind_of(payload)}")]
    try:
        if "requestError" in payload or "errorCode" in payload:
            return [parse_infobip_api_error(payload, channel=channel, http_status=http_status, headers=headers,
                                            path=root, tenant=tenant)]
        retry_after = parse_retry_after(headers, "$.headers")
        if "results" not in payload:
            return [parse_infobip_report(payload, channel=channel, path=root, tenant=tenant,
                                         retry_after=retry_after)]
    except (PayloadError, InvalidOutcomeError) as exc:
        return [payload_error(exc, root)]
    results = payload["results"]
    if type(results) is not list:
        return [PayloadError(f"{root}.results", f"expected an array of reports, got {kind_of(results)}")]
    if not results:
        return [PayloadError(f"{root}.results", "empty: the payload holds no report to decide")]
    items: list[Item] = []
    for index, result in enumerate(results):
        try:
            items.append(parse_infobip_report(result, channel=channel, path=f"{root}.results[{index}]",
                                              tenant=tenant, retry_after=retry_after))
        except (PayloadError, InvalidOutcomeError) as exc:
            items.append(payload_error(exc, f"{root}.results[{index}]"))
    return items


def parse_infobip(payload: object, *, channel: str | None = None, http_status: int | None = None,
                  headers: Mapping[str, object] | None = None) -> list[Outcome]:
    """All outcomes in an Infobip payload (delivery reports or an API error); raises the first `PayloadError`."""
    items = infobip_items(payload, channel=channel, http_status=http_status, headers=headers)
    for item in items:
        if isinstance(item, PayloadError):
            raise item
    return items  # type: ignore[return-value]
