"""PP-OCR text-line recognition on ONNX Runtime, called directly: crops in, (text, confidence) out.

The pre- and post-processing are PaddleOCR's (PaddleX `OCRReisizeNormImg` + `CTCLabelDecode`):
each crop resized to 48 px high keeping its aspect, scaled to [-1, 1], padded on the right with 0;
greedy CTC decoding (best class per time step, repeats collapsed, blanks dropped), confidence = mean
probability of the kept steps. What we do differently, and why:

- crops are batched by width (`batches`) instead of padding a batch to its widest, and narrow crops
  are padded to `min_width` (160 px), not 320;
- no per-batch Python objects: PaddleX's predictor wraps every call in result dicts and copies the
  output, which on the 18,710-class model cost ~0.6 s a page.

Tried and not kept: packing several short crops into one input with white gaps and splitting the
time steps at the gaps. It saved ~6 % of recognition CPU on the corpus but changed 88 of 1,265
readings (the network's attention sees the neighbours: "Cl" -> "CI", "u/l" -> "u/1", lost spaces).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import cv2
import numpy as np

HEIGHT = 48
MAX_WIDTH = 3200  # PaddleX's cap
MAX_BATCH_PIXELS = 16 * 320  # input width summed over a batch (at 48 px high)


def resized(crop: np.ndarray) -> np.ndarray:
    """The crop 48 px high, width from its aspect (PaddleX: ceil, at most MAX_WIDTH), as float [-1, 1] CHW."""
    height, width = crop.shape[:2]
    target = min(MAX_WIDTH, max(1, math.ceil(HEIGHT * width / max(height, 1))))
    image = cv2.resize(crop, (target, HEIGHT)).astype(np.float32)
    return (image.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5


def batches(widths: list[int], *, min_width: int) -> list[list[int]]:
    """Crop indices grouped by similar width, each batch at most MAX_BATCH_PIXELS wide in total."""
    out: list[list[int]] = []
    for index in sorted(range(len(widths)), key=widths.__getitem__):
        width = max(widths[index], min_width)
        if out and (len(out[-1]) + 1) * width <= MAX_BATCH_PIXELS:
            out[-1].append(index)  # sorted, so this crop is the widest of its batch
        else:
            out.append([index])
    return out


class Dash(NamedTuple):
    """The model's own evidence about one hyphen or en dash it read, pooled per page in `dashes.py`."""
    en_dash_odds: float  # log10 p(en dash) / p(hyphen), each class's best probability over the dash's steps
    space_before: float  # log10 of the best p(space) between the character before and the dash
    space_after: float  # the same between the dash and the character after


class Reading(NamedTuple):
    text: str
    confidence: float
    dashes: tuple[Dash, ...] = ()  # one per hyphen or en dash in `text`, in order


DASHES = ("-", "\u2013")  # hyphen-minus, en dash


class Recogniser:
    def __init__(self, session: Any, characters: list[str], *, allowed: np.ndarray | None = None,
                 min_width: int = 160):
        """`allowed`: per character, whether it may be read (None: all); the others are masked before decoding."""
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.characters = ["", *characters, " "]  # CTC blank first, space last (PaddleOCR's convention)
        self.masked = None if allowed is None else ~np.concatenate([[True], allowed, [True]])
        self.min_width = min_width
        self.dash_classes = [self.characters.index(d) for d in DASHES] if set(DASHES) <= set(self.characters) else None

    def read(self, crops: list[np.ndarray]) -> list[Reading]:
        images = [resized(crop) for crop in crops]
        results = [Reading("", 0.0)] * len(crops)
        for batch in batches([image.shape[2] for image in images], min_width=self.min_width):
            width = max(self.min_width, max(images[i].shape[2] for i in batch))
            x = np.zeros((len(batch), 3, HEIGHT, width), dtype=np.float32)
            for row, index in enumerate(batch):
                x[row, :, :, :images[index].shape[2]] = images[index]
            probabilities = self.session.run(None, {self.input_name: x})[0]
            if self.masked is not None:
                probabilities[..., self.masked] = 0.0
            best, confidence = probabilities.argmax(axis=2), probabilities.max(axis=2)
            for row, index in enumerate(batch):
                results[index] = self.decode(best[row], confidence[row], probabilities[row])
        return results

    def decode(self, best: np.ndarray, confidence: np.ndarray, probabilities: np.ndarray | None = None) -> Reading:
        keep = np.ones(len(best), dtype=bool)
        keep[1:] = best[1:] != best[:-1]
        keep &= best != 0
        if not keep.any():
            return Reading("", 0.0)
        text = "".join(self.characters[i] for i in best[keep])
        return Reading(text, float(confidence[keep].mean()), self.dash_evidence(best, probabilities))

    def dash_evidence(self, best: np.ndarray, probabilities: np.ndarray | None) -> tuple[Dash, ...]:
        if self.dash_classes is None or probabilities is None or not np.isin(best, self.dash_classes).any():
            return ()  # most regions hold no dash: no walk over their time steps
        hyphen, en_dash = self.dash_classes
        space = len(self.characters) - 1
        runs = []  # (class, first step, last step) of every character read, spaces included
        t = 0
        while t < len(best):
            end = t
            while end + 1 < len(best) and best[end + 1] == best[t]:
                end += 1
            if best[t] != 0:
                runs.append((int(best[t]), t, end))
            t = end + 1
        log = lambda p: float(np.log10(p + 1e-12))  # noqa: E731
        dashes = []
        for i, (cls, start, end) in enumerate(runs):
            if cls not in (hyphen, en_dash):
                continue
            steps = probabilities[start:end + 1]
            before = next((r for r in reversed(runs[:i]) if r[0] != space), None)
            after = next((r for r in runs[i + 1:] if r[0] != space), None)
            gap_before = probabilities[before[2] + 1:start, space] if before else probabilities[:start, space]
            gap_after = probabilities[end + 1:after[1], space] if after else probabilities[end + 1:, space]
            dashes.append(Dash(log(steps[:, en_dash].max()) - log(steps[:, hyphen].max()),
                               log(gap_before.max(initial=0.0)), log(gap_after.max(initial=0.0))))
        return tuple(dashes)
