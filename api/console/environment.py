"""The Jinja environment of the console's pages, over ``api/console/templates/``, and
the pages' Content-Security-Policy (their one inline stylesheet by hash, no script)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.headers import csp_hash, inline

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> Environment:
    """The template environment, built once: autoescaping on for every template,
    undefined names an error, templates read once."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


@cache
def policy() -> str:
    """The CSP of every console page: no script, the stylesheet by its hash, images
    (report photos) and forms from this server only, never framed."""
    style = environment().get_template("_style.html").render()
    hashes = " ".join(csp_hash(s) for s in inline(style, "style"))
    return (
        f"default-src 'none'; style-src {hashes}; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
