"""Cartons and pallets: SSCC check digits and spellings, and the nesting rules of ``pack``
and ``unpack`` (ledger.rules.containers), each checked both ways: what is allowed
goes in, what is not is refused by its code and changes nothing."""

from __future__ import annotations

import pytest

from ledger.errors import ConflictError, RuleError, ValidationError
from ledger.events import event_from_dict
from ledger.sscc import (
    BadSsccError,
    looks_like_sscc,
    parse_sscc,
    sscc_check_digit,
    sscc_link,
    sscc_urn,
    validate_sscc,
)
from tests.rules_factories import GTIN, World, base

# GS1's own example: (00) 3 7610425 002123456 9
GS1_EXAMPLE = "376104250021234569"


def sscc(n: int) -> str:
    """The ``n``-th test SSCC, with its check digit."""
    body = f"0950600{n:010d}"
    return body + str(sscc_check_digit(body))


CARTON_A, CARTON_B, PALLET = sscc(1), sscc(2), sscc(3)


def test_sscc_check_digit_matches_gs1_example_and_a_wrong_one_is_refused() -> None:
    assert validate_sscc(GS1_EXAMPLE) == GS1_EXAMPLE
    for bad in (
        "376104250021234568",
        "37610425002123456",
        "3761042500212345690",
        "37610425002123456x",
    ):
        with pytest.raises(BadSsccError) as e:
            validate_sscc(bad)
        assert e.value.code == "bad-sscc"


def test_every_spelling_of_an_sscc_parses_to_the_same_18_digits() -> None:
    urn = sscc_urn(GS1_EXAMPLE)
    assert urn == "urn:epc:id:sscc:7610425.3002123456"
    for text in (
        GS1_EXAMPLE,
        f"(00){GS1_EXAMPLE}",
        urn,
        sscc_link("https://id.gs1.org/", GS1_EXAMPLE),
        f"https://scan.example/00/{GS1_EXAMPLE}?x=1",
    ):
        assert looks_like_sscc(text)
        assert parse_sscc(text) == GS1_EXAMPLE
    assert not looks_like_sscc(f"{GTIN}/SN-1")
    with pytest.raises(BadSsccError):
        parse_sscc("https://id.gs1.org/00/376104250021234560")


def test_an_event_with_a_bad_sscc_check_digit_does_not_parse() -> None:
    event = {
        "kind": "pack",
        "actor": "acme",
        "time": "2026-11-28T12:00:00Z",
        "unit": {"gtin": GTIN, "serial": "SN-0001"},
        "prev": "A" * 43,
        "container": CARTON_A[:-1] + str((int(CARTON_A[-1]) + 1) % 10),
    }
    with pytest.raises(ValidationError) as e:
        event_from_dict(event)
    assert e.value.field == "container"
    assert event_from_dict({**event, "container": CARTON_A}).to_dict() == {
        **event,
        "container": CARTON_A,
    }


def _world(serials: tuple[str, ...] = ("SN-0001", "SN-2", "SN-3")) -> World:
    world = base()
    for serial in serials[1:]:
        world.commission(serial)
    return world


def refused(world: World, code: str, kind: str, actor: str, serial: str, **fields: object) -> None:
    """``kind`` is refused with ``code`` and the state is left as it was."""
    before = world.state.records()
    with pytest.raises(RuleError) as e:
        world.check(world.on_unit(kind, actor, serial, **fields))
    assert e.value.code == code
    assert world.state.records() == before


