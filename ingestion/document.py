"""The document tree: what the reader produces and every later stage reads.

Document -> Page -> Line -> Word, each with a box in page pixels (x0, y0, x1, y1; origin top-left)
and a confidence in [0, 1]. Text-layer pages carry confidence 1.0. The tree is plain data so it can
be stored as JSON with a job and drawn over the page image.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Box = tuple[float, float, float, float]
PageSource = Literal["text-layer", "ocr"]


@dataclass(frozen=True)
class Word:
    text: str
    box: Box
    confidence: float = 1.0


@dataclass
class Line:
    text: str
    box: Box
    confidence: float
    words: list[Word] = field(default_factory=list)


@dataclass
class Page:
    number: int  # 1-based
    width: float
    height: float
    source: PageSource
    rotation: int = 0  # degrees applied to straighten the page (0, 90, 180, 270)
    skew: float = 0.0  # degrees of deskew applied
    lines: list[Line] = field(default_factory=list)
    seconds: float = 0.0  # time spent reading this page

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


@dataclass
class Document:
    media_type: str
    pages: list[Page] = field(default_factory=list)
    engine: str = ""  # e.g. "paddleocr-onnx/PP-OCRv6_small" or "pdfplumber"

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Document":
        pages = []
        for p in data.get("pages", []):
            lines = [
                Line(
                    text=line["text"],
                    box=tuple(line["box"]),
                    confidence=line["confidence"],
                    words=[
                        Word(text=w["text"], box=tuple(w["box"]), confidence=w["confidence"])
                        for w in line.get("words", [])
                    ],
                )
                for line in p.get("lines", [])
            ]
            pages.append(Page(
                number=p["number"], width=p["width"], height=p["height"], source=p["source"],
                rotation=p.get("rotation", 0), skew=p.get("skew", 0.0), lines=lines, seconds=p.get("seconds", 0.0),
            ))
        return cls(media_type=data.get("media_type", ""), pages=pages, engine=data.get("engine", ""))
