"""A delivery-report webhook receiver: standard library HTTP server in, one JSON Lines decision per report out.

Providers POST delivery reports to ``/webhooks/<provider>`` (``infobip``, ``nhn_kakao``, or ``auto`` to detect
the shape); ``?channel=sms`` says which channel the reports are about (configure each Infobip webhook URL with
its channel: many report bodies do not name it).  NHN Cloud signs its webhooks with ``X-Toast-Webhook-Signature``
(the value configured with the webhook): NHN posts are accepted only when the receiver knows that signature
(``--nhn-signature`` or ``$NHN_WEBHOOK_SIGNATURE``) and the request carries it, checked in constant time with
``dlrpolicy.verify_nhn_signature``; anything else is answered 401.  Each report is read with ``dlrpolicy.parse``
and recorded through the ledger (``dlrpolicy.Recorder``; a temporary SQLite file in the demo, ``--state URL``
otherwise): the decision uses the message's real history (attempts, first attempt), a duplicate delivery gets the
stored decision back, and the effects (suppressions, the retry schedule, incidents) are committed with it.  Each
decision is logged as a structlog ``decision`` event and appended to a JSON Lines journal.  Nothing is dropped:
a body that is not JSON, a payload that cannot be read or a request with a bad signature is journalled as a
rejection with the reason (and answered 400 / 422 / 401, so the provider's own retry and alerting see it too).

Run ``python examples/webhook_receiver.py`` for a self-contained demo: it starts the server on a free
loopback port, posts a few realistic payloads to itself, prints the journal and stops.  Use
``--serve --port 8080 --journal decisions.jsonl`` to keep it running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
import structlog.testing

from dlrpolicy import (
    Engine,
    PayloadError,
    Recorder,
    Report,
    detect_provider,
    log_decision,
    open_store,
    parse,
    verify_nhn_signature,
)

#: Largest body accepted; providers batch reports, but a webhook body beyond this is a misconfiguration.
MAX_BODY = 1024 * 1024
PROVIDERS = {"infobip": "infobip", "nhn_kakao": "nhn_kakao", "auto": None}


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix, as `Decision.to_json` writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class JsonLinesJournal:
    """Appends one JSON object per line; a lock keeps lines whole when handler threads write at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        text = "".join(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n" for record in records)
        with self._lock, self.path.open("a", encoding="utf-8") as journal:
            journal.write(text)


class WebhookServer(ThreadingHTTPServer):
    """ThreadingHTTPServer carrying what the handler needs: engine, journal, clock, logger."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, journal: JsonLinesJournal,
                 clock: Callable[[], datetime], logger: Any, recorder: Recorder | None = None,
                 nhn_signature: str | None = None) -> None:
        super().__init__(address, WebhookHandler)
        self.engine = engine
        self.journal = journal
        self.clock = clock
        self.logger = logger
        self.recorder = recorder
        #: The signature configured with the NHN webhook; without one, NHN posts are refused (nothing unsigned
        #: gets in).
        self.nhn_signature = nhn_signature


class WebhookHandler(BaseHTTPRequestHandler):
    """POST /webhooks/<provider>[?channel=C]: parse, evaluate, journal, answer with the verdicts."""

    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def _unsigned(self) -> bool:
        """Answer 401 and say so when the request lacks the NHN webhook's configured signature."""
        if verify_nhn_signature(dict(self.headers.items()), self.server.nhn_signature or ""):
            return False
        problem = ("no NHN webhook signature is configured: start the receiver with --nhn-signature"
                   if not self.server.nhn_signature else "X-Toast-Webhook-Signature is missing or wrong")
        self._reject(HTTPStatus.UNAUTHORIZED, "bad_signature", problem, None, body=None)
        return True

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "webhooks" or parts[1] not in PROVIDERS:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"POST to /webhooks/{{{','.join(PROVIDERS)}}}"})
            return
        provider = PROVIDERS[parts[1]]
        channel = parse_qs(url.query).get("channel", [None])[0]
        if provider == "nhn_kakao" and self._unsigned():
            self.close_connection = True  # the body was not read
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._reject(HTTPStatus.BAD_REQUEST, "bad_content_length", "send a Content-Length header with the "
                         "body's size in bytes", None, body=None)
            self.close_connection = True
            return
        if length > MAX_BODY:
            self._reject(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                         f"body of {length} bytes exceeds {MAX_BODY}", None, body=None)
            self.close_connection = True  # the unread body would otherwise be parsed as the next request
            return
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._reject(HTTPStatus.BAD_REQUEST, "invalid_json", str(exc), None,
                         body=body.decode("utf-8", "backslashreplace"))
            return
        # /webhooks/auto: a body that reads as NHN's must carry NHN's signature too, or anyone could post forged
        # results (and suppress recipients) by leaving the provider to detection.
        if provider is None and detect_provider(payload) == "nhn_kakao" and self._unsigned():
            return
        try:
            outcomes = parse(payload, provider=provider, channel=channel)
        except PayloadError as exc:
            self._reject(HTTPStatus.UNPROCESSABLE_ENTITY, "PayloadError", exc.message, exc.path, payload=payload)
            return
        now = self.server.clock()
        records, answers = [], []
        recorder = self.server.recorder
        # Through the ledger: one transaction for the body's reports, their history and effects.
        recorded = recorder.record_many([Report(outcome=o) for o in outcomes], now=now) if recorder else None
        for n, outcome in enumerate(outcomes):
            result = recorded[n] if recorded is not None else None
            if isinstance(result, Exception):
                records.append({"received_at": iso_z(now), "message_id": outcome.message_id,
                                "rejected": {"type": type(result).__name__, "message": str(result), "path": None}})
                continue
            decision = result.decision if result is not None else self.server.engine.evaluate(outcome, now=now)
            log_decision(self.server.logger, decision, outcome)
            records.append({"received_at": iso_z(now), "message_id": outcome.message_id,
                            "provider": outcome.provider, "channel": outcome.channel,
                            "recipient": outcome.recipient, "decision": decision.to_json(),
                            "state": None if result is None else result.to_json()})
            answers.append({"message_id": outcome.message_id, "verdict": decision.verdict})
        self.server.journal.append(records)
        self._answer(HTTPStatus.OK, {"decisions": answers})

    def _reject(self, status: HTTPStatus, kind: str, message: str, path: str | None, **kept: Any) -> None:
        record = {"received_at": iso_z(self.server.clock()), "rejected": {"type": kind, "message": message,
                                                                            "path": path}, **kept}
        self.server.journal.append([record])
        self._answer(status, {"error": record["rejected"]})

    def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Access lines go nowhere; the `decision` events are the log that matters."""


def make_server(engine: Engine, journal_path: Path, *, host: str = "127.0.0.1", port: int = 0,
                clock: Callable[[], datetime] | None = None, logger: Any = None,
                recorder: Recorder | None = None, nhn_signature: str | None = None) -> WebhookServer:
    """A bound (not yet serving) receiver; ``port=0`` picks a free port (see ``server.server_address``).

    With ``recorder``, reports are recorded through the ledger; without, each is evaluated on its own.
    ``nhn_signature`` is the signature configured with the NHN webhook (None: NHN posts are refused)."""
    return WebhookServer((host, port), engine, JsonLinesJournal(journal_path), clock or (lambda: datetime.now(UTC)),
                         logger if logger is not None else structlog.get_logger("dlrpolicy.webhook"), recorder,
                         nhn_signature)


def post(url: str, body: bytes, timeout: float = 10,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON with extra ``headers``; the status and the decoded answer (for the demo and tests)."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})},
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _status(group_id: int, group: str, id: int, name: str) -> dict[str, Any]:
    return {"groupId": group_id, "groupName": group, "id": id, "name": name, "description": name.lower()}


def _error(group_id: int, group: str, id: int, name: str, permanent: bool) -> dict[str, Any]:
    return {**_status(group_id, group, id, name), "permanent": permanent}


#: Demo payloads shaped after Infobip's SMS and email delivery-report webhooks.
SMS_REPORTS = {"results": [
    {"bulkId": "b-1", "messageId": "m-1", "to": "821012340001", "sentAt": "2026-11-24T09:59:58.000+0000",
     "doneAt": "2026-11-24T10:00:00.000+0000", "smsCount": 1, "mccMnc": "45005", "callbackData": "acme",
     "price": {"pricePerMessage": 0.01, "currency": "EUR"},
     "status": _status(2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
     "error": _error(1, "HANDSET_ERRORS", 27, "EC_ABSENT_SUBSCRIBER", False)},
    {"bulkId": "b-1", "messageId": "m-2", "to": "821012340002", "sentAt": "2026-11-24T09:59:58.000+0000",
     "doneAt": "2026-11-24T09:59:59.000+0000", "smsCount": 1, "mccMnc": "45005", "callbackData": "acme",
     "price": {"pricePerMessage": 0.01, "currency": "EUR"},
     "status": _status(3, "DELIVERED", 5, "DELIVERED_TO_HANDSET"),
     "error": _error(0, "OK", 0, "NO_ERROR", False)},
]}
EMAIL_REPORTS = {"results": [
    {"bulkId": "b-2", "messageId": "m-3", "to": "kim@example.com", "sentAt": "2026-11-24T09:58:00.000+0000",
     "doneAt": "2026-11-24T09:58:03.000+0000", "messageCount": 1, "browserLink": "https://example.com/m-3",
     "sendingIp": "203.0.113.7", "attemptCount": 1,
     "price": {"pricePerMessage": 0.0, "currency": "EUR"},
     "status": _status(2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
     "error": _error(2, "BOUNCED", 6012, "EC_HARD_BOUNCE", True)},
]}


#: Demo NHN Cloud MESSAGE_RESULT_UPDATE webhook, shaped after NHN's webhook guide (TOAST-DOCS/Alimtalk,
#: en/webhook-api-guide.md): 3019 is "not a KakaoTalk user", which falls back to SMS.
NHN_HOOKS = {
    "hooksId": "202611241900hooks0001", "webhookConfigId": "wh-config-demo", "productName": "KakaoTalk Bizmessage",
    "appKey": "demoAppKey0001", "event": "MESSAGE_RESULT_UPDATE",
    "hooks": [{"kakaoMessageType": "ALIMTALK_NORMAL", "requestId": "20261124185959abcdefghij0", "recipientSeq": 1,
               "requestDate": "2026-11-24 18:59:59", "createDate": "2026-11-24 18:59:59",
               "receiveDate": "2026-11-24 19:00:01", "recipientNo": "01012340004", "resultCode": "3019",
               "senderGroupingKey": None, "recipientGroupingKey": None, "hookId": "hook-demo-1"}],
}
#: The signature the demo's NHN webhook is configured with (in production: the value entered in NHN's console).
DEMO_NHN_SIGNATURE = "demo-signature-configured-in-the-nhn-console"


def demo(engine: Engine, journal_path: Path, recorder: Recorder | None = None) -> list[dict[str, Any]]:
    """Serve on a free loopback port, post the demo payloads (the SMS body twice, as a provider redelivers; an
    NHN webhook signed and forged), stop; return the journal's records."""
    # A fixed clock keeps the printed decisions the same on every run; the journal is the output here.
    server = make_server(engine, journal_path, clock=lambda: datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
                         logger=structlog.testing.CapturingLogger(), recorder=recorder,
                         nhn_signature=DEMO_NHN_SIGNATURE)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}/webhooks"
    try:
        signed = {"X-Toast-Webhook-Signature": DEMO_NHN_SIGNATURE}
        forged = {"X-Toast-Webhook-Signature": "not-the-configured-signature"}
        for url, body, headers in ((f"{base}/infobip?channel=sms", json.dumps(SMS_REPORTS).encode(), {}),
                                   (f"{base}/infobip?channel=email", json.dumps(EMAIL_REPORTS).encode(), {}),
                                   (f"{base}/infobip?channel=sms", json.dumps(SMS_REPORTS).encode(), {}),
                                   (f"{base}/nhn_kakao", json.dumps(NHN_HOOKS).encode(), signed),
                                   (f"{base}/nhn_kakao", json.dumps(NHN_HOOKS).encode(), forged),
                                   (f"{base}/infobip", b'{"results": [{"status": ', {})):
            status, answer = post(url, body, headers=headers)
            print(f"POST {url.removeprefix(base)} -> {status} {json.dumps(answer)}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    return [json.loads(line) for line in journal_path.read_text(encoding="utf-8").splitlines()]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo, or with --serve keep receiving until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help="keep serving instead of running the demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--journal", type=Path, default=None, help="JSON Lines file to append decisions to")
    parser.add_argument("--state", help="the store to record through (default: a temporary SQLite file)")
    parser.add_argument("--nhn-signature", default=os.environ.get("NHN_WEBHOOK_SIGNATURE"),
                        help="the signature configured with the NHN webhook (default: $NHN_WEBHOOK_SIGNATURE); "
                        "without it NHN posts are refused")
    args = parser.parse_args(argv)
    engine = Engine.default()
    if args.serve:
        recorder = Recorder(engine, open_store(args.state or "sqlite:///webhook-state.db"))
        server = make_server(engine, args.journal or Path("decisions.jsonl"), host=args.host, port=args.port,
                             recorder=recorder, nhn_signature=args.nhn_signature)
        print(f"receiving on http://{args.host}:{server.server_address[1]}/webhooks/<provider>", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        server.server_close()
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        store = open_store(args.state or f"sqlite:///{Path(directory) / 'state.db'}")
        records = demo(engine, args.journal or Path(directory) / "decisions.jsonl", Recorder(engine, store))
        store.close()
    print("journal:")
    for record in records:
        if "rejected" in record:
            print(f"  rejected: {record['rejected']['type']}: {record['rejected']['message']}")
        else:
            decision, state = record["decision"], record.get("state") or {}
            again = " (duplicate: the stored decision)" if state.get("duplicate") else ""
            print(f"  {record['message_id']} ({record['channel']}): {decision['verdict']} "
                  f"retry_at={decision['retry_at']} rule={decision['rule']} attempts={state.get('attempts')}{again}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
