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
