"""The evaluation corpus: ground-truth lab reports, drawn in many layouts, degraded like real uploads.

`build_corpus` writes it to disk (var/corpus/ by convention, never committed); the evaluation
command generates the same cases in memory from the same seeds.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from evaluation.corpus.layouts import LAYOUTS, Layout, sample_report  # noqa: F401
from evaluation.corpus.render import render_page_images, render_pdf

EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "image/tiff": "tiff",
              "image/webp": "webp"}


def build_corpus(out_dir: str | Path, *, seeds: Iterable[int] = (1, 2), layouts: Iterable[str] | None = None,
                 degradations: Iterable[str] | None = None, dpi: int = 300) -> list[Path]:
    """Write `<layout>/<seed>/{truth.json, text.pdf, <degradation>.<ext>}` and return the case folders.

    Degradations come from `evaluation.corpus.degrade.DEGRADATIONS` (all of them by default); each
    is applied to the first page image, with its own seeded random generator.
    """
    import random

    out = Path(out_dir)
    chosen = [LAYOUTS[name] for name in (layouts or LAYOUTS)]
    degrade = _degradations(degradations)
    folders = []
    for layout in chosen:
        for seed in seeds:
            report = layout.report(seed)
            folder = out / layout.name / str(seed)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "truth.json").write_text(json.dumps(report.to_json(), indent=1))
            (folder / "text.pdf").write_bytes(render_pdf(report, layout))
            if degrade:
                pages = render_page_images(report, layout, dpi=dpi)
                for name, fn in degrade.items():
                    for number, page in enumerate(pages, 1):
                        data, media_type = fn(page, random.Random(f"{layout.name}-{seed}-{name}-{number}"))
                        suffix = f"-p{number}" if len(pages) > 1 else ""
                        (folder / f"{name}{suffix}.{EXTENSIONS.get(media_type, 'bin')}").write_bytes(data)
            folders.append(folder)
    return folders


def _degradations(names: Iterable[str] | None) -> dict:
    names = None if names is None else list(names)
    if names == []:
        return {}
    from evaluation.corpus.degrade import DEGRADATIONS

    return {n: DEGRADATIONS[n] for n in (names or DEGRADATIONS)}
