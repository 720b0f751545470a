"""Look-alike names: Unicode TR39 confusable skeletons, case-insensitive.

Two names look alike to a shopper when they share a skeleton: "Acme" and "Acme" spelt
with the Cyrillic A and ES (U+0410, U+0441), "ACME" with the Cyrillic EM for its M
(U+041C, which passes for M, and M for "rn"), "ACME" and "acme", "Nike" in full width
(U+FF2E...), "工力" and the katakana E and KA (U+30A8, U+30AB). `skeletons` gives a
name's two keys and `look_alike` compares them; both keys are UTS #39 section 4
skeletons (NFD, the prototype mapping, NFD) with case folding added, applied until the
text no longer changes (a fixed point: the prototype of Cyrillic EM is "M", whose folded
"m" has its own prototype "rn"):

- ``folded``: case folding first, so "NIKE" and "Nike" share it (the confusables table
  maps the capital I to "l", which alone would part them);
- ``shown``: the mapping first, on the name as it is displayed, then case folding, so a
  capital whose small letter has another prototype still meets its Latin look-alike
  (Cyrillic EM passes for M, its small form for a turned w; Greek NU for N, its small
  form for v).

The mapping (`CONFUSABLES`) is all of Unicode's confusables.txt (UTS #39 security data,
version 17.0.0, type MA), bundled in ledger/rules/data/confusables.txt by
tools/gen_confusables.py under the Unicode License v3 (ledger/rules/data/NOTICE), plus
`EXTRA`, two look-alikes it lacks; a character the table does not list stands for its
compatibility form (NFKC: full-width letters, ligatures, Kangxi radicals). The PyPI
packages were weighed first: ``confusable-homoglyphs`` answers "is this string
mixed-script" but computes no skeleton, ``confusables`` enumerates variants rather than
mapping to a prototype.

Characters that show nothing of their own (format characters such as zero widths,
joiners and direction controls, controls, separators, and the other default-ignorable
code points) are dropped before either key is made, as TR39 does since Unicode 15.1, so
"Ac\u200bme" has the skeleton of "Acme"; rule set 2 refuses an actor name holding any
(`hidden_characters`, `name-hidden-characters`), since a right-to-left override can make
a name display as another without sharing its skeleton.

The table is part of the rules: a newer Unicode version's table can refuse a brand name
an older one let in, so a regeneration goes with a rule-set change (docs/FORMAT.md 3.1),
else a replay of an existing log could refuse what the log accepted.

It lives with the rules because the rules refuse a brand registered under a name that
looks like another brand's (`lookalike-name`, ledger.rules.registry); the brand monitor
(ledger.audit.monitor) reports look-alikes with the same function. Pure (the table is
read once, at import).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

DATA = Path(__file__).parent / "data" / "confusables.txt"

#: look-alikes confusables.txt lacks: "vv" reads as "w", the CJK stroke 丨 as l
EXTRA: dict[str, str] = {"vv": "w", "\u4e28": "l"}

#: every character settles within 4 changing rounds (casefold or NFKC can turn a
#: prototype into a source: "M" -> "m" -> "rn"); tests/unit/test_skeleton.py checks each
#: character the table names. A bound, so no table a future regeneration brings can loop.
_ROUNDS = 8


def _load(path: Path) -> dict[str, str]:
    """source -> prototype, from the generated table (hex code points)."""
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            source, target = line.split(";")
            table[chr(int(source, 16))] = "".join(chr(int(h, 16)) for h in target.split())
    return table


#: source character(s) -> prototype: confusables.txt (MA) and `EXTRA`
CONFUSABLES: dict[str, str] = {**_load(DATA), **EXTRA}

_LONGEST = max(len(k) for k in CONFUSABLES)


class Skeletons(NamedTuple):
    """A name's two keys (module docstring): ``folded`` (case folding first) and
    ``shown`` (the name's prototypes as displayed, then case folding)."""

    folded: str
    shown: str


#: default-ignorable code points that are not of category Cf (Unicode's
#: DerivedCoreProperties.txt, Default_Ignorable_Code_Point): fillers, variation
#: selectors, the combining grapheme joiner; TR39 (since 15.1) drops them all
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0x1BCA0, 0x1BCA3),
    (0xE0000, 0xE0FFF),
)


def _hidden(char: str) -> bool:
    """Whether ``char`` shows nothing of its own: a format character (category Cf: zero
    widths, joiners, direction controls, the soft hyphen, tags), a line or paragraph
    separator, a control, or another default-ignorable code point."""
    if unicodedata.category(char) in ("Cf", "Cc", "Zl", "Zp"):
        return True
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE_RANGES)


def hidden_characters(name: str) -> list[str]:
    """The characters of ``name`` that show nothing of their own (`_hidden`), as
    ``U+XXXX`` in order: a name holding any can display as another name ("Ac\u200bme"
    as "Acme", a right-to-left override reversing the rest)."""
    return [f"U+{ord(c):04X}" for c in name if _hidden(c)]


def _visible(text: str) -> str:
    return "".join(c for c in text if not _hidden(c))


def _map(text: str) -> str:
    """Replace each confusable (longest source first) by its prototype, and any other
    character by its compatibility form (NFKC): the table lists the full-width capitals
    but not every full-width small letter, Kangxi radical or ligature."""
    out: list[str] = []
    i = 0
    while i < len(text):
        for width in range(min(_LONGEST, len(text) - i), 0, -1):
            piece = text[i : i + width]
            if piece in CONFUSABLES:
                out.append(CONFUSABLES[piece])
                i += width
                break
        else:
            out.append(unicodedata.normalize("NFKC", text[i]))
            i += 1
    return "".join(out)


def _settle(text: str) -> str:
    """Map, fold and decompose until nothing changes (the fixed point); whitespace runs
    count as one space, leading and trailing space is dropped."""
    for _ in range(_ROUNDS):
        step = " ".join(unicodedata.normalize("NFD", _map(text).casefold()).split())
        if step == text:
            return step
        text = step
    return text


@lru_cache(maxsize=4096)  # each registration compares against every brand's name
def skeletons(name: str) -> Skeletons:
    """The two TR39 skeletons of ``name`` (module docstring). Each is its own skeleton:
    ``skeletons(s).folded == s`` for ``s = skeletons(name).folded``, and likewise for
    ``shown``."""
    text = _visible(unicodedata.normalize("NFD", name))
    return Skeletons(_settle(" ".join(text.casefold().split())), _settle(text))


def skeleton(name: str) -> str:
    """The case-folded skeleton of ``name`` (`Skeletons.folded`), as a report shows it."""
    return skeletons(name).folded


def look_alike(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` share a skeleton of either kind (`skeletons`)."""
    x, y = skeletons(a), skeletons(b)
    return x.folded == y.folded or x.shown == y.shown
