"""Report photos re-encoded on intake: decoded, stripped of every metadata, re-encoded.

A shopper's photo may carry where and with what it was taken (EXIF with GPS, XMP, an
ICC profile's comments, PNG text chunks), and a file that only claims to be an image
may be HTML a browser would run. So a photo is never kept as sent: `reencode` decodes
it with Pillow (JPEG, PNG or WebP only; at most `MAX_PIXELS` pixels, checked from the
header before any pixel is decoded), scales it to at most `MAX_SIDE` pixels a side
(a large JPEG is decoded at a reduced scale, never less than half of that), turns it
upright by its EXIF orientation, copies the bare pixels into a new image (which has no
metadata to carry over), and writes a JPEG, or a PNG when it has transparency.
The stored bytes and their type (``image/jpeg`` or ``image/png``) are then the only
thing ever served.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from ledger.errors import ValidationError

#: the most pixels a photo may declare (a 6000 x 4000 phone photo is 24 million)
MAX_PIXELS = 40_000_000
#: the longest side of a stored photo: enough to judge a label or stitching
MAX_SIDE = 2048
#: the most bytes a stored photo takes (as much as a photo sent may have)
MAX_STORED = 2 * 1024 * 1024
#: what is stored and served
JPEG, PNG = "image/jpeg", "image/png"
_FORMATS = ("JPEG", "PNG", "WEBP")
_QUALITY = 85


class PhotoError(ValidationError):
    """The photo is not a JPEG, PNG or WebP image that decodes, or it declares too many pixels."""

    code = "bad-photo"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message, field="photo")


def reencode(
    data: bytes,
    max_pixels: int = MAX_PIXELS,
    *,
    max_side: int = MAX_SIDE,
    max_stored: int | None = None,
) -> tuple[bytes, str]:
    """The photo as bare pixels in a new JPEG (or PNG, if it has transparency) with no
    metadata at all, at most ``max_side`` pixels a side, and its media type. A PNG over
    ``max_stored`` bytes (default `MAX_STORED`) is flattened to a JPEG.

    Raises:
        PhotoError: not a decodable JPEG, PNG or WebP image; more than ``max_pixels``
            pixels declared (a decompression bomb); a truncated file; when
            ``max_stored`` is given, still more than that many bytes re-encoded.
    """
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns before it raises: a warning is a refusal here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise PhotoError(
                        f"the photo declares {width} x {height} pixels; "
                        f"the limit is {max_pixels:,} pixels"
                    )
                if image.format == "JPEG":
                    # decoded at 1/2, 1/4 or 1/8 scale while at least max_side / 2 a side
                    # remains: a 12 MP photo then costs a quarter of its pixels
                    image.draft(None, (max_side // 2, max_side // 2))
                image.seek(0)  # the first frame of an animation
                alpha = _has_alpha(image)
                pixels: Image.Image = image
                if image.mode not in ("RGB", "RGBA", "L", "LA"):
                    # palettes and CMYK: to true colour before scaling (a palette would
                    # be scaled by its nearest neighbour)
                    pixels = image.convert("RGBA" if alpha else "RGB")
                # scaled first (a JPEG decodes at a reduced scale), then turned and
                # converted: each later step copies only the small image
                pixels.thumbnail((max_side, max_side))
                upright = ImageOps.exif_transpose(pixels)
                out, media = _encode(_bare(upright, alpha), max_stored or MAX_STORED)
                if max_stored is not None and len(out) > max_stored:
                    raise PhotoError(
                        f"the photo re-encoded takes {len(out):,} bytes; "
                        f"the limit is {max_stored:,} bytes"
                    )
                return out, media
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, met first when a header declares far too many pixels
        raise PhotoError(f"the photo declares more than {max_pixels:,} pixels") from None
    except UnidentifiedImageError:
        raise PhotoError("the photo must be a JPEG, PNG or WebP image") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # Pillow's decoder failures
        raise PhotoError(f"the photo does not decode: {e}") from None


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _bare(image: Image.Image, alpha: bool) -> Image.Image:
    """The pixels alone, in RGB or RGBA: a new image whose ``info`` is empty, so no EXIF,
    XMP, ICC profile or text chunk can be written out."""
    converted = image.convert("RGBA" if alpha else "RGB")
    return Image.frombytes(converted.mode, converted.size, converted.tobytes())


def _encode(image: Image.Image, max_stored: int) -> tuple[bytes, str]:
    """JPEG, or PNG for transparency unless that PNG would exceed ``max_stored`` (a lossy
    WebP with alpha can grow eightfold as a PNG): then flattened on white as a JPEG."""
    if image.mode == "RGBA":
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        if out.tell() <= max_stored:
            return out.getvalue(), PNG
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=_QUALITY, optimize=True)
    return out.getvalue(), JPEG
