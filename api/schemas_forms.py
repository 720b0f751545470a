"""The request bodies of the shopper's two writes, as the served OpenAPI document gives
them (docs/API.md): the claim (``POST /v1/units/{gtin}/{serial}/claim``) and the report
(``POST /v1/reports``), each as JSON or as the page's form. A form post comes from the
page: its ``csrf`` field is the page's anti-forgery token (api/csrf.py) and it is
answered by an HTML page, success or error, in the form's ``lang``."""

from __future__ import annotations

from typing import Any

from ledger.service.reports import MAX_PHOTO, MAX_TEXT
from ledger.service.wherebought import MAX_WHERE
from ledger.vocab import ReportReason

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
HTML = "text/html"
_LANG = {"type": "string", "enum": ["en", "zh-CN", "zh-TW", "zh-HK"], "default": "en"}
_CSRF = {"type": "string", "description": "the page's anti-forgery token (api/csrf.py)"}
_B64URL_SHA256 = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}

_CODE = {
    "type": "string",
    "description": "the claim code under the unit's scratch panel, or the owner's transfer "
    "code for a resale",
    "examples": ["ABCD-EFGH-JKMN-PQRS-T"],
}
_CLAIM_JSON = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": _CODE,
        "owner": {
            **_B64URL_SHA256,
            "description": "base64url SHA-256 of an owner token the client made itself "
            "(the page recognises its owner by it)",
        },
    },
}
_CLAIM_FORM = {
    "type": "object",
    "required": ["code", "csrf"],
    "properties": {"code": _CODE, "lang": _LANG, "csrf": _CSRF},
}

_REPORT_FIELDS: dict[str, Any] = {
    "gtin": {"type": "string", "examples": ["09506000134352"]},
    "serial": {"type": "string", "examples": ["SN-0001"]},
    "reason": {"type": "string", "enum": [r.value for r in ReportReason]},
    "text": {"type": "string", "maxLength": MAX_TEXT},
    "where": {
        "type": "string",
        "maxLength": MAX_WHERE,
        "description": "where it was bought: a shop's name or a listing URL",
    },
}
_REPORT_JSON = {
    "type": "object",
    "required": ["gtin", "serial", "reason"],
    "properties": {
        **_REPORT_FIELDS,
        "text": {"type": ["string", "null"], "maxLength": MAX_TEXT},
        "where": {**_REPORT_FIELDS["where"], "type": ["string", "null"]},
        "photo": {
            "type": ["string", "null"],
            "pattern": "^[A-Za-z0-9_-]*$",
            "description": f"a JPEG or PNG of at most {MAX_PHOTO} bytes, base64url",
        },
    },
}
_REPORT_FORM = {
    "type": "object",
    "required": ["gtin", "serial", "reason", "csrf"],
    "properties": {
        **_REPORT_FIELDS,
        "lang": _LANG,
        "csrf": _CSRF,
        "photo": {
            "type": "string",
            "format": "binary",
            "description": f"a JPEG or PNG of at most {MAX_PHOTO} bytes",
        },
    },
}
#: the same form without a file (a urlencoded form cannot carry one)
_REPORT_URLENCODED = {
    **_REPORT_FORM,
    "properties": {k: v for k, v in _REPORT_FORM["properties"].items() if k != "photo"},
}

CLAIM_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _CLAIM_JSON}}
        | {form: {"schema": _CLAIM_FORM} for form in FORMS},
    }
}
REPORT_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _REPORT_JSON},
            "multipart/form-data": {"schema": _REPORT_FORM},
            "application/x-www-form-urlencoded": {"schema": _REPORT_URLENCODED},
        },
    }
}


def also_html(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """``responses`` where each 2xx and 4xx may also be the HTML page a form post gets."""
    out: dict[int | str, dict[str, Any]] = {}
    for status, response in responses.items():
        response = {**response}
        if str(status).startswith(("2", "4")):
            content = dict(response.get("content", {}))
            content[HTML] = {"schema": {"type": "string"}}
            response["content"] = content
        out[status] = response
    return out
