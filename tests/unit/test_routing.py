"""ledger.routing: which log a GTIN, a brand, an event or a batch belongs to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import gs1
from ledger.errors import GS1Error, ValidationError
from ledger.events import Event, event_from_dict
from ledger.routing import Routing
from tests.factories import GTIN, valid_events

GTIN_B = "09506001000014"  # under the prefix 9506001
ROUTING = Routing(
    default="main",
    prefixes={"9506000": "a", "9506001": "b", "95060011": "b2"},
    brands={"acme": "a", "beta": "b"},
)


def test_gtins_route_by_longest_company_prefix() -> None:
    assert ROUTING.log_for_gtin(GTIN) == "a"
    assert ROUTING.log_for_gtin(GTIN_B) == "b"
    assert ROUTING.log_for_gtin("09506001100011") == "b2"  # 95060011... beats 9506001
    assert ROUTING.log_for_gtin("04006381333931") == "main"  # no prefix: the default
    assert ROUTING.log_for_gtin("4006381333931") == "main"  # GTIN-13 is normalized


def test_a_malformed_gtin_is_refused() -> None:
    with pytest.raises(GS1Error):
        ROUTING.log_for_gtin("09506000134353")  # wrong check digit


@given(st.from_regex(r"[0-9]{13}", fullmatch=True))
def test_routing_matches_gs1_prefix_matching(body: str) -> None:
    gtin = body + str(gs1.gtin_check_digit(body))
    expected = [p for p in ROUTING.prefixes if gs1.company_prefix_matches(gtin, p)]
    best = max(expected, key=len, default=None)
    assert ROUTING.log_for_gtin(gtin) == (ROUTING.prefixes[best] if best else "main")


def test_brands_route_by_id_else_default() -> None:
    assert ROUTING.log_for_brand("beta") == "b"
    assert ROUTING.log_for_brand("nobody") == "main"


def _event(kind: str, **changes: object) -> Event:
    data = {**valid_events()[kind], "kind": kind, **changes}
    return event_from_dict({k: v for k, v in data.items() if v is not None})


def test_events_route_by_unit_gtin_brand_or_prefixes() -> None:
    assert ROUTING.log_for_event(_event("handoff")) == "a"  # unit GTIN
    assert ROUTING.log_for_event(_event("product.register", gtin=GTIN_B)) == "b"
    # actor.register of brand beta by the operator: the subject's log
    assert ROUTING.log_for_event(_event("actor.register", subject="beta")) == "b"
    # an unlisted brand registered with prefixes: where the prefixes go
    unlisted = _event("actor.register", subject="gamma", prefixes=["9506001"])
    assert ROUTING.log_for_event(unlisted) == "b"
    # signed by a listed brand, no GTIN: the brand's log
    assert ROUTING.log_for_event(_event("authorization.revoke", actor="beta")) == "b"
    # a courier registered without prefixes: no opinion
    courier = _event("actor.register", subject="ship", role="courier", prefixes=None)
    assert ROUTING.log_for_event(courier) is None


def test_a_batch_goes_to_one_log() -> None:
    a = _event("handoff")
    courier = _event("actor.register", subject="ship", role="courier", prefixes=None)
    assert ROUTING.log_for_events([a, courier]) == "a"
    assert ROUTING.log_for_events([courier]) == "main"
    assert ROUTING.log_for_events([courier], chosen="b") == "b"
    assert ROUTING.log_for_events([a], chosen="a") == "a"


def test_a_batch_spanning_logs_or_sent_to_another_log_is_refused() -> None:
    a, b = _event("handoff"), _event("product.register", gtin=GTIN_B)
    with pytest.raises(ValidationError, match="different logs") as spans:
        ROUTING.log_for_events([a, b])
    assert spans.value.field == "log"
    with pytest.raises(ValidationError, match="not to 'b'") as wrong:
        ROUTING.log_for_events([a], chosen="b")
    assert wrong.value.field == "log"


def test_a_malformed_prefix_is_refused() -> None:
    with pytest.raises(ValidationError) as bad:
        Routing(prefixes={"95x6": "a"})
    assert bad.value.field == "routes.prefixes"
    with pytest.raises(ValidationError):
        Routing(prefixes={"123": "a"})


def test_logs_lists_every_named_log() -> None:
    assert ROUTING.logs == {"main", "a", "b", "b2"}
