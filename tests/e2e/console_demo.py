"""A real ``provenance demo`` server for the console's browser tests, and a signed-in page.

`console_demo` starts the demo on a free port with the given environment, waits until it
serves the console, and yields its base URL, the console logins it printed and its
output; it stops the server (SIGINT, then kill) at the end. `sign_in` opens a chromium
page at the console, records every request to anywhere but the server, and signs in.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.test_page_browser import LOCALES

DESKTOP = {"width": 1280, "height": 900}
#: per page: requests to anywhere but the server (`sign_in`)
FOREIGN: dict[int, list[str]] = {}
#: the demo's console lines: ``console  URL  user NAME  password PASSWORD``
LOGIN = re.compile(r"^console  (\S+)  user (\S+)  password (\S+)$", re.M)


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def console_demo(tmp: Path, env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """``provenance demo`` serving from ``tmp`` with ``env``: ``{base, logins, out}``,
    ``logins`` by user name (url, password)."""
    port = free_port()
    log = tmp / "demo.log"  # a file, not a pipe: a full pipe would stop the server
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "demo", "--port", str(port)],
            cwd=tmp, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        out = ""
        for _ in range(1200):  # the demo builds its world first (seconds, more under load)
            out = log.read_text()
            if "serving on" in out or process.poll() is not None:
                break
            time.sleep(0.25)
        logins = {user: (url, password) for url, user, password in LOGIN.findall(out)}
        for _ in range(200):
            try:
                if httpx.get(f"{base}/console/login").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield {"base": base, "logins": logins, "out": out}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(
    browser: Any,
    demo: dict[str, Any],
    lang: str,
    user: str = "acme-admin",
    viewport: dict[str, int] | None = None,
) -> Any:
    """A chromium page in ``lang`` signed in to the demo's console as ``user``; the
    requests it makes to other hosts are kept in `FOREIGN` under ``id(page)``."""
    context = browser.new_context(viewport=viewport or DESKTOP, locale=LOCALES[lang])
    page = context.new_page()
    foreign: list[str] = []
    page.on(
        "request", lambda r: foreign.append(r.url) if not r.url.startswith(demo["base"]) else None
    )
    FOREIGN[id(page)] = foreign
    url, password = demo["logins"][user]
    page.goto(url)
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo['base']}/console/")
    return page
