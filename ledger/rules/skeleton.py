"""Look-alike names: a Unicode TR39 confusable skeleton after NFKC and case folding.

Two names whose `skeleton` is equal are shown alike to a shopper: "Acme" and "Acme"
spelt with the Cyrillic A and ES (U+0410, U+0441), "ACME" and "acme", "Nike" in full
width (U+FF2E...), "工力" and the katakana E and KA (U+30A8, U+30AB). The
steps, per UTS #39 section 4 ("Confusable Detection") with case folding first:

1. NFKC (compatibility forms: full-width Latin, Kangxi radicals, CJK compatibility
   ideographs, ligatures);
2. case folding ("NIKE" is "nike");
3. the prototype mapping of `CONFUSABLES` (Cyrillic a, U+0430, is "a"; katakana E is "工"),
   then case folding again (a prototype may be a capital);
4. NFD, as TR39's skeleton ends.

`CONFUSABLES` is a subset of Unicode's confusables.txt (version 15.1, type MA): the
Latin, Cyrillic, Greek, digit and CJK/kana prototypes that brand names use. The PyPI
packages were weighed first: ``confusable-homoglyphs`` (3.3.1, 2024) answers "is this
string mixed-script or confusable" but computes no skeleton to compare two names, and
``confusables`` (1.2.0, 2021, unmaintained) enumerates variants rather than mapping to a
prototype; neither gives TR39's skeleton, so the mapping is bundled here.

It lives with the rules because the rules refuse a brand registered under a name that
looks like another brand's (`lookalike-name`, ledger.rules.registry); the brand monitor
(ledger.audit.monitor) reports look-alikes with the same function. Pure.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: source character -> prototype (confusables.txt, MA), lower-case prototypes for letters
CONFUSABLES: dict[str, str] = {
    # digits and signs that pass for letters
    "0": "o",
    "1": "l",
    "|": "l",
    "\u01c0": "l",  # LATIN LETTER DENTAL CLICK
    "\u0131": "i",  # DOTLESS I
    "\u0261": "g",  # LATIN SMALL LETTER SCRIPT G
    "\u0251": "a",  # LATIN SMALL LETTER ALPHA
    "m": "rn",  # the one many-to-one mapping that matters: "rn" reads as "m"
    "vv": "w",
    # Cyrillic
    "\u0430": "a",
    "\u0410": "A",
    "\u0432": "B",
    "\u0412": "B",
    "\u0435": "e",
    "\u0415": "E",
    "\u043a": "k",
    "\u041a": "K",
    "\u043c": "M",
    "\u041c": "M",
    "\u043d": "H",
    "\u041d": "H",
    "\u043e": "o",
    "\u041e": "O",
    "\u0440": "p",
    "\u0420": "P",
    "\u0441": "c",
    "\u0421": "C",
    "\u0442": "T",
    "\u0422": "T",
    "\u0443": "y",
    "\u0445": "x",
    "\u0425": "X",
    "\u0455": "s",
    "\u0405": "S",
    "\u0456": "i",
    "\u0406": "l",
    "\u0458": "j",
    "\u0408": "J",
    "\u0501": "d",
    "\u051b": "q",
    "\u051d": "w",
    "\u04bb": "h",
    # Greek
    "\u03bf": "o",
    "\u039f": "O",
    "\u03b1": "a",
    "\u0391": "A",
    "\u0392": "B",
    "\u0395": "E",
    "\u0396": "Z",
    "\u0397": "H",
    "\u0399": "l",
    "\u039a": "K",
    "\u039c": "M",
    "\u039d": "N",
    "\u03a1": "P",
    "\u03c1": "p",
    "\u03a4": "T",
    "\u03a5": "Y",
    "\u03a7": "X",
    "\u03bd": "v",
    "\u03b9": "i",
    # CJK and kana: katakana that pass for ideographs, and the ideographic zero
    "\u3007": "O",  # IDEOGRAPHIC NUMBER ZERO
    "\u30a8": "\u5de5",  # KATAKANA E -> 工
    "\u30ab": "\u529b",  # KATAKANA KA -> 力
    "\u30bf": "\u5915",  # KATAKANA TA -> 夕
    "\u30c8": "\u535c",  # KATAKANA TO -> 卜
    "\u30cb": "\u4e8c",  # KATAKANA NI -> 二
    "\u30cf": "\u516b",  # KATAKANA HA -> 八
    "\u30ed": "\u53e3",  # KATAKANA RO -> 口
    "\u56d7": "\u53e3",  # 囗 -> 口
    "\u30fc": "\u4e00",  # KATAKANA-HIRAGANA PROLONGED SOUND MARK -> 一
    "\u2014": "\u4e00",  # EM DASH -> 一
    "\u4e28": "l",  # 丨 -> l
}

_LONGEST = max(len(k) for k in CONFUSABLES)


def _map(text: str) -> str:
    """Replace each confusable (longest source first) by its prototype."""
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
            out.append(text[i])
            i += 1
    return "".join(out)


@lru_cache(maxsize=4096)  # each registration compares against every brand's name
def skeleton(name: str) -> str:
    """The TR39 skeleton of ``name`` after NFKC and case folding (module docstring): two
    names look alike exactly when their skeletons are equal. Whitespace runs count as
    one space, and leading or trailing space is dropped."""
    text = " ".join(unicodedata.normalize("NFKC", name).split()).casefold()
    text = _map(text).casefold()
    return unicodedata.normalize("NFD", text)


def look_alike(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` have the same skeleton (`skeleton`)."""
    return skeleton(a) == skeleton(b)
