"""PaddleOCR 3.7 (PP-OCR detection + recognition) on either of its two CPU runtimes.

- `onnxruntime`: PP-OCRv6 small as ONNX. Detection is PaddleOCR's predictor on its ONNX Runtime
  engine; recognition calls the PP-OCRv6 recogniser's ONNX Runtime session directly
  (`crops.py` + `recogniser.py`: PaddleOCR's pre- and post-processing, without PaddleX's
  per-batch wrapping, which cost ~0.6 s a page), by default on the Latin-script recogniser
  (`prune.py`; `OCR_REC_MODEL = "full"` for the 18,710-class original).
- `paddle_static`: PP-OCRv4 mobile as Paddle inference models on paddlepaddle 3.3. Its default oneDNN
  path crashes in predict() on 3.3.1 (ConvertPirAttribute2RuntimeAttribute); the old IR with
  `run_mode="mkldnn"` works and is fast.

After recognition, three page-level steps (docs/ocr.md): regions read with low confidence are read
again with margins (`reread.py`), the dashes and spaces of the page's ranges are settled from the
recogniser's pooled evidence (`dashes.py`), and glyphs the detector missed are found on the full
page and read (`marks.py`).

We run PaddleOCR's detection and recognition predictors ourselves (see `crops.py` for why);
orientation, unwarping and text-line classification are done by our straightening stage, so
PaddleOCR's are off. The detector sees the page at most 960 px on its long side (measured: half
the time of full resolution, no loss); recognition crops come from the full-resolution page.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ingestion.document import Line, Word

from ..crops import Crop, crops_from_boxes, crops_from_polygons, width_batches
from ..dashes import settle_range_dashes
from ..lines import group_lines, split_region
from ..marks import MIN_CONFIDENCE as MARK_MIN_CONFIDENCE
from ..marks import missed_marks
from ..models import (
    PP_OCRV4_MOBILE_DET,
    PP_OCRV4_MOBILE_REC,
    PP_OCRV6_SMALL_DET,
    PP_OCRV6_SMALL_REC,
    PP_OCRV6_SMALL_REC_LATIN,
    ModelSpec,
    model_path,
)
from ..recogniser import Reading, Recogniser
from ..reread import ACCEPT as REREAD_ACCEPT
from ..reread import unsure, with_margins

# Narrow crops are padded to this width (PaddleX pads to 320). Recognition time grows with padded
# width; 160 keeps single characters ("H", "%") readable at half the cost.
REC_MIN_WIDTH = 160
DET_LIMIT_SIDE = 960
# A lone flag letter ("L", "H") scores 0.5-0.6 at 960 px; PaddleOCR's 0.6 drops it.
DET_BOX_THRESH = 0.5
# Full-width forms the Chinese-trained charset emits for ASCII punctuation ("：" for ":"), and the
# Greek mu it reads for the micro sign in "µg/dL" (the two glyphs are identical on paper).
TEXT_FIXES = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x03BC: 0x00B5}
# Lab reports here are in Latin script: CJK, kana and hangul classes are masked before decoding, so
# a lone "H" cannot come out as "工". Everything below U+2E80 (Latin, Greek, symbols, arrows) stays.
FIRST_CJK = 0x2E80


@dataclass
class PaddleEngine:
    name: str
    detector: Any  # PaddleX text-detection predictor
    recognizer: Any  # PaddleX text-recognition predictor, or our Recogniser (ONNX Runtime called directly)
    min_width: int = REC_MIN_WIDTH

    def __post_init__(self) -> None:
        if not isinstance(self.recognizer, Recogniser):
            self.recognizer.pre_tfs["ReisizeNorm"].rec_image_shape = [3, 48, self.min_width]

    def read(self, image: np.ndarray) -> list[Line]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # PaddleOCR's predictors expect BGR
        found = next(
            iter(self.detector(bgr, limit_side_len=DET_LIMIT_SIDE, limit_type="max", box_thresh=DET_BOX_THRESH))
        )
        crops = crops_from_polygons(bgr, np.asarray(found["dt_polys"]).reshape(-1, 4, 2))
        boxes = [crop.box for crop in crops]
        readings = self.recognise(crops)
        # Second looks and missed marks are read in batches of their own: a batch's padding nudges
        # readings, so extra crops in the detected text's batches would change what it reads as.
        again = unsure(readings)
        wider = crops_from_boxes(bgr, [with_margins(boxes[i], boxes, bgr.shape[1], bgr.shape[0]) for i in again])
        for index, reading in zip(again, self.recognise(wider)):
            if reading.confidence >= REREAD_ACCEPT and reading.confidence > readings[index].confidence:
                readings[index] = reading
        words = self.words(crops, settle_range_dashes(readings), readings)
        marks = crops_from_boxes(bgr, missed_marks(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), boxes))
        mark_readings = self.recognise(marks)
        words += self.words(marks, [r.text for r in mark_readings], mark_readings, min_confidence=MARK_MIN_CONFIDENCE)
        return group_lines(words)

    def recognise(self, crops: list[Crop]) -> list[Reading]:
        if not crops:
            return []
        if isinstance(self.recognizer, Recogniser):
            return self.recognizer.read([crop.image for crop in crops])
        readings = [Reading("", 0.0)] * len(crops)
        for batch in width_batches(crops, min_width=self.min_width):
            self.recognizer.batch_sampler.batch_size = len(batch)
            for index, result in zip(batch, self.recognizer([crops[i].image for i in batch])):
                readings[index] = Reading(result["rec_text"], float(result["rec_score"]))
        return readings

    @staticmethod
    def words(
        crops: list[Crop], texts: list[str], readings: list[Reading], *, min_confidence: float = 0.0
    ) -> list[Word]:
        words = []
        for crop, text, reading in zip(crops, texts, readings):
            text = text.translate(TEXT_FIXES).strip()
            if text and reading.confidence >= min_confidence:
                words += split_region(text, crop.box, round(reading.confidence, 4))
        return words


class LatinDecode:
    """PaddleX's CTC decoder, fed probabilities with non-Latin-script classes zeroed."""

    def __init__(self, decoder: Any):
        self.decoder = decoder
        self.masked = np.array([len(c) == 1 and ord(c) >= FIRST_CJK for c in decoder.character])

    def __call__(self, pred: list, **kwargs: Any):
        probabilities = np.array(pred[0])
        probabilities[..., self.masked] = 0.0
        return self.decoder([probabilities, *pred[1:]], **kwargs)


