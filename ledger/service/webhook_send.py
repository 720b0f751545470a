"""One webhook message, shaped and signed for its kind, and its one HTTP POST
(docs/CONSOLE.md, "Webhooks").

Kinds and their signing (each scheme as its vendor documents it; the sources are cited
in docs/CONSOLE.md):

- ``generic``: the message as JSON; ``X-Provenance-Timestamp`` (Unix seconds) and
  ``X-Provenance-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``;
- ``wecom`` (企业微信 group robot): ``{"msgtype": "text", "text": {"content": ...}}``
  to the robot's URL, whose ``key`` is the secret (the robot has no signature);
- ``dingtalk`` (钉钉 custom robot, "加签"): ``timestamp`` (milliseconds) and ``sign`` =
  base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)) appended to the
  URL's query; body ``{"msgtype": "text", "text": {"content": ...}}``;
- ``feishu`` (飞书 custom bot, "签名校验"): ``timestamp`` (seconds) and ``sign`` =
  base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg=empty)) in the body, beside
  ``{"msg_type": "text", "content": {"text": ...}}``.

`post` connects to the address ledger.service.webhook_targets checked (the URL's name
is sent as ``Host`` and as the TLS server name, so the certificate is still checked
against it), follows no redirect, reads at most `MAX_RESPONSE` bytes of the answer and
gives up after `TIMEOUT` seconds per phase. The robots answer 200 with an error code in
the body; that code decides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ledger.service.webhook_targets import Target

KINDS = ("generic", "wecom", "dingtalk", "feishu")
#: seconds per phase (connect, write, read, pool)
TIMEOUT = 5.0
#: bytes of an answer read (the rest is not waited for)
MAX_RESPONSE = 64 * 1024
#: characters of a robot's text (WeCom's limit is 2048 bytes of UTF-8)
MAX_TEXT = 600
USER_AGENT = "provenance-ledger-webhook/1"


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: delivered or not, the HTTP status, the error in one line."""

    ok: bool
    status: int | None
    error: str | None


def generic_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Provenance-Signature`` value: ``v1=`` and the hex HMAC-SHA256 with key
    ``secret`` over ``timestamp``, ``.`` and the raw body."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign``: base64 of HMAC-SHA256 keyed by the secret over
    ``timestamp\\nsecret`` (not yet URL-encoded)."""
    text = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), text, hashlib.sha256).digest()).decode()


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's ``sign``: base64 of HMAC-SHA256 keyed by ``timestamp\\nsecret`` over
    the empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def robot_text(message: dict[str, Any]) -> str:
    """The one text a chat robot shows for ``message``, in Chinese and English."""
    unit = message.get("unit") or {}
    kind = "消费者举报 report" if message.get("source") == "report" else "克隆信号 clone signal"
    lines = [
        f"【防伪告警 Alert】{message.get('brand', '')}",
        f"{kind}: {message.get('code', '')}",
        f"单品 unit: {unit.get('gtin', '-')}/{unit.get('serial', '-')}",
        f"时间 time: {message.get('created_at', '')}",
        f"控制台 console: {message.get('console', '')}",
    ]
    return "\n".join(lines)[:MAX_TEXT]


def shape(
    kind: str, url: str, secret: str | None, message: dict[str, Any], now: float
) -> tuple[str, dict[str, str], bytes]:
    """The URL, headers and body of ``message`` for a webhook of ``kind`` at time
    ``now`` (Unix seconds)."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    seconds = int(now)
    if kind == "generic":
        body = _json(message)
        headers["X-Provenance-Event"] = str(message.get("event", ""))
        headers["X-Provenance-Delivery"] = str(message.get("delivery", ""))
        headers["X-Provenance-Timestamp"] = str(seconds)
        headers["X-Provenance-Signature"] = generic_signature(secret or "", seconds, body)
        return url, headers, body
    text = robot_text(message)
    if kind == "wecom":
        return url, headers, _json({"msgtype": "text", "text": {"content": text}})
    if kind == "dingtalk":
        if secret:
            ms = int(now * 1000)
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}timestamp={ms}&sign={quote(dingtalk_sign(secret, ms), safe='')}"
        return url, headers, _json({"msgtype": "text", "text": {"content": text}})
    body_value: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
    if secret:  # feishu
        body_value = {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds), **body_value}
    return url, headers, _json(body_value)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def post(target: Target, kind: str, path: str, headers: dict[str, str], body: bytes) -> Outcome:
    """POST ``body`` to the checked ``target`` at ``path`` (its path and query, a
    DingTalk signature included); never raises for a network fault (the `Outcome` says
    it)."""
    address = target.address
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    url = f"{target.scheme}://{host}:{target.port}{path}"
    default_port = (target.scheme == "https" and target.port == 443) or target.port == 80
    name = f"[{target.host}]" if ":" in target.host else target.host  # an IPv6 literal
    sent = {**headers, "Host": name if default_port else f"{name}:{target.port}"}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client,
            client.stream("POST", url, headers=sent, content=body, extensions=extensions) as got,
        ):
            answer = _read_capped(got)
            status = got.status_code
    except httpx.HTTPError as exc:
        return Outcome(False, None, _line(f"{type(exc).__name__}: {exc}"))
    if 300 <= status < 400:
        return Outcome(False, status, "a redirect, not followed")
    if not 200 <= status < 300:
        return Outcome(False, status, _line(f"HTTP {status}: {answer[:200]!r}"))
    if kind != "generic":
        refused = _robot_error(answer)
        if refused is not None:
            return Outcome(False, status, refused)
    return Outcome(True, status, None)


def _read_capped(response: httpx.Response) -> bytes:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= MAX_RESPONSE:
            return data[:MAX_RESPONSE]
    return data


def _robot_error(answer: bytes) -> str | None:
    """The robot's error from its answer (``errcode`` of WeCom and DingTalk, ``code``
    or ``StatusCode`` of Feishu), None when it says 0."""
    try:
        value = json.loads(answer)
    except ValueError:
        return _line(f"the robot answered no JSON: {answer[:100]!r}")
    if not isinstance(value, dict):
        return "the robot answered no JSON object"
    for field in ("errcode", "code", "StatusCode"):
        if field in value:
            if value[field] == 0:
                return None
            message = value.get("errmsg") or value.get("msg") or value.get("StatusMessage")
            return _line(f"the robot refused it: {field} {value[field]}: {message}")
    return None


def _line(text: str) -> str:
    return " ".join(text.split())[:300]
