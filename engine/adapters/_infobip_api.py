"""Infobip API error responses to Outcomes: ``{"requestError": {"serviceException" | "policyException":
{"messageId", "text"}}}`` (older APIs) and ``{"errorCode": "E429", "description", "action", "violations"}``
(newer ones), together with the response's HTTP status and headers.

An API error is an error of the call that got it: a failed SMS send is the HTTP status of that send, decided from
the catalog's HTTP table (kind ``http``).  Only a People API call (channel ``api``) uses the People API's own
error table, by the error's name.  Pure: the adapters never read the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from .._errors import PayloadError
from ..model._outcome import CodeRef, Outcome
from ._timestamps import parse_retry_after
from ._values import kind_of, outcome_of

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
_E_CODE: Final = re.compile(r"E([1-5][0-9]{2})")
# Error names that say their HTTP status, for bodies that arrive without one (the status is more reliable: an
# SDK sample answers 403 with messageId UNAUTHORIZED, and 503 with messageId "0").
_NAMED_STATUSES: Final = {
    "BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "TOO_MANY_REQUESTS": 429,
    "INTERNAL_SERVER_ERROR": 500, "GENERAL_ERROR": 500, "BAD_GATEWAY": 502, "SERVICE_UNAVAILABLE": 503,
    "GATEWAY_TIMEOUT": 504,
}
# 4xx statuses after which the same request can succeed later; every other 4xx fails the same way again.
_RETRYABLE_4XX: Final = frozenset({408, 425, 429})


def _http_status(value: object, path: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 100 <= value <= 599:
        raise PayloadError(path, f"expected an HTTP status between 100 and 599, got {kind_of(value)}")
    return value


def _error_name(payload: Mapping[str, object], path: str) -> tuple[str, str]:
    """The error's name and where it was read."""
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
    return name, where


def parse_infobip_bare_status(http_status: int, *, channel: str | None = None,
                              headers: Mapping[str, object] | None = None, tenant: str | None = None) -> Outcome:
    """An Infobip API response that failed with ``http_status`` and no error body to read (an empty body, or a
    gateway's HTML page): the status alone is the code, in the catalog's HTTP table."""
    status = _http_status(http_status, "http_status")
    assert status is not None
    return _outcome(_http_ref(status), None, channel, parse_retry_after(headers, "$.headers"), tenant)


def parse_infobip_api_error(payload: object, *, channel: str | None = None, http_status: int | None = None,
                            headers: Mapping[str, object] | None = None, path: str = "$",
                            tenant: str | None = None) -> Outcome:
    """An Infobip API error response as an Outcome.

    The HTTP status (``http_status``, else the ``E4xx`` code, else a name such as ``TOO_MANY_REQUESTS``) is the
    code, in the catalog's HTTP table, for a call on ``channel`` (None: the caller did not say).  On a People API
    call (``channel="api"``) a People API error name is that table's code instead.  ``Retry-After`` in
    ``headers`` (seconds or an HTTP date) becomes the outcome's provider-requested wait.
    """
    if type(payload) is not dict:
        raise PayloadError(path, f"expected an API error object, got {kind_of(payload)}")
    status = _http_status(http_status, "http_status")
    name, where = _error_name(payload, path)
    match = _E_CODE.fullmatch(name)
    if status is None:
        status = int(match.group(1)) if match is not None else _NAMED_STATUSES.get(name)
    retry = parse_retry_after(headers, "$.headers")
    people = PEOPLE_ERROR_CODES.get(name) if channel == "api" else None
    if people is not None:
        key = (name, _permanent(status))
        ref = _PEOPLE_REFS.get(key)
        if ref is None:
            ref = _PEOPLE_REFS[key] = CodeRef(id=people, name=name, permanent=key[1])
        return _outcome(ref, "people", channel, retry, tenant)
    if status is None:
        raise PayloadError(where, f"cannot tell which error {name!r} is: give the HTTP status of the response "
                                  "(envelope field http_status)")
    return _outcome(_http_ref(status), None, channel, retry, tenant)


def _permanent(status: int | None) -> bool | None:
    """Whether the same call fails the same way again, as its HTTP status says (None: no status)."""
    return None if status is None else (400 <= status < 500 and status not in _RETRYABLE_4XX)


# Codes repeat across reports; one CodeRef each is shared (the engine remembers routes by the code objects).  Both
# are bounded by what keys them: the statuses 100-599, the People API names with the three `_permanent` values.
_HTTP_REFS: dict[int, CodeRef] = {}
_PEOPLE_REFS: dict[tuple[str, bool | None], CodeRef] = {}


def _http_ref(status: int) -> CodeRef:
    ref = _HTTP_REFS.get(status)
    if ref is None:
        ref = _HTTP_REFS[status] = CodeRef(id=status, kind="http", permanent=_permanent(status))
    return ref


def _outcome(error: CodeRef, product: str | None, channel: str | None,
             retry: tuple[timedelta | None, datetime | None], tenant: str | None) -> Outcome:
    """The outcome of a failed call: its error code, on the caller's channel, with the response's Retry-After
    (`parse_retry_after`)."""
    retry_after, not_before = retry
    return outcome_of({  # every field, in field order (see outcome_of)
        "provider": "infobip", "channel": channel, "status": None, "error": error, "product": product,
        "message_id": None, "recipient": None, "sender": None, "tenant": tenant, "template": None, "sent_at": None,
        "done_at": None, "retry_after": retry_after, "retry_not_before": not_before,
        "channel_source": None if channel is None else "caller", "event": None, "resend": None,
        "message_type": None, "account": None,
    })
