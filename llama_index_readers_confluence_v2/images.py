"""Image validation and normalisation with Pillow (pure): bytes in, a checked image out.

Only real image data of the declared kind passes, within a pixel cap checked from the header
before anything is decoded (decompression bombs are refused without allocating them).
Animated images keep their first frame. SVG stays as its source (no rasteriser needed).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from .errors import ImageRejected

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
SVG_TYPE = "image/svg+xml"
PILLOW_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/pjpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}
MIMETYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    mimetype: str
    width: int | None
    height: int | None


def is_image_type(media_type: str) -> bool:
    return media_type.split(";")[0].strip().lower().startswith("image/")


def check_image(
    data: bytes,
    media_type: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    allow_svg: bool = True,
) -> CheckedImage:
    """Validate `data` as an image of `media_type`; raise ImageRejected with the reason."""
    declared = media_type.split(";")[0].strip().lower()
    if declared == SVG_TYPE:
        if not allow_svg:
            raise ImageRejected("SVG images are switched off (include_svg=False)")
        return _check_svg(data)
    expected = PILLOW_FORMATS.get(declared)
    if expected is None:
        raise ImageRejected(f"not an image type this reader takes ({declared or 'unknown'})")
    return _check_raster(data, expected, max_pixels)


def _check_raster(data: bytes, expected: str, max_pixels: int) -> CheckedImage:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"{width}x{height} pixels is over the {max_pixels:,}-pixel cap "
                    "(a decompression bomb, or simply too large)"
                )
            if image.format != expected:
                raise ImageRejected(f"the data is {image.format or 'unknown'}, not {expected}")
            image.load()
            frames = getattr(image, "n_frames", 1)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"refused as a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"corrupt or unreadable image data ({type(exc).__name__})") from None
    if frames > 1:
        return CheckedImage(_first_frame(image), MIMETYPES[expected], width, height)
    return CheckedImage(data, MIMETYPES[expected], width, height)


def _first_frame(image: object) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    image.seek(0)
    buffer = io.BytesIO()
    image.copy().save(buffer, format=image.format or "GIF")
    return buffer.getvalue()


_SVG_SIZE = re.compile(rb'\b(width|height)\s*=\s*["\']\s*([0-9.]+)', re.IGNORECASE)


def _check_svg(data: bytes) -> CheckedImage:
    head = data[:2048].lstrip().lower()
    if not (
        head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096].lower())
    ):
        raise ImageRejected("declared SVG, but the data is not SVG markup")
    sizes = {name.lower(): value for name, value in _SVG_SIZE.findall(data[: data.find(b">") + 1])}
    return CheckedImage(
        data, SVG_TYPE, _int_or_none(sizes.get(b"width")), _int_or_none(sizes.get(b"height"))
    )


def _int_or_none(value: bytes | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None
