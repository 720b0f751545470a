"""Find a TrueType font with Chinese glyphs for the text under the QR codes.

What it does: finds one font file that both Pillow (PNG) and reportlab (PDF, which
embeds a subset) can use for the line "Scan to verify · 扫码验真": the file named by the
environment variable ``PROVENANCE_LABEL_FONT``, else the first of a few well-known
files (Debian ``fonts-wqy-microhei``, ``fonts-wqy-zenhei``, ``fonts-droid-fallback``,
``fonts-arphic-uming``), else what fontconfig's ``fc-match`` proposes for Chinese. It
must hold TrueType outlines: reportlab cannot embed CFF-based OpenType (Noto CJK).

SVG needs no file: it names the fonts in ``font-family`` and the viewer picks one
(`SVG_FONT_FAMILY`).

What it does not do: download fonts. When none is found it raises `FontNotFoundError`
saying which package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qr.errors import FontNotFoundError

ENV_VAR = "PROVENANCE_LABEL_FONT"
#: (path, index of the face inside a .ttc collection)
KNOWN_FONTS = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/System/Library/Fonts/Supplemental/Arial Unicode.ttf", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
)
SVG_FONT_FAMILY = (
    "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', "
    "'Microsoft YaHei', 'Droid Sans Fallback', sans-serif"
)
INSTALL_HINT = (
    "install a font with Chinese glyphs in TrueType outlines (Debian: "
    f"apt-get install fonts-wqy-microhei) or set {ENV_VAR} to a .ttf/.ttc file"
)
_TRUETYPE_MAGIC = (b"\x00\x01\x00\x00", b"true", b"ttcf")


@dataclass(frozen=True)
class FontFile:
    """A font file and the index of the face to use in it."""

    path: str
    index: int = 0


def _is_truetype(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head in _TRUETYPE_MAGIC


def _fc_match() -> str | None:
    """Ask fontconfig for a Chinese font; None if fc-match is absent or says nothing."""
    tool = shutil.which("fc-match")
    if tool is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [tool, "--format=%{file}", ":lang=zh-cn:fontformat=TrueType"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


@lru_cache(maxsize=1)
def find_cjk_font() -> FontFile:
    """Return the font file to draw label text with (looked up once per process).

    Raises:
        FontNotFoundError: ``PROVENANCE_LABEL_FONT`` names a file that is not a
            TrueType font, or no suitable font is installed.
    """
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        if not _is_truetype(chosen):
            raise FontNotFoundError(f"{chosen} is not a TrueType font file", field=ENV_VAR)
        return FontFile(chosen, 0)
    for path, index in KNOWN_FONTS:
        if Path(path).is_file() and _is_truetype(path):
            return FontFile(path, index)
    proposed = _fc_match()
    if proposed and _is_truetype(proposed) and _has_chinese(proposed):
        return FontFile(proposed, 0)
    raise FontNotFoundError(f"no font with Chinese glyphs found: {INSTALL_HINT}")


def _has_chinese(path: str) -> bool:
    """Tell whether the font maps the four characters of 扫码验真 to glyphs."""
    from PIL import ImageFont  # local: only this fallback path needs it here

    try:
        font = ImageFont.truetype(path, 16)
    except OSError:
        return False
    blank = font.getmask("\uffff").getbbox()  # the .notdef box, for comparison
    return all(font.getmask(ch).getbbox() not in (None, blank) for ch in "扫码验真")
