"""Report photos re-encoded on intake (ledger.service.photos): whatever a photo carried
about where and with what it was taken is gone, and only real images of sensible size
get in.

The attacks: a JPEG carrying GPS EXIF (the shopper's home), XMP, an ICC profile and a
comment; an HTML page named ``.jpg`` (served back, a browser would run it); a
decompression bomb (a few KB declaring gigapixels).
"""

from __future__ import annotations

import io
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from ledger.service import photos
from ledger.service.photos import JPEG, MAX_SIDE, PNG, PhotoError, reencode
from ledger.service.reports import clean_photo
from tests.profiles import examples

GPS = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}


def gps_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG with GPS EXIF, a camera make, XMP, an sRGB ICC profile and a comment."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90 to show upright
    exif.get_ifd(0x8825).update(GPS)  # GPSInfo
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif,
        icc_profile=icc,
        comment=b"home sweet home",
        xmp=b"<x:xmpmeta><exif:GPSLatitude>48,51.4N</exif:GPSLatitude></x:xmpmeta>",
    )
    return out.getvalue()


def metadata(data: bytes) -> dict[str, object]:
    with Image.open(io.BytesIO(data)) as image:
        found = {
            k: v
            for k, v in image.info.items()
            if k
            not in (
                "dpi",
                "jfif",
                "jfif_version",
                "jfif_unit",
                "jfif_density",
                "progressive",
                "progression",
            )
        }
        if image.getexif():
            found["exif"] = dict(image.getexif())
        return found


def test_a_jpeg_with_gps_exif_comes_back_without_any_metadata() -> None:
    sent = gps_jpeg()
    before = metadata(sent)
    assert {"exif", "icc_profile", "comment", "xmp"} <= set(before)  # the attack is real
    stored, media = reencode(sent)
    assert media == JPEG
    assert metadata(stored) == {}
    for marker in (b"Exif", b"PhoneMaker", b"GPS", b"home sweet", b"xmpmeta", b"ICC_PROFILE"):
        assert marker not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG" and image.size == (48, 64)  # turned upright first


def test_a_png_with_text_chunks_and_alpha_stays_png_without_them() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "taken at 1 Rue de Rivoli")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    out = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 0, 255, 128)).save(out, "PNG", pnginfo=info)
    stored, media = reencode(out.getvalue())
    assert media == PNG and b"Rivoli" not in stored and b"xmpmeta" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.mode == "RGBA" and set(image.info) <= {"dpi"}
        assert image.getpixel((3, 3)) == (0, 0, 255, 128)


def test_a_transparent_photo_too_large_as_png_is_flattened_to_jpeg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lossy WebP with alpha may grow eightfold as a PNG: the stored photo stays
    within `MAX_STORED` (made small here so that a small image shows it)."""
    monkeypatch.setattr(photos, "MAX_STORED", 1000)
    noisy = Image.frombytes("RGBA", (64, 64), bytes(range(256)) * 64)
    out = io.BytesIO()
    noisy.save(out, "WEBP", quality=50)
    stored, media = reencode(out.getvalue())
    assert media == JPEG
    with Image.open(io.BytesIO(stored)) as image:
        assert image.mode == "RGB" and image.size == (64, 64)


def test_webp_is_taken_and_stored_as_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (30, 30), "green").save(out, "WEBP")
    assert reencode(out.getvalue())[1] == JPEG


def test_a_large_photo_is_scaled_to_the_stored_size() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 1000), "white").save(out, "JPEG")
    stored, _ = reencode(out.getvalue())
    with Image.open(io.BytesIO(stored)) as image:
        # decoded at half scale (2000 x 500 still exceeds MAX_SIDE / 2), then not enlarged
        assert MAX_SIDE // 2 <= max(image.size) <= MAX_SIDE
        assert image.size[0] == 4 * image.size[1]
    out = io.BytesIO()
    Image.new("RGBA", (5000, 100), "white").save(out, "PNG")
    stored, _ = reencode(out.getvalue())
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (MAX_SIDE, 41)


@pytest.mark.parametrize(
    "sent",
    [
        b"<!doctype html><script>alert(document.cookie)</script>",
        b"\xff\xd8\xff<html><script>alert(1)</script></html>",  # JPEG magic, HTML body
        b"\x89PNG\r\n\x1a\n" + b"\0" * 100,  # PNG magic, nothing that decodes
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",  # a real format, not one we take
        b"",
    ],
    ids=["html", "jpeg-magic-html", "png-magic-zeros", "gif", "empty"],
)
def test_what_is_not_a_decodable_image_is_refused(sent: bytes) -> None:
    with pytest.raises(PhotoError) as refused:
        reencode(sent)
    assert refused.value.code == "bad-photo" and refused.value.status == 400
    assert refused.value.field == "photo"


def test_a_truncated_jpeg_is_refused() -> None:
    sent = gps_jpeg((400, 300))
    with pytest.raises(PhotoError):
        reencode(sent[: len(sent) // 2])


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG of ``width`` x ``height`` black 1-bit pixels: tiny on disk."""
    row = b"\0" + b"\0" * ((width + 7) // 8)
    raw = zlib.compress(row * height, 9)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = bomb_png(20_000, 20_000)  # 400 million pixels in about 50 KB
    assert len(bomb) < 100_000
    with pytest.raises(PhotoError, match="pixels"):
        reencode(bomb)
    # just under the limit decodes (the limit is the pixel count, not the file size)
    assert reencode(bomb_png(2_000, 2_000))[1] == JPEG


def test_too_many_bytes_are_refused_before_decoding() -> None:
    from ledger.errors import ValidationError

    with pytest.raises(ValidationError):
        clean_photo(b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024))


@settings(max_examples=examples(60), deadline=None)
@given(
    width=st.integers(1, 64),
    height=st.integers(1, 64),
    mode=st.sampled_from(["RGB", "RGBA", "L", "LA", "P", "1", "CMYK"]),
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
)
def test_any_image_comes_back_bare_as_jpeg_or_png(
    width: int, height: int, mode: str, fmt: str
) -> None:
    """Whatever mode and format comes in, what is stored is a JPEG or PNG with no
    metadata, of the same size, decodable, and stable under a second re-encoding."""
    image = Image.new(mode, (width, height))
    if fmt == "JPEG" and mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    if fmt == "PNG" and mode == "CMYK":  # PNG has no CMYK: a CMYK JPEG covers it
        image = image.convert("RGB")
    if fmt == "WEBP" and mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in mode else "RGB")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, fmt, exif=exif)
    stored, media = reencode(out.getvalue())
    assert media in (JPEG, PNG)
    with Image.open(io.BytesIO(stored)) as back:
        assert back.size == (width, height)
        assert back.format == ("JPEG" if media == JPEG else "PNG")
    assert b"PhoneMaker" not in stored and metadata(stored) == {}
    assert reencode(stored)[1] == media


def test_the_served_types_are_only_jpeg_and_png() -> None:
    from ledger.service.reports import SERVED_TYPES

    assert set(SERVED_TYPES) == {photos.JPEG, photos.PNG} == {"image/jpeg", "image/png"}
