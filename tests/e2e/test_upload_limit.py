"""Bounded uploads: a request body is refused as soon as it passes its route's limit,
while it streams, so nothing larger ever reaches disk or memory (api/bodylimit.py).

The attack of issue 16: a chunked 300 MB report upload. Before, the multipart parser
spooled the whole body to a temporary file (the disk grew by ~301 MB) before the route
answered 413. Here a real uvicorn server runs with ``TMPDIR`` set to a private folder;
a thread measures the disk usage of that folder and of the data folder (the database,
the key) while the upload streams over a raw socket, and the growth must stay within
the report limit. A declared ``Content-Length`` over the limit is refused before a byte
of the body is read; broken multipart bodies are a 400 problem and write nothing. The
middleware itself is checked at the ASGI level for what no real server lets through (a
body longer than its ``Content-Length``, a parser that swallows the refusal).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.types import Message, Receive, Scope, Send

from api.bodylimit import (
    CLAIM_BODY,
    MAX_HEADER_BYTES,
    REPORT_BODY,
    RequestLimits,
    route_limits,
)
from api.problems import PayloadTooLargeError
from ledger.service.settings import Settings
from tests.e2e.forms import origin, page_token
from tests.e2e.server import LiveServer, Served, start
from tests.factories import GTIN

PROBLEM = "urn:provenance-ledger:problem:"
SERIAL = "SN-0001"  # the seeded genuine unit
MB = 1024 * 1024
CHUNK = 64 * 1024


def disk_usage(*folders: Path, pids: tuple[int, ...] = ()) -> int:
    """Bytes of disk the files under ``folders`` occupy (what ``du`` counts: blocks),
    plus the files under them that processes ``pids`` hold open but that no directory
    lists (a spooled upload is an unlinked ``O_TMPFILE``, invisible to ``du``)."""
    total, seen = 0, set()
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                with contextlib.suppress(FileNotFoundError):  # removed under our feet
                    info = os.lstat(os.path.join(root, name))
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
    prefixes = tuple(str(f) for f in folders)
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for fd in fds.iterdir():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError, OSError):
                    if not os.readlink(fd).startswith(prefixes):
                        continue
                    info = os.stat(fd)  # follows to the open file, linked or not
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        total += info.st_blocks * 512
    return total


def server_pids(server: LiveServer) -> tuple[int, ...]:
    """The server's process and its children (uvicorn's workers)."""
    assert server.server.process is not None
    pid = server.server.process.pid
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    return (pid, *children)


@dataclass
class DiskWatch:
    """Samples the disk usage of ``folders`` every few milliseconds in a thread; `peak`
    is the largest growth over the usage when it started."""

    folders: tuple[Path, ...]
    pids: tuple[int, ...] = ()
    base: int = 0
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> DiskWatch:
        self.base = disk_usage(*self.folders, pids=self.pids)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.002)

    def _sample(self) -> None:
        self.peak = max(self.peak, disk_usage(*self.folders, pids=self.pids) - self.base)


@dataclass
class Answer:
    """What came back over the raw socket: the status, the body, how much was sent."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: int


