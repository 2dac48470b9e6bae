"""A text-layer PDF straight to a `Document` with pdfplumber, for corpus checks that need no OCR.

The reader (`ingestion.reader.read_document`) does this and much more for real uploads; this small
adapter lets understanding be tested and evaluated on the exact text of generated reports.
"""
from __future__ import annotations

import io

from ingestion.document import Document, Line, Page, Word


def text_layer_document(pdf: bytes) -> Document:
    import pdfplumber

    pages = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for number, p in enumerate(doc.pages, 1):
            words = p.extract_words(keep_blank_chars=False, use_text_flow=False, x_tolerance=1.5)
            lines: list[Line] = []
            for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
                word = Word(w["text"], (w["x0"], w["top"], w["x1"], w["bottom"]), 1.0)
                last = lines[-1] if lines else None
                if last and abs(last.box[1] - w["top"]) < 2 and w["x0"] - last.box[2] < 6:
                    last.words.append(word)
                    last.text += " " + w["text"]
                    last.box = (last.box[0], min(last.box[1], w["top"]), w["x1"], max(last.box[3], w["bottom"]))
                else:
                    lines.append(Line(w["text"], word.box, 1.0, [word]))
            pages.append(Page(number=number, width=float(p.width), height=float(p.height), source="text-layer",
                              lines=lines))
    return Document(media_type="application/pdf", pages=pages, engine="pdfplumber")
