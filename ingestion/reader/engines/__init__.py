"""Engine registry: `get_engine(name)` imports the chosen engine's module only when asked and keeps
one loaded instance per process.

The cache remembers which process loaded each engine: a process forked after loading (a prefork
worker pool started from a loaded parent) gets fresh instances instead of the parent's ONNX
Runtime / Paddle thread pools, which do not survive fork. Still, load engines after forking
(e.g. in the worker's first task), not in the parent.
"""
from __future__ import annotations

import importlib
import os
import threading
from typing import Any, Callable

from ..config import reader_settings
from .base import OcrEngine

ENGINES = {
    "onnxruntime": "ingestion.reader.engines.paddle:onnxruntime_engine",
    "paddle_static": "ingestion.reader.engines.paddle:paddle_static_engine",
    "tesseract": "ingestion.reader.engines.tesseract:TesseractEngine",
}

_loaded: dict[str, tuple[int, Any]] = {}
_lock = threading.Lock()


def load_once(key: str, factory: Callable[[], Any]) -> Any:
    """The process-wide instance for `key`, built by `factory` on first use in this process."""
    with _lock:
        pid, instance = _loaded.get(key, (None, None))
        if pid != os.getpid():
            instance = factory()
            _loaded[key] = (os.getpid(), instance)
        return instance


def get_engine(name: str | None = None, *, threads: int | None = None) -> OcrEngine:
    settings = reader_settings()
    name = name or settings["OCR_ENGINE"]
    if name not in ENGINES:
        raise ValueError(f"unknown OCR engine {name!r}; choose one of {', '.join(ENGINES)}")
    threads = threads or settings["OCR_THREADS"]
    options = {"rec_model": settings["OCR_REC_MODEL"]} if name == "onnxruntime" else {}
    module_name, factory_name = ENGINES[name].split(":")

    def build() -> OcrEngine:
        return getattr(importlib.import_module(module_name), factory_name)(threads=threads, **options)

    return load_once(f"engine:{name}:{threads}:{options}", build)
