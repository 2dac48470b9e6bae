"""The one interface every OCR engine implements.

An engine takes a straightened page image (H x W x 3 uint8, RGB) and returns text lines with boxes
in that image's pixels. Engines are imported only when chosen (`engines.get_engine`) and loaded
once per process; load them after a worker forks, never before.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ingestion.document import Line


class OcrEngine(Protocol):
    name: str  # e.g. "paddleocr-onnx/PP-OCRv6_small"

    def read(self, image: np.ndarray) -> list[Line]: ...
