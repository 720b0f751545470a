"""The HTTP connection to a provenance server, shared by `Remote` and `RemoteSource`.

Kept apart from both so that neither imports the other: the remote backend uses the
remote audit source, and the source needs only this connection.
"""

from __future__ import annotations

from typing import Any

import httpx

from ledger.errors import LedgerError


class RemoteError(LedgerError):
    """The server refused the request; ``code`` is the problem type's code."""

    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.code = code


class Http:
    """An httpx client on one server's base URL (``/logs/{log}`` included)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def unreachable(self, error: httpx.HTTPError) -> RemoteError:
        """The one-line error for a server that did not answer."""
        return RemoteError(503, "unreachable", f"cannot reach {self.url}: {error}", None)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET ``path`` with query ``params``.

        Raises:
            RemoteError: the server cannot be reached (``unreachable``).
        """
        try:
            return self.client.get(path, params=params or None)
        except httpx.HTTPError as e:
            raise self.unreachable(e) from e

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any request (httpx keywords: ``json``, ``content``, ``headers``).

        Raises:
            RemoteError: the server cannot be reached (``unreachable``).
        """
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as e:
            raise self.unreachable(e) from e

    @staticmethod
    def json(response: httpx.Response) -> Any:
        """The response's JSON.

        Raises:
            RemoteError: a 4xx or 5xx answer, with the problem's code, detail and field.
        """
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"code": "http-error", "detail": response.text[:200]}
            raise RemoteError(
                response.status_code,
                str(problem.get("code", "http-error")),
                str(problem.get("detail", "")),
                problem.get("field"),
            )
        return response.json()

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
        """Close the client."""
        self.client.close()
