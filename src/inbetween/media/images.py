"""Input images: tell URLs from Base64, decode and check bytes, fit to the video canvas."""

from __future__ import annotations

import base64
import binascii
import io
import re
import threading
import warnings
from urllib.parse import urlsplit

import cv2
import numpy as np
from PIL import Image, ImageOps

from inbetween.errors import InvalidImage
from inbetween.jobs.models import ImageInput

__all__ = [
    "ACCEPTED_FORMATS",
    "MIN_SIDE",
    "check_image",
    "decode_image",
    "fit_to_canvas",
    "parse_image_field",
]

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MIN_SIDE = 64
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.I)
_B64_ALPHABET = re.compile(rb"^[A-Za-z0-9+/_-]*={0,2}$")
_ACCEPTED_TEXT = "JPEG, PNG or WebP"
_HIGH_DEPTH_GREY = ("I;16", "I;16B", "I;16L", "I")


def parse_image_field(value: str, field: str, max_pixels: int) -> ImageInput:
    """Classify a request's image string: an http(s) URL, a data URL, or bare Base64.

    URLs are only checked for shape (the worker fetches them); Base64 is decoded and the
    image checked now, so a broken one is rejected with the request. Raises InvalidImage.
    """
    stripped = value.strip()
    lowered = stripped[:8].lower()
    if lowered.startswith(("http://", "https://")):
        parts = urlsplit(stripped)
        if not parts.hostname:
            raise InvalidImage(f"{field}: the URL has no host name: {stripped[:100]!r}",
                               field=field)
        return ImageInput(url=stripped)
    if lowered.startswith("data:"):
        match = _DATA_URL.match(stripped)
        if match is None:
            raise InvalidImage(
                f"{field}: a data URL must look like data:image/png;base64,<data>", field=field
            )
        mime = (match.group("mime") or "").lower()
        if not mime.startswith("image/"):
            raise InvalidImage(
                f"{field}: the data URL's type is {mime or 'missing'!r}; send an image "
                f"({_ACCEPTED_TEXT}) as data:image/...;base64,<data>",
                field=field,
            )
        data = _b64decode(stripped[match.end():], field)
    else:
        data = _b64decode(stripped, field, bare=True)
    check_image(data, field, max_pixels)
    return ImageInput(data=data)


def _b64decode(text: str, field: str, bare: bool = False) -> bytes:
    compact = re.sub(r"\s+", "", text).encode("ascii", "replace")
    try:
        if not compact or not _B64_ALPHABET.match(compact):
            raise ValueError("characters outside the Base64 alphabet")
        padded = compact + b"=" * (-len(compact) % 4)
        if b"-" in compact or b"_" in compact:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as e:
        if bare:
            raise InvalidImage(
                f"{field}: must be an http(s) URL, a data:image/...;base64 URL, or Base64-"
                f"encoded image data ({_ACCEPTED_TEXT})",
                field=field,
            ) from e
        raise InvalidImage(f"{field}: the data URL's payload is not valid Base64",
                           field=field) from e


_WARNING_FILTERS = threading.Lock()


def check_image(data: bytes, field: str, max_pixels: int) -> Image.Image:
    """Open and fully load JPEG/PNG/WebP bytes, checking format and size.

    Format and size come from the header and are checked before any pixel is decoded, so a
    decompression bomb is refused without being decoded. Raises InvalidImage naming ``field``.
    """
    try:
        # the warning filters are the process's: one thread at a time may swap them, or
        # another's open could run without the "error" filter (or leave it on for good)
        with _WARNING_FILTERS, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # the header only: pixels load below
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidImage(f"{field}: the image is too large to decode safely", field=field) from e
    except Exception as e:  # PIL raises many types for garbage input
        raise InvalidImage(
            f"{field}: not a readable image; accepted formats: {_ACCEPTED_TEXT}", field=field
        ) from e
    if image.format not in ACCEPTED_FORMATS:
        raise InvalidImage(
            f"{field}: {image.format or 'unknown'} images are not accepted; "
            f"accepted formats: {_ACCEPTED_TEXT}",
            field=field,
        )
    width, height = image.size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidImage(
            f"{field}: the image is {width}×{height} px; it must be at least "
            f"{MIN_SIDE}×{MIN_SIDE} px (720p or larger gives the best result)",
            field=field,
        )
    if width * height > max_pixels:
        raise InvalidImage(
            f"{field}: the image is {width}×{height} px ({width * height / 1e6:.1f} MP); "
            f"the limit is {max_pixels / 1e6:.1f} MP; scale it down",
            field=field,
        )
    try:
        image.load()
    except Exception as e:
        raise InvalidImage(
            f"{field}: the {image.format} data is corrupt or truncated ({e})", field=field
        ) from e
    return image


def decode_image(data: bytes, field: str, max_pixels: int) -> np.ndarray:
    """Decode checked image bytes to an RGB uint8 array, EXIF orientation applied.

    Greyscale (8 or 16 bit), palette, CMYK and RGBA inputs all become RGB; transparent pixels
    are composited on black.
    """
    image = ImageOps.exif_transpose(check_image(data, field, max_pixels))
    if image.mode in _HIGH_DEPTH_GREY:  # 16-bit greyscale PNG: scale, don't saturate
        grey = np.asarray(image).astype(np.float32) * (255.0 / 65535.0)
        return np.repeat(np.clip(np.rint(grey), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, (0, 0, 0))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    return np.asarray(image.convert("RGB"))


def fit_to_canvas(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Cover-crop ``image`` to ``width``×``height``: keep the aspect, crop the centre."""
    src_h, src_w = image.shape[:2]
    target_aspect = width / height
    if src_w / src_h > target_aspect:  # too wide: crop the sides
        crop_w, crop_h = max(1, round(src_h * target_aspect)), src_h
    else:  # too tall: crop top and bottom
        crop_w, crop_h = src_w, max(1, round(src_w / target_aspect))
    x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    crop = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    shrinking = crop_w >= width and crop_h >= height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=interpolation))
