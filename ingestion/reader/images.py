"""Raster uploads (PNG, JPEG, TIFF with any number of pages, WebP, HEIC) to upright RGB page arrays.

Each frame's size is checked against the pixel limit from its header, before it is decoded.
"""
from __future__ import annotations

import io
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageOps, ImageSequence

from . import errors
from .config import Limits

try:  # HEIC/HEIF support registers itself with Pillow
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - listed in requirements.txt
    pillow_heif = None

ORIENTATION = 0x0112  # EXIF tag


def image_pages(data: bytes, media_type: str, limits: Limits) -> Iterator[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise errors.DocumentError(413, "The image has too many pixels", code="DOCUMENT_TOO_MANY_PIXELS")
        except Exception as exc:
            raise errors.corrupt(media_type, str(exc) or type(exc).__name__)
    pages = getattr(image, "n_frames", 1)
    if pages > limits.max_pages:
        raise errors.too_many_pages(pages, limits.max_pages)
    for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
        pixels = frame.size[0] * frame.size[1]
        if pixels > limits.max_pixels:
            raise errors.too_many_pixels(number, pixels, limits.max_pixels)
        try:
            if frame.getexif().get(ORIENTATION, 1) != 1:  # exif_transpose copies the page even when upright
                frame = ImageOps.exif_transpose(frame)
            yield to_rgb(frame)
        except errors.DocumentError:
            raise
        except Exception as exc:  # truncated or malformed data surfaces on decode
            raise errors.corrupt(media_type, f"page {number}: {exc or type(exc).__name__}")


def to_rgb(image: Image.Image) -> np.ndarray:
    """RGB uint8; transparent areas become white paper, 16-bit and bilevel scans are scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        peak = float(array.max()) or 1.0
        image = Image.fromarray((array * (255.0 / peak)).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))  # convert() copies even RGB
