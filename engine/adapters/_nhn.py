"""NHN Cloud KakaoTalk Bizmessage payloads to Outcomes (shapes checked against NHN's docs, TOAST-DOCS/Alimtalk).

Shapes: the send response (``header.resultCode`` and ``message.sendResults[]``, one outcome per recipient), the
single-message query (``header`` + ``message`` with ``resultCode``, ``messageStatus``, ``resendStatus``), the list
queries (``messageSearchResultResponse.messages[]``) and result polling (``messages[]``), the webhook
(``hooksId``, ``appKey``, ``event`` and ``hooks[]`` with ``kakaoMessageType``), and a single result row.

API response codes (0 and negatives, kind ``api``) go in `Outcome.error`; send-result codes (1000-9999, kind
``delivery``) go in `Outcome.status`.  API code -3018 and send-result 3018 are unrelated entries.  Result rows
carry ``resultCode`` as a string ("3018"); numeric strings are accepted there, anything else is an error.
``resendStatus`` (NHN's own SMS fallback) becomes `Outcome.resend`; the KakaoTalk result stays the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from .._errors import InvalidOutcomeError, PayloadError
from ..model._outcome import CodeRef, Outcome, Resend
from ._timestamps import KST, optional_kst_timestamp, parse_retry_after
from ._values import Skipped, kind_of, outcome_of, payload_error

Item = Outcome | PayloadError | Skipped

_NUMBER: Final = re.compile(r"-?[0-9]{1,9}")
# Send-result 4161 MESSAGE_IN_PROGRESS is NHN's own code for "not final yet": a row still waiting for its result.
IN_PROGRESS: Final = CodeRef(id=4161, name="MESSAGE_IN_PROGRESS")
#: NHN's resendStatus values -> what the provider's own SMS fallback did (RSC02: a fallback target, resent if the
#: KakaoTalk send fails; RSC03: resending; RSC04: the resend succeeded; RSC05: it failed).
RESEND_STATES: Final = {"RSC01": "none", "RSC02": "pending", "RSC03": "pending", "RSC04": "delivered",
                        "RSC05": "failed"}
#: messageStatus values of rows that have no result yet (READY: a mass-send recipient not sent yet).
_PENDING_STATUSES: Final = frozenset({"READY", "IN_PROGRESS", "PROCESSING", "SENDING", "WAITING", "RESERVED"})
_CANCELLED: Final = "CANCEL"
_REFS: dict[int, CodeRef] = {}
# (resendStatus, resendResultCode as text, resendRequestId) -> the Resend; most rows share a few; bounded.
_RESENDS: dict[tuple[str, str | None, str | None], Resend] = {}
_RESENDS_MAX: Final = 4096
# A result code as result rows write it ("3018") -> its CodeRef, once `result_code` accepted the text; bounded.
_TEXT_REFS: dict[str, CodeRef] = {}


def result_code(value: object, path: str) -> int:
    """A ``resultCode``: a JSON integer, or a numeric string as the result queries send it."""
    if type(value) is int:
        return value
    if type(value) is str and _NUMBER.fullmatch(value):
        return int(value)
    problem = "missing" if value is None else f"expected an integer or a numeric string, got {kind_of(value)}"
    raise PayloadError(path, f"{problem}: NHN result codes look like 0, -1019 or \"3018\"")


def _ref(code: int) -> CodeRef:
    ref = _REFS.get(code)
    if ref is None:
        ref = _REFS[code] = CodeRef(id=code)
    return ref


def _opt_str(obj: Mapping[str, object], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise PayloadError(f"{path}.{key}", f"expected a string, got {kind_of(value)}")


def _message_id(row: Mapping[str, object], path: str, request_id: object = None) -> str | None:
    request = row.get("requestId", request_id)
    if request is not None and type(request) is not str:
        raise PayloadError(f"{path}.requestId", f"expected a string, got {kind_of(request)}")
    seq = row.get("recipientSeq")
    if seq is None:
        return request
    if type(seq) is not int and not (type(seq) is str and seq.isdigit()):
        raise PayloadError(f"{path}.recipientSeq", f"expected an integer, got {kind_of(seq)}")
    # NHN identifies one message by request id and recipient sequence together.
    return f"{request}:{seq}" if request is not None else str(seq)


def _resend(row: Mapping[str, object], path: str) -> Resend | None:
    reported = row.get("resendStatus")
    if reported is None:
        return None
    if type(reported) is not str or reported not in RESEND_STATES:
        raise PayloadError(f"{path}.resendStatus", f"expected one of {', '.join(RESEND_STATES)}, got "
                                                   f"{kind_of(reported)}")
    code = row.get("resendResultCode")
    key = (reported, None if code is None else str(code), _opt_str(row, "resendRequestId", path))
    resend = _RESENDS.get(key)
    if resend is None:
        resend = Resend(state=RESEND_STATES[reported], reported=key[0], result_code=key[1], request_id=key[2])
        if len(_RESENDS) >= _RESENDS_MAX:
            _RESENDS.clear()
        _RESENDS[key] = resend
    return resend


def parse_nhn_result(row: object, *, channel: str | None = None, path: str = "$", tenant: str | None = None,
                     retry_after: timedelta | None = None, account: str | None = None) -> Outcome:
    """One result row (single query, list query, polling or webhook hook) as an Outcome whose status is the
    send-result code.

    A row without a result yet reports 4161 MESSAGE_IN_PROGRESS; ``messageStatus`` CANCEL without a result is a
    cancelled message (``event = "cancelled"``).  ``resendStatus`` becomes `Outcome.resend`, beside the row's
    own KakaoTalk result: RSC04 means the SMS fallback delivered it, RSC05 that the fallback failed too.
    """
    if type(row) is not dict:
        raise PayloadError(path, f"expected a result object, got {kind_of(row)}")
    raw = row.get("resultCode")
    message_status = row.get("messageStatus")
    status: CodeRef | None
    event = None
    if raw is None or raw == "":
        if message_status == _CANCELLED:
            status, event = None, "cancelled"
        elif (type(message_status) is str and message_status in _PENDING_STATUSES) or "resendStatus" in row:
            status = IN_PROGRESS
        else:
            raise PayloadError(f"{path}.resultCode", "missing: a result row needs a resultCode unless its "
                                                     f"messageStatus says it is pending or cancelled (got "
                                                     f"{message_status!r})")
    else:
        status = _TEXT_REFS.get(raw) if type(raw) is str else None  # "3018": the same few codes, millions of times
        if status is None:
            status = _ref(result_code(raw, f"{path}.resultCode"))
            if type(raw) is str:
                if len(_TEXT_REFS) >= _RESENDS_MAX:
                    _TEXT_REFS.clear()
                _TEXT_REFS[raw] = status
    # The string fields are read inline (the common case: a string or nothing), in the order they were always
    # checked in (the first problem found is the one reported); `_opt_str` raises for anything else.  The calls
    # saved here and for the cached times, with Infobip's sender read inline: adapt 79.4k -> 76.8k instructions
    # per benchmark line.
    get = row.get
    message_type = get("kakaoMessageType")
    if message_type is not None and type(message_type) is not str:
        _opt_str(row, "kakaoMessageType", path)
    request_date, receive_date = get("requestDate"), get("receiveDate")
    resend = None if get("resendStatus") is None else _resend(row, path)  # read first, as it always was
    message_id = _message_id(row, path)
    recipient = get("recipientNo")
    if recipient is not None and type(recipient) is not str:
        _opt_str(row, "recipientNo", path)
    sender = get("senderKey")
    if sender is not None and type(sender) is not str:
        _opt_str(row, "senderKey", path)
    if sender is None:
        sender = get("plusFriendId")
        if sender is not None and type(sender) is not str:
            _opt_str(row, "plusFriendId", path)
    template = get("templateCode")
    if template is not None and type(template) is not str:
        _opt_str(row, "templateCode", path)
    # `_kst` for a time read before (its cache, looked up inline).
    sent_at = _KST_TIMES.get(request_date) if type(request_date) is str else None
    if sent_at is None:
        sent_at = _kst(request_date, path, "requestDate")
    done_at = _KST_TIMES.get(receive_date) if type(receive_date) is str else None
    if done_at is None:
        done_at = _kst(receive_date, path, "receiveDate")
    return outcome_of({  # every field, in field order (see outcome_of)
        "provider": "nhn_kakao",
        # KakaoTalk Bizmessage results are KakaoTalk by what they are: the report's own fact wins over a caller's
        # channel (a mixed run's --channel sms must not make a KakaoTalk failure an SMS one).
        "channel": "kakao",
        "status": status,
        "error": None,
        "product": None,
        "message_id": message_id,
        "recipient": recipient,
        "sender": sender,
        "tenant": tenant,
        "template": template,
        "sent_at": sent_at,
        "done_at": done_at,
        "retry_after": retry_after,
        "retry_not_before": None,
        "channel_source": "report",
        "event": event,
        "resend": resend,
        "message_type": message_type,
        "account": account,
    })


def _kst(value: object, path: str, key: str) -> datetime | None:
    """`optional_kst_timestamp` of ``path.key``, the path written out only for an error."""
    if type(value) is str and value:
        parsed = _KST_TIMES.get(value)
        if parsed is not None:
            return parsed
        try:
            parsed = _fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=KST)
            if len(_KST_TIMES) >= _KST_TIMES_MAX:
                _KST_TIMES.clear()
            _KST_TIMES[value] = parsed
            return parsed
    return optional_kst_timestamp(value, f"{path}.{key}")  # null, "", or the error that says what is wrong


_fromisoformat: Final = datetime.fromisoformat
# A timestamp's text -> the datetime `_kst` read from it.  NHN writes times to the second, and the rows of one
# request share its requestDate (and often a receiveDate): the same few texts repeat, and datetime.replace, which
# puts the zone on, costs about four times the parse.  Bounded (cleared when full); datetimes are immutable.
_KST_TIMES: dict[str, datetime] = {}
_KST_TIMES_MAX: Final = 4096


def _header(payload: Mapping[str, object], root: str) -> int | None:
    header = payload.get("header")
    if header is None:
        return None
    if type(header) is not dict:
        raise PayloadError(f"{root}.header", f"expected an object with resultCode, got {kind_of(header)}")
    return result_code(header.get("resultCode"), f"{root}.header.resultCode")


def _api_outcome(code: int, *, channel: str | None, message_id: str | None, tenant: str | None,
                 retry_after: timedelta | None, recipient: str | None = None) -> Outcome:
    return outcome_of({  # every field, in field order (see outcome_of)
        "provider": "nhn_kakao", "channel": "kakao", "status": None, "error": _ref(code), "product": None,
        "message_id": message_id, "recipient": recipient, "sender": None, "tenant": tenant, "template": None,
        "sent_at": None, "done_at": None, "retry_after": retry_after, "retry_not_before": None,
        "channel_source": "report", "event": None, "resend": None, "message_type": None, "account": None,
    })


def _is_template_hook(row: object) -> bool:
    return type(row) is dict and "templateCode" in row and "status" in row and "resultCode" not in row


def _rows(rows: object, path: str, channel: str | None, tenant: str | None, retry_after: timedelta | None,
          account: str | None = None) -> list[Item]:
    if type(rows) is not list:
        return [PayloadError(path, f"expected an array of results, got {kind_of(rows)}")]
    if not rows:
        return [Skipped(path, "empty: the payload holds no result (nothing new)")]
    items: list[Item] = []
    for index, row in enumerate(rows):
        where = f"{path}[{index}]"
        if _is_template_hook(row):
            items.append(Skipped(where, "a template status update (TSC01-TSC04), not a message result"))
            continue
        try:
            items.append(parse_nhn_result(row, channel=channel, path=where, tenant=tenant, retry_after=retry_after,
                                          account=account))
        except (PayloadError, InvalidOutcomeError) as exc:
            items.append(payload_error(exc, where))
    return items


def _send_response(payload: Mapping[str, object], header: int | None, root: str, channel: str | None,
                   tenant: str | None, retry_after: timedelta | None) -> list[Item]:
    message = payload.get("message")
    if message is not None and type(message) is not dict:
        return [PayloadError(f"{root}.message", f"expected an object, got {kind_of(message)}")]
    if message is not None and "sendResults" not in message and (
            "resultCode" in message or "messageStatus" in message or "resendStatus" in message):
        # The single-message query: GET .../messages/{requestId}/{recipientSeq} answers header + one result row.
        return _rows([message], f"{root}.message", channel, tenant, retry_after)[:1] if header in (None, 0) else \
            [_api_outcome(header, channel=channel, message_id=None, tenant=tenant, retry_after=retry_after)]
    request_id = None if message is None else message.get("requestId")
    if request_id is not None and type(request_id) is not str:
        return [PayloadError(f"{root}.message.requestId", f"expected a string, got {kind_of(request_id)}")]
    results = None if message is None else message.get("sendResults")
    if results is None:
        if header is None:
            return [PayloadError(f"{root}.header", "missing: a send response without sendResults needs "
                                                   "header.resultCode")]
        return [_api_outcome(header, channel=channel, message_id=request_id, tenant=tenant,
                             retry_after=retry_after)]
    path = f"{root}.message.sendResults"
    if type(results) is not list:
        return [PayloadError(path, f"expected an array of per-recipient results, got {kind_of(results)}")]
    if not results:
        return [PayloadError(path, "empty: the payload holds no recipient result to decide")]
    items: list[Item] = []
    for index, result in enumerate(results):
        where = f"{path}[{index}]"
        try:
            if type(result) is not dict:
                raise PayloadError(where, f"expected a result object, got {kind_of(result)}")
            code = result_code(result.get("resultCode"), f"{where}.resultCode")
            items.append(_api_outcome(code, channel=channel, message_id=_message_id(result, where, request_id),
                                      recipient=_opt_str(result, "recipientNo", where), tenant=tenant,
                                      retry_after=retry_after))
        except (PayloadError, InvalidOutcomeError) as exc:
            items.append(payload_error(exc, where))
    return items


def _webhook(payload: Mapping[str, object], root: str, channel: str | None, tenant: str | None,
             retry_after: timedelta | None) -> list[Item]:
    event = payload.get("event")
    if event is not None and event != "MESSAGE_RESULT_UPDATE":
        return [Skipped(f"{root}.event", f"a {event!r} webhook, not a message result (only "
                                         "MESSAGE_RESULT_UPDATE reports on messages)")]
    app_key = payload.get("appKey")
    account = app_key if type(app_key) is str else None
    return _rows(payload["hooks"], f"{root}.hooks", channel, tenant, retry_after, account)


def nhn_items(payload: object, *, channel: str | None = None, http_status: int | None = None,
              headers: Mapping[str, object] | None = None, tenant: str | None = None,
              root: str = "$") -> list[Item]:
    """Every outcome in an NHN KakaoTalk Bizmessage payload, with a `PayloadError` in place of each part that
    cannot be read and a `Skipped` for parts with nothing to decide.  A failed request (header resultCode other
    than 0) gives one outcome with that API code.  Every outcome is on channel ``kakao`` (the product's own fact);
    ``channel``, the caller's, is accepted for a uniform signature and does not override it."""
    del http_status  # NHN puts its verdict in header.resultCode; the HTTP status adds nothing to it
    if type(payload) is not dict:
        return [PayloadError(root, f"expected an NHN payload object, got {kind_of(payload)}")]
    try:
        retry_after, _ = parse_retry_after(headers, "$.headers")
        if "hooks" in payload:
            return _webhook(payload, root, channel, tenant, retry_after)
        header = _header(payload, root)
        if "message" in payload:
            return _send_response(payload, header, root, channel, tenant, retry_after)
        if header is not None and header != 0:
            return [_api_outcome(header, channel=channel, message_id=None, tenant=tenant, retry_after=retry_after)]
        if "messageSearchResultResponse" in payload:
            search = payload["messageSearchResultResponse"]
            if type(search) is not dict:
                return [PayloadError(f"{root}.messageSearchResultResponse",
                                     f"expected an object with messages, got {kind_of(search)}")]
            return _rows(search.get("messages"), f"{root}.messageSearchResultResponse.messages", channel,
                         tenant, retry_after)
        if "messages" in payload:
            return _rows(payload["messages"], f"{root}.messages", channel, tenant, retry_after)
        if "resultCode" in payload or "resendStatus" in payload or "messageStatus" in payload:
            return [parse_nhn_result(payload, channel=channel, path=root, tenant=tenant, retry_after=retry_after)]
        if header is not None:
            return [_api_outcome(header, channel=channel, message_id=None, tenant=tenant, retry_after=retry_after)]
    except (PayloadError, InvalidOutcomeError) as exc:
        return [payload_error(exc, root)]
    return [PayloadError(root, "not an NHN KakaoTalk Bizmessage payload: expected header/message, "
                               "messageSearchResultResponse, messages, hooks or a result row")]


def parse_nhn(payload: object, *, channel: str | None = None, http_status: int | None = None,
              headers: Mapping[str, object] | None = None) -> list[Outcome]:
    """All outcomes in an NHN KakaoTalk Bizmessage payload; raises the first `PayloadError`.  Parts with nothing
    to decide (an empty result list, template status hooks) give no outcome."""
    outcomes = []
    for item in nhn_items(payload, channel=channel, http_status=http_status, headers=headers):
        if isinstance(item, PayloadError):
            raise item
        if isinstance(item, Outcome):
            outcomes.append(item)
    return outcomes
