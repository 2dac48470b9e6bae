"""Degradations: what happens to a clean 300-dpi page between the lab's printer and our upload.

`DEGRADATIONS[name](page, rng) -> (file bytes, media type)`; `page` is an RGB page image at
300 dpi and `rng` a seeded `random.Random`, so every case is reproducible.
"""
from __future__ import annotations

import io
import random
import time
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter

Degradation = Callable[[Image.Image, random.Random], "tuple[bytes, str]"]


def _png(image: Image.Image) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, dpi=(300, 300))
    return buffer.getvalue(), "image/png"


def _jpeg(image: Image.Image, quality: int) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue(), "image/jpeg"


def _noise(image: Image.Image, rng: random.Random, sigma: float) -> Image.Image:
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, sigma, (image.height, image.width, 1))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def clean_300dpi(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    return _png(page)


def dpi_150(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    return _png(page.resize((page.width // 2, page.height // 2), Image.Resampling.LANCZOS))


def noise_blur(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    blurred = page.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 1.6)))
    return _png(_noise(blurred, rng, rng.uniform(14, 22)))


def skew(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    angle = rng.uniform(2, 4) * rng.choice((-1, 1))
    return _png(page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)))


def jpeg_q25(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    return _jpeg(page, 25)


def phone_photo(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    """The page lying on a desk, shot at an angle under a lamp: perspective, light falloff, blur."""
    width, height = page.size
    margin = int(0.12 * max(width, height))
    canvas_size = (width + 2 * margin, height + 2 * margin)
    jitter = lambda: rng.uniform(-0.06, 0.06) * width  # noqa: E731
    corners = [(margin + jitter(), margin + jitter()), (margin + width + jitter(), margin + jitter()),
               (margin + width + jitter(), margin + height + jitter()), (margin + jitter(), margin + height + jitter())]
    coefficients = _perspective_coefficients(corners, [(0, 0), (width, 0), (width, height), (0, height)])
    desk = tuple(rng.randint(45, 95) for _ in range(3))
    mask = Image.new("L", page.size, 255).transform(canvas_size, Image.Transform.PERSPECTIVE, coefficients,
                                                    Image.Resampling.BILINEAR)
    warped = page.transform(canvas_size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    photo = Image.composite(warped, Image.new("RGB", canvas_size, desk), mask)
    # a lamp off to one side: brightness falls from 1.0 to ~0.55 across the frame
    ys, xs = np.mgrid[0:canvas_size[1], 0:canvas_size[0]].astype(np.float32)
    lamp_x, lamp_y = rng.uniform(0, canvas_size[0]), rng.uniform(0, canvas_size[1] * 0.3)
    distance = np.hypot(xs - lamp_x, ys - lamp_y) / max(canvas_size)
    light = np.clip(1.0 - rng.uniform(0.35, 0.45) * distance, 0.5, 1.0)[..., None]
    lit = Image.fromarray((np.asarray(photo, dtype=np.float32) * light).astype(np.uint8))
    lit = _noise(lit.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.0))), rng, 4)
    shrink = 3024 / max(lit.size)  # a 12 MP phone camera frame
    return _jpeg(lit.resize((int(lit.width * shrink), int(lit.height * shrink)), Image.Resampling.LANCZOS), 85)


def _perspective_coefficients(source: list, target: list) -> list[float]:
    """PIL's 8 coefficients mapping output (source) points back to input (target) points."""
    rows = []
    for (x, y), (u, v) in zip(source, target):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return np.linalg.solve(np.array(rows, dtype=np.float64), np.array(target, dtype=np.float64).reshape(8)).tolist()


def scanned_pdf(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    """A flatbed scan saved as PDF: grayscale at 200 dpi, a little noise, an image and no text layer."""
    scan = page.convert("L").resize((page.width * 2 // 3, page.height * 2 // 3), Image.Resampling.LANCZOS)
    scan = _noise(scan.convert("RGB"), rng, 6).convert("L")
    buffer = io.BytesIO()
    fixed = time.gmtime(1735689600)  # 2025-01-01, no wall-clock dates in the file: the same seed gives the same bytes
    scan.save(buffer, format="PDF", resolution=200, creationDate=fixed, modDate=fixed)
    return buffer.getvalue(), "application/pdf"


DEGRADATIONS: dict[str, Degradation] = {
    "clean-300dpi": clean_300dpi,
    "150dpi": dpi_150,
    "noise-blur": noise_blur,
    "skew": skew,
    "jpeg-q25": jpeg_q25,
    "phone-photo": phone_photo,
    "scanned-pdf": scanned_pdf,
}


def augraphy_photo(page: Image.Image, rng: random.Random) -> tuple[bytes, str]:
    """Realistic paper damage from Augraphy (folds, ink bleed, shadows, low light, a curved page), then
    the page photographed at an angle on a desk (`phone_photo`). Augraphy draws from the global random
    generators: they are seeded from `rng` so a case stays reproducible."""
    from augraphy import AugraphyPipeline
    from augraphy.augmentations import (
        BookBinding,
        Folding,
        InkBleed,
        LightingGradient,
        LowLightNoise,
        ShadowCast,
    )

    seed = rng.getrandbits(32)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    work = page.resize((page.width * 3 // 5, page.height * 3 // 5), Image.Resampling.LANCZOS)  # ~180 dpi: speed
    ink = [InkBleed(intensity_range=(0.2, 0.4), kernel_size=(3, 3), severity=(0.2, 0.3), p=0.6)]
    paper = [Folding(fold_count=rng.randint(1, 2), fold_noise=0.0, gradient_width=(0.05, 0.1),
                     gradient_height=(0.005, 0.01), p=0.7)]
    post = [
        ShadowCast(shadow_side=rng.choice(("left", "right", "top", "bottom")), shadow_opacity_range=(0.3, 0.5),
                   shadow_width_range=(0.3, 0.6), shadow_height_range=(0.3, 0.6), p=0.7),
        LightingGradient(light_position=None, direction=None, max_brightness=255, min_brightness=90, mode="gaussian",
                         transparency=0.5, p=0.5),
        LowLightNoise(num_photons_range=(80, 120), alpha_range=(0.8, 0.95), beta_range=(10, 20),
                      gamma_range=(1.0, 1.2), p=0.5),
        BookBinding(shadow_radius_range=(30, 60), curve_range_right=(20, 50), curve_range_left=(10, 30),
                    curve_ratio_right=(0.05, 0.1), curve_ratio_left=(0.3, 0.5), mirror_range=(0.0, 0.0),
                    binding_align=-1, binding_pages=(1, 1), curling_direction=-1, backdrop_color=(255, 255, 255),
                    enable_shadow=0, use_cache_images=0, p=0.5),
    ]
    pipeline = AugraphyPipeline(ink_phase=ink, paper_phase=paper, post_phase=post, random_seed=seed % 2**31)
    damaged = pipeline(np.asarray(work.convert("RGB"))[:, :, ::-1].copy())  # augraphy works in BGR
    damaged = Image.fromarray(np.ascontiguousarray(np.asarray(damaged)[:, :, ::-1]))
    damaged = damaged.resize(page.size, Image.Resampling.BICUBIC)
    return phone_photo(damaged, rng)


DEGRADATIONS["augraphy-photo"] = augraphy_photo
