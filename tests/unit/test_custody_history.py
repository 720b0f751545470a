"""A unit's custody history (docs/ARCHITECTURE.md section 5): who held it, who sold it,
how often and when; who may return it; and the verdict and the page's words for a unit
that came back after a sale. The rules through `tests.rules_factories.World`; the
verdict through `ledger.verify.verdict.judge`; the words through the page's own
`reason_words`, in English and Chinese."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from api.consumer.page import reason_words
from ledger import rules
from ledger.audit.auditor import _record_from_json, _record_json
from ledger.errors import LedgerError
from ledger.rules.state import UnitRecord
from ledger.verify.verdict import judge
from tests.rules_factories import CLAIM_CODE, TIME, World, base


def _refused(world: World, kind: str, actor: str, code: str, **fields: object) -> None:
    before = world.state.records()
    with pytest.raises(LedgerError) as info:
        world.check(world.on_unit(kind, actor, **fields))
    assert info.value.code == code
    assert world.state.records() == before


def _sold_by_shop(delivered: bool = True) -> World:
    world = base()
    world.register("shop-2", "retailer", 20)
    world.authorize("shop-2", "retailer")
    world.unit_do("handoff", "acme", to="shop")
    world.unit_do("receive", "shop")
    world.unit_do("sell", "shop")
    if delivered:
        world.unit_do("deliver", "shop")
    return world


# --- the history the rules keep --------------------------------------------------------------


def test_holders_are_the_brand_then_each_recipient_once() -> None:
    world = base()
    assert world.unit().holders == ("acme",)
    world.unit_do("handoff", "acme", to="ship-co")
    world.unit_do("receive", "ship-co")
    world.unit_do("handoff", "ship-co", to="acme")
    assert world.unit().holders == ("acme", "ship-co")  # a handoff alone holds nothing
    world.unit_do("receive", "acme")
    world.unit_do("handoff", "acme", to="shop")
    assert world.unit_do("receive", "shop").holders == ("acme", "ship-co", "shop")


def test_a_sale_is_remembered_through_a_return_and_counted_again() -> None:
    world = _sold_by_shop()
    unit = world.unit()
    assert (unit.seller, unit.sales, unit.last_sold, unit.sold_before) == ("shop", 1, TIME, False)
    unit = world.unit_do("return", "shop", to="shop", reason="wrong size")
    assert (unit.sold, unit.delivered, unit.sales, unit.last_sold) == (False, False, 1, TIME)
    assert unit.sold_before and unit.state == "in_transit"
    assert world.unit_do("receive", "shop").state == "in_stock"
    unit = world.unit_do("sell", "shop")
    assert (unit.sales, unit.seller, unit.sold_before) == (2, "shop", False)


# --- who may return ---------------------------------------------------------------------------


def test_the_laundering_attack_is_refused_at_every_step() -> None:
    """Issue 17: a retailer that never held the delivered unit returns it to itself,
    receives it and sells it; only the first step could ever open the way."""
    world = _sold_by_shop()
    _refused(world, "return", "shop-2", "not-retailer-of-record", to="shop-2")
    _refused(world, "return", "shop-2", "not-retailer-of-record", to="shop")
    _refused(world, "receive", "shop-2", "not-recipient")
    _refused(world, "sell", "shop-2", "not-custodian")
    assert world.unit().state == "delivered"


@pytest.mark.parametrize("actor", ["shop", "acme"])
def test_the_retailer_of_record_or_the_brand_takes_a_sold_unit_back(actor: str) -> None:
    world = _sold_by_shop(delivered=False)  # at the counter: sold, not yet delivered
    unit = world.unit_do("return", actor, to="shop", reason="changed their mind")
    assert (unit.pending, unit.custodian, unit.sold) == ("shop", "shop", False)


def test_the_courier_carrying_a_sold_unit_cannot_return_it() -> None:
    world = _sold_by_shop(delivered=False)
    world.unit_do("handoff", "shop", to="ship-co")
    world.unit_do("receive", "ship-co")
    _refused(world, "return", "ship-co", "not-retailer-of-record", to="shop")
    assert world.unit_do("deliver", "ship-co").delivered


def test_a_seller_that_lost_its_authorization_cannot_return() -> None:
    world = _sold_by_shop()
    world.do("authorization.revoke", "acme", authorization=world.auths["shop"])
    _refused(world, "return", "shop", "not-authorized", to="shop")
    assert world.unit_do("return", "acme", to="acme").pending == "acme"  # the brand can


def test_a_return_to_a_stranger_or_an_unknown_id_is_never_held() -> None:
    world = _sold_by_shop()
    _refused(world, "return", "shop", "never-held", to="shop-2")
    _refused(world, "return", "shop", "never-held", to="no-such-actor")
    _refused(world, "return", "shop", "never-held", to="ship-co")  # a courier never received it


def test_every_new_refusal_is_a_rule_error_with_its_own_code() -> None:
    codes = [
        rules.NotRetailerOfRecordError.code,
        rules.NeverHeldError.code,
        rules.ReturnOverTransferError.code,
    ]
    assert codes == ["not-retailer-of-record", "never-held", "return-over-transfer"]
    assert issubclass(rules.ReturnOverTransferError, rules.TransferPendingError)


# --- the verdict and the page -----------------------------------------------------------------


def _judged(unit: UnitRecord) -> tuple[str, list[str], list[dict[str, object]]]:
    verdict, reasons = judge(unit, {}, [])
    return verdict, [r.code for r in reasons], [r.evidence for r in reasons]


def _returned_and_back_in_stock() -> World:
    world = _sold_by_shop()
    world.unit_do("return", "shop", to="shop")
    world.unit_do("receive", "shop")
    return world


def test_a_unit_returned_after_a_sale_is_a_caution_that_names_the_sale() -> None:
    world = _returned_and_back_in_stock()
    verdict, codes, evidence = _judged(world.unit())
    assert (verdict, codes) == ("caution", ["returned-after-sale"])
    assert evidence == [{"sales": 1, "last_sold": TIME}]


def test_a_resale_is_sold_and_resold() -> None:
    world = _returned_and_back_in_stock()
    world.unit_do("sell", "shop")
    verdict, codes, evidence = _judged(world.unit())
    assert (verdict, codes) == ("caution", ["sold", "resold"])
    assert evidence[1] == {"sales": 2, "last_sold": TIME}


def test_a_first_sale_is_sold_alone_and_an_unsold_unit_stays_genuine() -> None:
    world = base()
    assert _judged(world.unit())[:2] == ("genuine", ["verified"])
    world.unit_do("handoff", "acme", to="shop")
    world.unit_do("receive", "shop")
    world.unit_do("handoff", "shop", to="acme")
    world.unit_do("receive", "acme")  # moved back and forth, never sold
    assert _judged(world.unit())[:2] == ("genuine", ["verified"])
    assert _judged(world.unit_do("sell", "acme"))[:2] == ("caution", ["sold"])


def test_a_claim_is_the_stronger_word_for_a_returned_unit() -> None:
    world = _sold_by_shop()
    world.unit_do("claim", "operator", code=CLAIM_CODE)
    world.unit_do("return", "shop", to="shop")
    assert _judged(world.unit_do("receive", "shop"))[:2] == ("caution", ["claimed"])


@pytest.mark.parametrize(
    ("lang", "title", "words"),
    [
        ("en", "Returned after sale on 28\u00a0Nov\u00a02026", "not new"),
        ("zh-CN", "已于 2026年11月28日售出，后被退回", "并非全新"),  # noqa: RUF001
    ],
)
def test_the_page_says_returned_after_sale_on_the_date(lang: str, title: str, words: str) -> None:
    reason = {"code": "returned-after-sale", "evidence": {"sales": 1, "last_sold": TIME}}
    got_title, why = reason_words(reason, lang)
    assert got_title == title and words in why


@pytest.mark.parametrize(
    ("lang", "title", "date"),
    [
        ("en", "Sold again after a return", "28\u00a0Nov\u00a02026"),
        ("zh-CN", "退回后再次售出", "2026年11月28日"),
    ],
)
def test_the_page_says_sold_again_after_a_return(lang: str, title: str, date: str) -> None:
    reason = {"code": "resold", "evidence": {"sales": 2, "last_sold": TIME}}
    got_title, why = reason_words(reason, lang)
    assert got_title == title and date in why


def test_a_sale_without_a_recorded_time_is_still_said() -> None:
    """A unit migrated from before the history (0008_custody) has no sale time."""
    reason = {"code": "returned-after-sale", "evidence": {"sales": 1, "last_sold": None}}
    assert reason_words(reason, "en")[0] == "Returned after a sale"
    assert reason_words(reason, "zh-CN")[0] == "售出后被退回"
    unit = replace(_returned_and_back_in_stock().unit(), last_sold=None)
    assert _judged(unit)[:2] == ("caution", ["returned-after-sale"])


def test_an_auditors_state_file_keeps_the_history() -> None:
    """The auditor remembers records between runs as JSON: holders come back as a
    tuple, and a file kept before units had a history is refused (the auditor then says
    the state file is malformed) rather than replayed with an empty one."""
    unit = _returned_and_back_in_stock().unit()
    data = json.loads(json.dumps(_record_json(unit)))
    assert _record_from_json(data) == unit
    del data["holders"]
    with pytest.raises(KeyError, match="holders"):
        _record_from_json(data)
