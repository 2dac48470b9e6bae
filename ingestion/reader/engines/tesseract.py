"""Tesseract 5 (Debian `tesseract-ocr`), the evaluation baseline: the binary via subprocess, TSV out.

`--psm 6` (one uniform block of text) reads table rows as lines, which suits lab reports.
Always one OpenMP thread: Tesseract's OpenMP threads busy-wait for each other, and on the shared
2-core machine (load ~12) a letter page took 438 s wall / 56 CPU-s with 2 threads against
13 s wall / 0.9 CPU-s with one.
"""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ingestion.document import Line, Word

from ..lines import group_lines


@dataclass
class TesseractEngine:
    threads: int = 2  # accepted like every engine's, not used: see the module docstring
    name: str = "tesseract-5"

    def __post_init__(self) -> None:
        if shutil.which("tesseract") is None:
            raise RuntimeError("the tesseract binary is missing: apt-get install -y tesseract-ocr")

    def read(self, image: np.ndarray) -> list[Line]:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", dpi=(300, 300))
        output = subprocess.run(
            ["tesseract", "stdin", "stdout", "--psm", "6", "-l", "eng", "tsv"],
            input=buffer.getvalue(), capture_output=True, check=True,
            env={"OMP_THREAD_LIMIT": "1", "PATH": "/usr/bin:/bin"},
        ).stdout.decode("utf-8")
        words = []
        for row in csv.DictReader(io.StringIO(output), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (row.get("text") or "").strip()
            if row["level"] == "5" and text and float(row["conf"]) >= 0:
                left, top, width, height = (float(row[k]) for k in ("left", "top", "width", "height"))
                words.append(Word(text, (left, top, left + width, top + height), round(float(row["conf"]) / 100, 4)))
        return group_lines(words)