def test_units_go_into_cartons_and_cartons_onto_a_pallet_and_come_out_again() -> None:
    world = _world()
    assert world.unit_do("pack", "acme", "SN-0001", container=CARTON_A).containers == (CARTON_A,)
    world.unit_do("pack", "acme", "SN-2", container=CARTON_B)
    on = world.unit_do("pack", "acme", "SN-0001", container=PALLET, inner=CARTON_A)
    assert (on.containers, on.container) == ((PALLET, CARTON_A), PALLET)
    world.unit_do("pack", "acme", "SN-2", container=PALLET, inner=CARTON_B)
    off = world.unit_do("unpack", "acme", "SN-0001", container=PALLET)
    assert (off.containers, off.container) == ((CARTON_A,), CARTON_A)
    loose = world.unit_do("unpack", "acme", "SN-0001", container=CARTON_A)
    assert (loose.containers, loose.container) == ((), None)


def test_a_unit_is_in_at_most_one_container() -> None:
    world = _world()
    world.unit_do("pack", "acme", "SN-0001", container=CARTON_A)
    refused(world, "already-packed", "pack", "acme", "SN-0001", container=CARTON_B)


def test_a_container_inside_another_cannot_be_packed_elsewhere() -> None:
    world = _world()
    world.unit_do("pack", "acme", "SN-0001", container=CARTON_A)
    world.unit_do("pack", "acme", "SN-0001", container=PALLET, inner=CARTON_A)
    refused(world, "already-packed", "pack", "acme", "SN-0001", container=CARTON_B, inner=CARTON_A)


def test_a_container_never_goes_into_itself_or_into_one_it_holds() -> None:
    world = _world()
    refused(world, "container-cycle", "pack", "acme", "SN-0001", container=CARTON_A, inner=CARTON_A)
    world.unit_do("pack", "acme", "SN-0001", container=CARTON_A)
    refused(world, "container-cycle", "pack", "acme", "SN-0001", container=CARTON_A, inner=CARTON_A)
    world.unit_do("pack", "acme", "SN-0001", container=PALLET, inner=CARTON_A)
    # the pallet into the carton that is on it
    refused(world, "container-cycle", "pack", "acme", "SN-0001", container=CARTON_A, inner=PALLET)


def test_unpack_names_the_outermost_container_only() -> None:
    world = _world()
    refused(world, "not-inside", "unpack", "acme", "SN-0001", container=CARTON_A)
    world.unit_do("pack", "acme", "SN-0001", container=CARTON_A)
    refused(world, "not-inside", "unpack", "acme", "SN-0001", container=CARTON_B)
    refused(world, "not-inside", "pack", "acme", "SN-0001", container=PALLET, inner=CARTON_B)
    world.unit_do("pack", "acme", "SN-0001", container=PALLET, inner=CARTON_A)
    refused(world, "not-inside", "unpack", "acme", "SN-0001", container=CARTON_A)


def test_only_the_custodian_packs_and_never_over_an_open_transfer() -> None:
    world = _world()
    refused(world, "not-custodian", "pack", "ship-co", "SN-0001", container=CARTON_A)
    refused(world, "not-authorized", "pack", "other-brand", "SN-0001", container=CARTON_A)
    world.unit_do("pack", "acme", "SN-0001", container=CARTON_A)
    world.unit_do("handoff", "acme", "SN-0001", to="ship-co")
    refused(world, "transfer-pending", "unpack", "acme", "SN-0001", container=CARTON_A)
    refused(world, "not-custodian", "unpack", "ship-co", "SN-0001", container=CARTON_A)
    # the courier receives the carton's unit: it holds it, still in the carton
    held = world.unit_do("receive", "ship-co", "SN-0001")
    assert (held.custodian, held.container) == ("ship-co", CARTON_A)
    refused(world, "not-custodian", "unpack", "acme", "SN-0001", container=CARTON_A)
    assert world.unit_do("unpack", "ship-co", "SN-0001", container=CARTON_A).container is None


def test_a_pack_on_a_stale_head_is_a_conflict() -> None:
    world = _world()
    stale = world.on_unit("pack", "acme", "SN-0001", container=CARTON_A)
    world.unit_do("inspect", "acme", "SN-0001", result="pass")
    with pytest.raises(ConflictError):
        world.check(stale)
