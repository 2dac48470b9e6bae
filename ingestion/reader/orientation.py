"""PaddleOCR's 0/180-degree text-line classifier (ch_ppocr_mobile_v2.0_cls, ONNX), run directly.

Input: crops of text lines, each resized to 48 px high into a 48x192 canvas (the model's shape),
scaled to [-1, 1]. Output: per crop, the probability it is upside down; we return the mean.
"""
from __future__ import annotations

import cv2
import numpy as np

from .engines import load_once
from .models import textline_classifier_path

HEIGHT, WIDTH = 48, 192


def _session():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # tiny model: one thread is enough and never contends with OCR
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(textline_classifier_path()), options, providers=["CPUExecutionProvider"])


def upside_down_votes(crops: list[np.ndarray]) -> float:
    batch = np.zeros((len(crops), 3, HEIGHT, WIDTH), dtype=np.float32)
    for i, crop in enumerate(crops):
        if crop.size == 0:
            continue
        width = min(WIDTH, max(1, int(round(HEIGHT * crop.shape[1] / crop.shape[0]))))
        resized = cv2.resize(crop, (width, HEIGHT)).astype(np.float32) / 255.0
        batch[i, :, :, :width] = (resized - 0.5) / 0.5
    session = load_once("textline-orientation", _session)
    probabilities = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return float(probabilities[:, 1].mean())
