"""Which responses an OpenAPI document leaves undescribed: the audit behind the promise
that docs/API.md makes ("the OpenAPI document describes every JSON response exactly").

`undescribed(document)` lists every (method, path, status, media type, where) whose
JSON body (``application/json``, ``application/problem+json``, ``application/ld+json``,
any ``+json``) has no schema, an empty one (``{}``), or an object schema that says
nothing about its members (no ``properties``, no ``additionalProperties`` schema, no
``oneOf``/``anyOf``/``allOf``, no ``if``/``then``): at the top or anywhere inside it, following ``$ref``.
A response with no body at all is fine only for 304. HTML pages, pictures and text
(checkpoints, proofs, metrics) are described by their media type alone: that is what
they are.

Run it against a served document: ``python -m tests.openapi_audit URL-or-FILE``
(prints one line per finding; exit status 1 if there is any).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx

#: statuses that have no body by definition
NO_BODY = frozenset({"204", "304"})
#: the keywords that say what an object holds (beside ``properties``)
_DESCRIBING = ("oneOf", "anyOf", "allOf", "$ref", "const", "enum", "if")
Finding = tuple[str, str, str, str, str]


def is_json(media: str) -> bool:
    """Whether ``media`` is a JSON media type (the ones this audit holds to a schema)."""
    media = media.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def undescribed(document: dict[str, Any]) -> list[Finding]:
    """Every (METHOD, path, status, media type, JSON pointer into its schema) of
    ``document`` whose JSON body is not described (module docstring); empty when every
    JSON response is."""
    out: list[Finding] = []
    for path, item in sorted(document.get("paths", {}).items()):
        for method, operation in sorted(item.items()):
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in sorted(operation["responses"].items()):
                where = (method.upper(), path, str(status))
                content = response.get("content")
                if not content:
                    if str(status) not in NO_BODY:
                        out.append((*where, "-", "no content"))
                    continue
                for media, body in sorted(content.items()):
                    if not is_json(media):
                        continue
                    schema = body.get("schema") if isinstance(body, dict) else None
                    if schema is None:
                        out.append((*where, media, "no schema"))
                        continue
                    out.extend((*where, media, at) for at in _loose(document, schema, "#", set()))
    return out


def _loose(document: dict[str, Any], schema: Any, at: str, seen: set[str]) -> Iterator[str]:
    """JSON pointers (from ``at``) of the undescribed parts of ``schema``."""
    if not isinstance(schema, dict) or not schema:
        yield at
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref not in seen:  # each component once: recursive shapes end here
            yield from _loose(document, _resolve(document, ref), ref, seen | {ref})
        return
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _loose(document, sub, f"{at}/{key}/{i}", seen)
    for key in ("then", "else"):  # a condition's consequences (the ``if`` only selects)
        if key in schema:
            yield from _loose(document, schema[key], f"{at}/{key}", seen)
    if "items" in schema:
        yield from _loose(document, schema["items"], f"{at}/items", seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _loose(document, sub, f"{at}/properties/{name}", seen)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _loose(document, extra, f"{at}/additionalProperties", seen)
    if kind is None and not any(k in schema for k in (*_DESCRIBING, "properties", "items")):
        yield at  # no type and nothing else: anything at all
    elif "object" in kinds and not schema.get("properties") and not isinstance(extra, dict):
        if extra is not False and not any(k in schema for k in _DESCRIBING):
            yield at  # an object of anything


def _resolve(document: dict[str, Any], ref: str) -> Any:
    """The schema a local ``$ref`` (``#/components/schemas/X``) names."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def main(argv: list[str]) -> int:
    """Print the findings of the document at ``argv[0]`` (a URL or a file); 1 if any."""
    source = argv[0]
    if source.startswith(("http://", "https://")):
        document = httpx.get(source, timeout=30).json()
    else:
        with open(source, encoding="utf-8") as f:
            document = json.load(f)
    findings = undescribed(document)
    for finding in findings:
        print(" ".join(finding))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
