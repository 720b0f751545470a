"""Look-alike names (ledger.rules.skeleton): the TR39 skeleton is a fixed point of the
whole of Unicode's confusables.txt, case-insensitive, Chinese names included."""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.rules import skeleton as sk
from ledger.rules.skeleton import CONFUSABLES, hidden_characters, look_alike, skeletons
from tests.profiles import examples

LATIN = string.ascii_letters


def listed(letter: str) -> list[str]:
    """The characters confusables.txt gives ``letter``'s prototype (``m``'s is "rn",
    capital I's "l"), read as TR39 reads them (a source that NFD decomposes is read as
    its decomposition, so it is not one character's look-alike)."""
    proto = CONFUSABLES.get(letter, letter)
    return sorted(
        c
        for c, p in CONFUSABLES.items()
        if p == proto and c != letter and len(c) == 1 and unicodedata.normalize("NFD", c) == c
    )


CHOICES = {letter: listed(letter) for letter in LATIN}


@pytest.mark.parametrize(
    ("brand", "other"),
    [
        ("ACME", "AC\u041cE"),  # Cyrillic EM -> M -> m -> rn: the fixed point
        ("ACME", "\u0391\u03f9\u039c\u0395"),  # Greek ALPHA, lunate SIGMA, MU, EPSILON
        ("NIKE", "\u039d\u0399\u039a\u0395"),  # Greek NU, IOTA, KAPPA, EPSILON
        ("Google", "G\u0585\u0585gle"),  # Armenian OH
        ("Lotus", "\u13deotus"),  # Cherokee TLE
        ("Apple", "\u0410\u0440\u0440\u04cf\u0435"),  # Cyrillic, with PALOCHKA for l
        ("Nike", "\uff2e\uff49\uff4b\uff45"),  # full width
        ("工力食品", "エカ食品"),  # katakana E and KA pass for the ideographs
        ("一品", "\u30fc品"),  # the ideograph one and the prolonged sound mark
        ("PAYPAL", "PAYPAI"),  # capital I passes for l
    ],
)
def test_confusables_from_the_whole_table(brand: str, other: str) -> None:
    assert look_alike(brand, other)
    assert look_alike(other, brand)


@pytest.mark.parametrize(
    ("brand", "other"),
    [("Acme", "Acne"), ("工力", "土力"), ("华为", "华力"), ("Nike", "Nikes"), ("Ace", "Acme")],
)
def test_distinct_names_stay_distinct(brand: str, other: str) -> None:
    assert not look_alike(brand, other)


def test_every_listed_character_settles_on_a_fixed_point() -> None:
    """Each source and prototype of the table (and their case folds) settles within the
    bound, and its skeletons are their own skeletons."""
    texts = {*CONFUSABLES, *CONFUSABLES.values()}
    texts |= {t.casefold() for t in texts} | {t.upper() for t in texts}
    for text in texts:
        for kind, start in (
            ("shown", unicodedata.normalize("NFD", text)),
            ("folded", unicodedata.normalize("NFD", text).casefold()),
        ):
            settled = sk._settle(start)
            assert sk._settle(settled) == settled, (kind, text)
        keys = skeletons(text)
        assert skeletons(keys.folded).folded == keys.folded
        assert skeletons(keys.shown).shown == keys.shown


def test_the_table_is_unicodes() -> None:
    head = sk.DATA.read_text(encoding="utf-8").splitlines()[:5]
    assert any("Version: 17.0.0" in line for line in head)
    assert len(CONFUSABLES) > 6500
    assert CONFUSABLES["m"] == "rn" and CONFUSABLES["\u041c"] == "M"
    notice = (sk.DATA.parent / "NOTICE").read_text(encoding="utf-8")
    assert "Unicode License v3" in notice
    assert (sk.DATA.parent / "LICENSE-Unicode-3.0").exists()


def test_the_generator_reads_confusables_txt_and_refuses_a_loop(tmp_path: Path) -> None:
    import importlib.util

    tool = Path(__file__).resolve().parents[2] / "tools" / "gen_confusables.py"
    spec = importlib.util.spec_from_file_location("gen_confusables", tool)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = "# Version: 17.0.0\n# Date: x\n006D ;\t0072 006E ;\tMA\t# ( m → rn )\n"
    table, header = gen.parse(text)
    assert table == {"006D": "0072 006E"} and header["Version"] == "17.0.0"
    with pytest.raises(SystemExit):
        gen.parse(text + "0072 ;\t0074 ;\tMA\t# r -> t: a prototype that is a source\n")


@given(st.text(alphabet=LATIN + string.digits + " ", min_size=1, max_size=24), st.data())
@settings(max_examples=examples(300), deadline=None)
def test_each_latin_letter_replaced_by_a_listed_confusable_looks_alike(
    name: str, data: st.DataObject
) -> None:
    """A name stays itself however its Latin letters are swapped for look-alikes from the
    table, each letter for one drawn among all that confusables.txt lists for it."""
    swapped = "".join(data.draw(st.sampled_from(CHOICES[c])) if CHOICES.get(c) else c for c in name)
    assert look_alike(name, swapped), (name, swapped)
    assert look_alike(name.upper(), name.lower())


HIDDEN = [
    "\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff", "\u034f", "\ufe0f",
    "\u180e", "\U000e0041", "\u3164", "\u115f", "\u200e", "\u202e", "\u2028",
]  # fmt: skip


@pytest.mark.parametrize("char", HIDDEN)
def test_characters_that_show_nothing_are_dropped_and_named(char: str) -> None:
    assert look_alike("Acme", f"Ac{char}me")
    assert hidden_characters(f"Ac{char}me") == [f"U+{ord(char):04X}"]


def test_a_plain_name_has_no_hidden_characters() -> None:
    assert hidden_characters("Acme 工力食品 Ünïcode") == []