def raw_post(
    url: str, path: str, headers: dict[str, str], chunks: Iterator[bytes], chunked: bool = True
) -> Answer:
    """POST ``chunks`` over a plain socket (chunked transfer encoding unless the headers
    carry a Content-Length), stopping as soon as the server answers or hangs up, then
    read the answer. Returns how many body bytes the socket accepted."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for chunk in chunks:
                framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered (or closed) before the body ended
                sock.sendall(framed)
                sent += len(chunk)
            else:
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server hung up on the rest of the body: read what it said
        raw = b""
        sock.settimeout(30)
        try:
            while b"\r\n\r\n" not in raw or len(raw) < _expected(raw):
                data = sock.recv(65536)
                if not data:
                    break
                raw += data
        except (ConnectionResetError, TimeoutError):
            pass
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    return Answer(int(status_line.split()[1]), {k.lower(): v for k, v in parsed.items()},
                  body, sent)  # fmt: skip


def _expected(raw: bytes) -> int:
    head, sep, _ = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + len(sep) + int(line.split(b":")[1])
    return len(raw) + 1


BOUNDARY = "----pl-upload-boundary"


def multipart(fields: dict[str, str], photo_size: int) -> Iterator[bytes]:
    """A report form with ``fields`` and a ``photo_size`` byte photo, in 64 KiB chunks."""
    head = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    )
    yield head.encode()
    block = b"\xff\xd8\xff" + b"\0" * (CHUNK - 3)
    for _ in range(photo_size // CHUNK):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path, Path]]:
    """A real server whose temporary files go to a private ``TMPDIR``: (server, its
    TMPDIR, its data folder)."""
    data = tmp_path_factory.mktemp("data")
    spool = tmp_path_factory.mktemp("spool")
    # every test here files reports from one client: room for all of them in the quota
    quota = {"PROVENANCE_REPORTS_PER_CLIENT": "1000", "PROVENANCE_REPORTS_PER_UNIT": "1000"}
    server = start(f"sqlite:///{data}/ledger.db", data, extra_env={"TMPDIR": str(spool), **quota})
    yield server, spool, data
    server.stop()


def _form_headers(server: LiveServer) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form fields) of a report form from the page, cookie and token included."""
    with server.client() as browser:
        token = page_token(browser, GTIN, SERIAL)
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        headers = {
            "Origin": origin(browser),
            "Cookie": cookie,
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
    fields = {"gtin": GTIN, "serial": SERIAL, "reason": "counterfeit", "csrf": token}
    return headers, fields


def _reports(server: Served) -> int:
    view = server.get(f"/01/{GTIN}/21/{SERIAL}", headers={"Accept": "application/json"})
    codes = ("reported", "report-under-review")  # one report is under review (a note)
    reported = [r for r in view.json()["reasons"] if r["code"] in codes]
    return int(reported[0]["evidence"]["open"]) if reported else 0


def test_a_chunked_300_mb_upload_never_grows_the_disk_past_the_limit(
    guarded: tuple[LiveServer, Path, Path],
) -> None:
    server, spool, data = guarded
    headers, fields = _form_headers(server)
    before = _reports(server)
    with DiskWatch((spool, data), server_pids(server)) as watch:
        answer = raw_post(server.url, "/v1/reports", headers, multipart(fields, 300 * MB))
    assert answer.status == 413, answer.body[:300]
    problem = json.loads(answer.body)
    assert problem["type"] == PROBLEM + "payload-too-large"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["x-content-type-options"] == "nosniff"
    block = os.statvfs(spool).f_bsize  # du counts whole blocks: the last one rounds up
    assert watch.peak <= REPORT_BODY + block, f"the disk grew by {watch.peak} bytes"
    assert answer.sent < 64 * MB, "the server kept reading far past the limit"
    assert _reports(server) == before  # nothing was filed
    assert disk_usage(spool, pids=server_pids(server)) == 0  # no spooled file left open
    print(
        f"\n300 MB chunked upload: 413 after {answer.sent / MB:.1f} MB sent; "
        f"peak disk growth {watch.peak / MB:.2f} MB (limit {REPORT_BODY / MB:.2f} MB)"
    )


def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    guarded: tuple[LiveServer, Path, Path],
) -> None:
    server, spool, data = guarded
    headers, fields = _form_headers(server)
    headers["Content-Length"] = str(300 * MB)
    with DiskWatch((spool, data), server_pids(server)) as watch:
        answer = raw_post(
            server.url, "/v1/reports", headers, multipart(fields, 300 * MB), chunked=False
        )
    assert answer.status == 413 and json.loads(answer.body)["code"] == "payload-too-large"
    assert watch.peak < 1 * MB


def test_a_report_within_the_limit_still_goes_through(
    guarded: tuple[LiveServer, Path, Path],
) -> None:
    server, spool, _data = guarded
    headers, fields = _form_headers(server)
    photo = _png()
    before = _reports(server)
    with server.client() as browser:
        browser.cookies.update(dict(c.split("=", 1) for c in headers["Cookie"].split("; ")))
        sent = browser.post(
            "/v1/reports",
            data=fields,
            files={"photo": ("p.png", photo, "image/png")},
            headers={"Origin": headers["Origin"]},
        )
    assert sent.status_code == 201, sent.text
    assert _reports(server) == before + 1
    assert disk_usage(spool) == 0


def _fields_then(fields: dict[str, str], rest: str) -> bytes:
    """The report form's valid fields (token included), then ``rest``."""
    return "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ).encode() + rest.encode("latin-1")