def build(runtime: str, det: ModelSpec, rec: ModelSpec, engine_config: dict, *, threads: int) -> PaddleEngine:
    det_dir, rec_dir = model_path(det), model_path(rec)  # ModelMissing with install advice, before the heavy import
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # never reach for a model hub
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from paddleocr import PaddleOCR

    pipeline = PaddleOCR(
        text_detection_model_name=det.name, text_detection_model_dir=str(det_dir),
        text_recognition_model_name=rec.name, text_recognition_model_dir=str(rec_dir),
        use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
        text_det_limit_side_len=DET_LIMIT_SIDE, text_det_limit_type="max",
        engine=runtime, engine_config=engine_config,
    ).paddlex_pipeline
    recognizer = pipeline.text_rec_model
    recognizer.post_op = LatinDecode(recognizer.post_op)
    return PaddleEngine(f"paddleocr-{runtime}/{det.name.removesuffix('_det')}", pipeline.text_det_model, recognizer)


REC_MODELS = {"latin": PP_OCRV6_SMALL_REC_LATIN, "full": PP_OCRV6_SMALL_REC}


def onnxruntime_engine(*, threads: int, rec_model: str = "latin") -> PaddleEngine:
    import onnxruntime
    import yaml

    if rec_model not in REC_MODELS:
        raise ValueError(f"unknown OCR_REC_MODEL {rec_model!r}; choose one of {', '.join(REC_MODELS)}")
    det_dir, rec_dir = model_path(PP_OCRV6_SMALL_DET), model_path(REC_MODELS[rec_model])
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # never reach for a model hub
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from paddleocr import TextDetection

    detector = TextDetection(
        model_name=PP_OCRV6_SMALL_DET.name, model_dir=str(det_dir), limit_side_len=DET_LIMIT_SIDE, limit_type="max",
        engine="onnxruntime", engine_config={"intra_op_num_threads": threads, "inter_op_num_threads": 1},
    ).paddlex_predictor
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1  # the default is one per core
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: on the shared 2 cores spinning cost 24 % more CPU
    # for the same page and was no faster (measured at load ~12).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(rec_dir / "inference.onnx"), options, providers=["CPUExecutionProvider"])
    characters = yaml.safe_load((rec_dir / "inference.yml").read_text(encoding="utf-8"))["PostProcess"][
        "character_dict"
    ]
    latin = np.array([len(c) != 1 or ord(c) < FIRST_CJK for c in characters])
    recogniser = Recogniser(session, characters, allowed=None if latin.all() else latin, min_width=REC_MIN_WIDTH)
    suffix = "" if rec_model == "latin" else "-full"  # the default keeps the name documents have carried so far
    return PaddleEngine(f"paddleocr-onnxruntime/PP-OCRv6_small{suffix}", detector, recogniser)


def paddle_static_engine(*, threads: int) -> PaddleEngine:
    config = {"run_mode": "mkldnn", "enable_new_ir": False, "cpu_threads": threads}
    return build("paddle_static", PP_OCRV4_MOBILE_DET, PP_OCRV4_MOBILE_REC, config, threads=threads)
