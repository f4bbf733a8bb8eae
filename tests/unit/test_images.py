from __future__ import annotations

import base64

import numpy as np
import pytest

from inbetween.errors import InvalidImage
from inbetween.media.images import decode_image, fit_to_canvas, parse_image_field
from tests.conftest import encode

MP = 40_000_000


def test_http_urls_are_kept_for_the_worker() -> None:
    got = parse_image_field(" https://example.com/a.jpg ", "image_url", MP)
    assert got.url == "https://example.com/a.jpg" and got.data is None


def test_url_without_host_is_rejected() -> None:
    with pytest.raises(InvalidImage, match="image_url: the URL has no host"):
        parse_image_field("https:///a.jpg", "image_url", MP)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_data_urls_and_bare_base64_are_decoded(photos: dict[str, np.ndarray], fmt: str) -> None:
    raw = encode(photos["astronaut"], fmt)
    b64 = base64.b64encode(raw).decode()
    assert parse_image_field(f"data:image/{fmt.lower()};base64,{b64}", "x", MP).data == raw
    assert parse_image_field(b64, "x", MP).data == raw
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert parse_image_field(urlsafe, "x", MP).data == raw


def test_base64_with_line_breaks_is_accepted(photos: dict[str, np.ndarray]) -> None:
    raw = encode(photos["coffee"], "JPEG")
    wrapped = base64.encodebytes(raw).decode()  # 76-column lines
    assert parse_image_field(wrapped, "x", MP).data == raw


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not an image at all!", "must be an http\\(s\\) URL, a data:image"),
        ("ftp://example.com/a.png", "must be an http\\(s\\) URL"),
        ("data:text/plain;base64,aGVsbG8=", "the data URL's type is 'text/plain'"),
        ("data:image/png,rawbytes", "a data URL must look like"),
        ("data:image/png;base64,@@@@", "payload is not valid Base64"),
        (base64.b64encode(b"hello world, not an image").decode(), "not a readable image"),
    ],
)
def test_strings_that_are_not_images_are_rejected(value: str, message: str) -> None:
    with pytest.raises(InvalidImage, match=message) as info:
        parse_image_field(value, "last_image_url", MP)
    assert info.value.field == "last_image_url"
    assert str(info.value).startswith("last_image_url: ")


def test_gif_is_rejected_listing_accepted_formats(photos: dict[str, np.ndarray]) -> None:
    with pytest.raises(InvalidImage, match="GIF images are not accepted; accepted formats: "
                       "JPEG, PNG or WebP"):
        decode_image(encode(photos["astronaut"], "GIF"), "image_url", MP)


def test_too_small_image_is_rejected() -> None:
    tiny = encode(np.zeros((63, 200, 3), np.uint8))
    with pytest.raises(InvalidImage, match="200×63 px; it must be at least 64×64"):
        decode_image(tiny, "image_url", MP)


def test_pixel_cap_is_checked_from_the_header() -> None:
    big = encode(np.zeros((1000, 1000, 3), np.uint8))
    with pytest.raises(InvalidImage, match="1000×1000 px .* the limit is 0.5 MP"):
        decode_image(big, "image_url", 500_000)