def _png() -> bytes:
    """A real 8x8 PNG (photos are decoded and re-encoded on intake)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PHOTO_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; filename="p.png"\r\n'
    "Content-Type: image/png\r\n\r\n"
)
PHOTO_PART = PHOTO_HEAD + "\x89PNG\r\n\x1a\n"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
BROKEN = [
    ("no boundary", "multipart/form-data", lambda f: _fields_then(f, "")),
    ("another boundary", "multipart/form-data; boundary=other", lambda f: _fields_then(f, "")),
    ("cut in the photo", MULTIPART, lambda f: _fields_then(f, PHOTO_PART + "\0" * 4000)),
    ("cut in a part header", MULTIPART, lambda f: _fields_then(f, PHOTO_PART[:60])),
    (
        "a part without a name",
        MULTIPART,
        lambda f: _fields_then(f, f"--{BOUNDARY}\r\n\r\nxx\r\n--{BOUNDARY}--\r\n"),
    ),
    ("no closing boundary", MULTIPART, lambda f: _fields_then(f, "")),
]


@pytest.mark.parametrize(("name", "kind", "body"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_multipart_is_a_problem_and_writes_nothing(
    guarded: tuple[LiveServer, Path, Path], name: str, kind: str, body: Any
) -> None:
    server, spool, _data = guarded
    headers, fields = _form_headers(server)
    before = _reports(server)
    with server.client() as client:
        answer = client.post(
            "/v1/reports",
            content=body(fields),
            headers={
                "Content-Type": kind,
                "Origin": headers["Origin"],
                "Cookie": headers["Cookie"],
            },
        )
    assert answer.status_code == 400, (name, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json"), name
    assert answer.json()["type"] == PROBLEM + "malformed-form", name
    assert _reports(server) == before
    assert disk_usage(spool, pids=server_pids(server)) == 0


def test_the_same_form_whole_is_filed(guarded: tuple[LiveServer, Path, Path]) -> None:
    """The control of the broken bodies above: the same fields, closed, are a report."""
    server, _spool, _data = guarded
    headers, fields = _form_headers(server)
    before = _reports(server)
    photo = _png().decode("latin-1")
    whole = _fields_then(fields, PHOTO_HEAD + photo + f"\r\n--{BOUNDARY}--\r\n")
    with server.client() as client:
        answer = client.post(
            "/v1/reports",
            content=whole,
            headers={
                "Content-Type": MULTIPART,
                "Origin": headers["Origin"],
                "Cookie": headers["Cookie"],
            },
        )
    assert answer.status_code == 201, answer.text
    assert _reports(server) == before + 1


def test_huge_headers_and_cookie_floods_are_clear_refusals(
    guarded: tuple[LiveServer, Path, Path],
) -> None:
    server, _spool, _data = guarded
    page = f"/01/{GTIN}/21/{SERIAL}"
    many = "; ".join(f"c{i}=v" for i in range(1500))  # ~13 KB: the server takes it
    flooded = server.get(page, headers={"Cookie": many})
    assert flooded.status_code == 200 and "Set-Cookie" not in flooded.text
    try:
        huge = server.get(page, headers={"Cookie": "x=" + "a" * 100_000})
    except httpx.TransportError:
        pass  # uvicorn closed the connection while the header was still coming (loaded host)
    else:
        assert 400 <= huge.status_code < 500  # uvicorn's own bound on a header block
    assert server.get("/healthz").status_code == 200  # and it still serves


# --- the middleware itself, at the ASGI level --------------------------------------------


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


def _drive(app: Any, scope: Scope, chunks: list[bytes]) -> list[Message]:
    """Run ``app`` on a request of ``chunks``; return what it sent."""
    queue = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    queue.append({"type": "http.request", "body": b"", "more_body": False})
    sent: list[Message] = []

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


class Greedy:
    """An inner app that reads its whole body (recording every chunk it got) and answers
    200; with ``swallow`` it catches the refusal and reads on, as a careless parser might."""

    def __init__(self, swallow: bool = False) -> None:
        self.got: list[bytes] = []
        self.swallow = swallow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            try:
                message = await receive()
            except PayloadTooLargeError:
                if not self.swallow:
                    raise
                self.swallow = False
                continue
            self.got.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _status(sent: list[Message]) -> int:
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


@pytest.mark.parametrize("swallow", [False, True])
def test_a_body_longer_than_its_content_length_is_cut_at_the_limit(swallow: bool) -> None:
    inner = Greedy(swallow)
    app = RequestLimits(inner, route_limits(Settings.from_env({})))
    lying = [(b"content-length", b"10"), (b"content-type", b"application/json")]
    chunks = [b"x" * 1024] * (CLAIM_BODY // 1024 + 5)
    sent = _drive(app, _scope(f"/v1/units/{GTIN}/S/claim", lying), chunks)
    assert _status(sent) == 413
    assert sum(map(len, inner.got)) <= CLAIM_BODY  # the passing chunk never reached it
    body = json.loads(b"".join(m.get("body", b"") for m in sent if "body" in m))
    assert body["code"] == "payload-too-large"


def test_limits_follow_the_route_and_bound_the_headers() -> None:
    limit = route_limits(Settings.from_env({}))
    assert limit("POST", "/v1/reports") == REPORT_BODY
    assert limit("POST", f"/v1/units/{GTIN}/S/claim") == CLAIM_BODY
    assert limit("POST", "/logs/acme/v1/entries") == limit("POST", "/v1/entries") == 64 * 1024
    assert limit("POST", "/v1/entries:batch") == 16 * MB
    inner = Greedy()
    app = RequestLimits(inner, limit)
    within = _drive(app, _scope("/v1/entries", [(b"content-length", b"100")]), [b"x" * 100])
    assert _status(within) == 200 and inner.got[0] == b"x" * 100
    for headers in (
        [(b"x-h%d" % i, b"v") for i in range(101)],
        [(b"cookie", b"a" * (MAX_HEADER_BYTES + 1))],
    ):
        sent = _drive(RequestLimits(Greedy(), limit), _scope("/healthz", headers), [])
        assert _status(sent) == 431
        body = json.loads(b"".join(m.get("body", b"") for m in sent if "body" in m))
        assert body["type"] == PROBLEM + "headers-too-large"


def test_in_process_oversized_bodies_are_413_problems(asgi_server: Served) -> None:
    """The same limits in process (no socket): a declared and an undeclared overflow."""
    big = b"{" + b" " * (70 * 1024) + b"}"
    answer = asgi_server.post(
        "/v1/entries", content=big, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["code"] == "payload-too-large"
    assert answer.headers["x-content-type-options"] == "nosniff"
