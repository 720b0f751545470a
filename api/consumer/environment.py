"""The one Jinja environment of the consumer pages, over ``api/consumer/templates/``.

Its own module so that the page and the signal notices share one environment without
importing each other.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> Environment:
    """The template environment, built once: autoescaping on for every template,
    undefined names an error, templates read once (no reload)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