def test_truncated_image_is_rejected(photos: dict[str, np.ndarray]) -> None:
    raw = encode(photos["astronaut"], "PNG")
    with pytest.raises(InvalidImage, match="corrupt or truncated"):
        decode_image(raw[: len(raw) // 2], "image_url", MP)


def test_decoding_applies_exif_orientation_and_flattens_alpha() -> None:
    from io import BytesIO

    from PIL import Image

    img = Image.new("RGBA", (80, 64), (255, 0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = BytesIO()
    img.save(buffer, format="PNG", exif=exif)
    rgb = decode_image(buffer.getvalue(), "x", MP)
    assert rgb.shape == (80, 64, 3)  # rotated
    assert rgb.max() == 0  # transparent red on black is black


@pytest.mark.parametrize(("w", "h"), [(1280, 720), (720, 1280), (1920, 1080), (1080, 1920)])
def test_fit_cover_crops_without_stretching(w: int, h: int) -> None:
    # a square image with a centred square marker: after cover-crop the marker stays square
    src = np.zeros((600, 600, 3), np.uint8)
    src[250:350, 250:350] = 255
    out = fit_to_canvas(src, w, h)
    assert out.shape == (h, w, 3)
    ys, xs = np.nonzero(out[..., 0] > 127)
    assert abs((xs.max() - xs.min()) - (ys.max() - ys.min())) <= 2
    assert abs((xs.max() + xs.min()) / 2 - w / 2) <= 2
    assert abs((ys.max() + ys.min()) / 2 - h / 2) <= 2


def test_fit_of_matching_aspect_keeps_everything() -> None:
    src = np.zeros((360, 640, 3), np.uint8)
    src[:, :4] = 255  # left edge stripe survives (no crop)
    out = fit_to_canvas(src, 1280, 720)
    assert out[:, :4].mean() > 200


def _saved(image: object, fmt: str, **options: object) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    image.save(buffer, format=fmt, **options)  # type: ignore[attr-defined]
    return buffer.getvalue()


def test_every_input_variant_decodes_to_the_right_rgb(photos: dict[str, np.ndarray]) -> None:
    from PIL import Image
    from skimage import data

    from tests.conftest import psnr

    rgb = photos["astronaut"]
    grey = data.camera()
    grey_rgb = np.repeat(grey[..., None], 3, axis=2)
    palette = Image.fromarray(rgb).convert("P")
    cases = {
        "grey PNG": (_saved(Image.fromarray(grey), "PNG"), grey_rgb, 99),
        "16-bit grey PNG": (_saved(Image.fromarray(grey.astype(np.uint16) * 257), "PNG"),
                            grey_rgb, 99),
        "palette PNG": (_saved(palette, "PNG"), np.asarray(palette.convert("RGB")), 99),
        "CMYK JPEG": (_saved(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95), rgb, 38),
        "lossless WebP": (_saved(Image.fromarray(rgb), "WEBP", lossless=True), rgb, 99),
    }
    for name, (raw, expected, min_db) in cases.items():
        got = decode_image(raw, "image_url", MP)
        assert got.shape == expected.shape and got.dtype == np.uint8, name
        assert psnr(got, expected) >= min_db, (name, psnr(got, expected))


def test_rgba_is_flattened_on_black(photos: dict[str, np.ndarray]) -> None:
    from PIL import Image

    rgba = np.dstack([photos["astronaut"], np.full((512, 512), 255, np.uint8)])
    rgba[:256, :, 3] = 0  # top half fully transparent
    got = decode_image(_saved(Image.fromarray(rgba, "RGBA"), "PNG"), "x", MP)
    assert got[:256].max() == 0
    assert np.array_equal(got[256:], photos["astronaut"][256:])


def test_exif_rotated_jpeg_is_upright(photos: dict[str, np.ndarray]) -> None:
    from PIL import Image

    rgb = photos["rocket"]  # 427 × 640, portrait-ish content stored sideways below
    exif = Image.Exif()
    exif[0x0112] = 8  # the stored pixels must be rotated 90° counter-clockwise to display
    stored = np.rot90(rgb, k=-1)  # what a camera would have written
    got = decode_image(_saved(Image.fromarray(np.ascontiguousarray(stored)), "JPEG", exif=exif,
                              quality=95), "x", MP)
    from tests.conftest import psnr

    assert got.shape == rgb.shape and psnr(got, rgb) > 30


def test_decompression_bomb_is_refused_from_its_header() -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, format="PNG")  # 100 MP in a few KiB
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(InvalidImage, match="image_url: the image is"):
        decode_image(buffer.getvalue(), "image_url", MP)


def test_truncated_jpeg_and_one_pixel_images_are_refused(photos: dict[str, np.ndarray]) -> None:
    raw = encode(photos["coffee"], "JPEG")
    with pytest.raises(InvalidImage, match="corrupt or truncated|not a readable image"):
        decode_image(raw[: len(raw) // 3], "image_url", MP)
    with pytest.raises(InvalidImage, match="1×1 px; it must be at least 64×64"):
        decode_image(encode(np.zeros((1, 1, 3), np.uint8)), "image_url", MP)


def test_images_checked_on_two_threads_leave_the_warning_filters_alone() -> None:
    """`inbetween generate` decodes both keyframes at once (and the server checks uploads on
    many threads): the decompression-bomb guard swaps the process's warning filters, which
    only one thread at a time may do."""
    import sys
    import warnings

    from inbetween.media.images import check_image
    from inbetween.parallel import both

    png = encode(np.full((64, 64, 3), 90, np.uint8), "png")
    before = list(warnings.filters)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(3000):
            both(lambda data: check_image(data, "first", 10**6), png, png)
            assert warnings.filters == before
    finally:
        sys.setswitchinterval(interval)
