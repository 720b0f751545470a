"""The HTTP connection to a provenance server, shared by `Remote` and `RemoteSource`.

Kept apart from both so that neither imports the other: the remote backend uses the
remote audit source, and the source needs only this connection.

Built on the standard library's ``http.client``: one keep-alive connection per server,
no redirects followed, 60 s timeouts. httpx did this job before; its import alone took
~0.13 s of every remote command's start (docs/CLI.md "Start-up"), more than the rest of
the command. Proxies from the environment are not used: point ``--server`` at the
proxy's address if one is needed.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from ledger.errors import LedgerError

TIMEOUT_SECONDS = 60.0
USER_AGENT = "provenance-cli"
#: a gzip answer decoded to more than this is refused (a unit of 1,000 entries is 1.3 MB)
MAX_DECODED = 256 * 1024 * 1024


class RemoteError(LedgerError):
    """The server refused the request; ``code`` is the problem type's code."""

    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Response:
    """A whole HTTP response: status, headers (names lower-cased) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (the server sends nothing else); bad bytes replaced."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            ValueError: the body is not JSON.
        """
        return jsonlib.loads(self.content)


def _query(params: Mapping[str, Any]) -> str:
    """``params`` as a query string, the way the server's clients always sent them:
    booleans as ``true``/``false``, None as an empty value."""
    pairs = []
    for name, value in params.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((name, "" if value is None else str(value)))
    return urlencode(pairs)


def _decoded(content: bytes, codings: list[str], url: str) -> bytes:
    """``content`` as sent before its ``Content-Encoding`` headers ``codings`` (none,
    ``identity`` or one ``gzip``: what `Http` asks for), at most `MAX_DECODED` bytes; an
    empty body (a 204, a 304) as it is.

    Raises:
        RemoteError: another or a second encoding, a broken or truncated gzip member,
            bytes after it, or more than `MAX_DECODED` bytes decoded (``http-error``).
    """
    named = [c.strip().lower() for v in codings for c in v.split(",")]
    named = [c for c in named if c not in ("", "identity")]
    if not named or not content:
        return content
    if named != ["gzip"]:
        raise RemoteError(502, "http-error", f"{url} answered in the encoding {named!r}", None)
    decoder = zlib.decompressobj(wbits=31)  # a gzip header and trailer, the CRC checked
    try:
        out = decoder.decompress(content, MAX_DECODED)
    except zlib.error as e:
        raise RemoteError(502, "http-error", f"{url} sent a broken gzip answer: {e}", None) from e
    if decoder.unconsumed_tail:
        limit = f"{MAX_DECODED // (1024 * 1024)} MiB"
        raise RemoteError(502, "http-error", f"{url} sent a gzip answer over {limit}", None)
    if not decoder.eof:
        raise RemoteError(502, "http-error", f"{url} sent a truncated gzip answer", None)
    if decoder.unused_data:
        raise RemoteError(502, "http-error", f"{url} sent bytes after its gzip answer", None)
    return out


class Http:
    """A keep-alive connection to one server's base URL (``/logs/{log}`` included)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(0, "unreachable", f"cannot reach {url}: not an http(s) URL", None)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path
        self._connection: http.client.HTTPConnection | None = None

    def unreachable(self, error: Exception) -> RemoteError:
        """The one-line error for a server that did not answer."""
        return RemoteError(503, "unreachable", f"cannot reach {self.url}: {error}", None)

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_SECONDS)

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        """One request on the kept connection; a kept connection the server had closed
        in the meantime is replaced once (nothing was answered on it, so nothing was done)."""
        for attempt in (1, 2):
            reused = self._connection is not None
            if self._connection is None:
                self._connection = self._connect()
            connection = self._connection
            try:
                connection.request(method, target, body=body, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
            if answer.will_close:
                self.close()
            names = {name.lower(): value for name, value in answer.getheaders()}
            codings = answer.msg.get_all("content-encoding") or []
            return Response(answer.status, names, _decoded(content, codings, self.url))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Response:
        """Any request: a JSON body (``json``) or raw bytes (``content``), extra headers.

        Raises:
            RemoteError: the server cannot be reached (``unreachable``).
        """
        sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
        body = content
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        target = self._base + path + (f"?{_query(params)}" if params else "")
        try:
            return self._exchange(method, target, body, sent)
        except (OSError, http.client.HTTPException) as e:
            raise self.unreachable(e) from e

    def get(self, path: str, **params: Any) -> Response:
        """GET ``path`` with query ``params``.

        Raises:
            RemoteError: the server cannot be reached (``unreachable``).
        """
        return self.request("GET", path, params=params or None)

    @staticmethod
    def json(response: Response) -> Any:
        """The response's JSON.

        Raises:
            RemoteError: a 4xx or 5xx answer, with the problem's code, detail and field.
        """
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"code": "http-error", "detail": response.text[:200]}
            if not isinstance(problem, dict):
                problem = {"code": "http-error", "detail": response.text[:200]}
            raise RemoteError(
                response.status_code,
                str(problem.get("code", "http-error")),
                str(problem.get("detail", "")),
                problem.get("field"),
            )
        try:
            return response.json()
        except ValueError as e:
            raise RemoteError(
                response.status_code, "http-error", f"not JSON: {response.text[:200]}", None
            ) from e

    def text(self, path: str) -> str:
        """GET a ``text/plain`` resource (a key, a checkpoint).

        Raises:
            RemoteError: unreachable, or the server answered with a problem.
        """
        response = self.get(path)
        if response.status_code != 200:
            self.json(response)
        return response.text

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
