"""A Latin-script PP-OCRv6 recogniser: the same network with its classifier cut down to the characters
a lab report can print.

PP-OCRv6's recogniser ends in one 120 x 18,710 MatMul (+ bias, + softmax) over every class of its
Chinese-and-everything dictionary. On a 48 x 160 crop that head, its bias add and softmax are about
a fifth of the recogniser's time, and PaddleX then copies the 18,710-wide output to decode it. Lab
reports here are Latin script, so at install time (`install_models`) we keep only the columns of
`LATIN_CHARACTERS` (and the CTC blank, and the space PaddleOCR appends). Every kept class has exactly the
weights it had: the network's reading is unchanged wherever its best class is a kept one; the old
decoder already masked CJK classes, so only readings as characters outside the subset (Cyrillic,
box drawing, emoji...) can differ. The full model stays installed (`OCR_REC_MODEL = "full"`).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

# Printable ASCII, Latin-1 and Latin Extended-A/B letters, the Greek alphabet (μ for micro, β-hCG,
# γ-GT), and the typographic symbols reports print: dashes (the en dash of "44 – 80" has its own
# class), quotes, bullets, per mille, primes, super/subscripts, °C/°F, Å, arrows and triangles as
# flags, and the comparison and minus signs.
LATIN_CHARACTERS = frozenset(
    [chr(c) for c in range(0x21, 0x7F)]
    + [chr(c) for c in range(0xA1, 0x250)]
    + [chr(c) for c in range(0x391, 0x3CA)]
    + list("‐‑–—―‘’‚“”„†‡•‥…‰′″‹›⁄⁰ⁱ⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎€℃℉№™Ω℧Å←↑→↓↔⇐⇑⇒⇓⇔")
    + list("−∓∙√∞∼≈≠≡≤≥≦≧≪≫⋅▲△▴▼▽▾◆◇○●■□✓✔✕✗✘")
)


def prune_classifier(
    model: onnx.ModelProto, characters: list[str], keep: frozenset[str]
) -> tuple[onnx.ModelProto, list[str]]:
    """`model` with its final MatMul + Add (+ Softmax) restricted to the CTC blank, the kept characters
    and the trailing space class; returns the new model and its character list (without blank and space).

    `characters` is the model's own list (its metadata "character"), in class order from class 1.
    """
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    softmax = graph.node[-1]
    if softmax.op_type != "Softmax" or softmax.output[0] != graph.output[0].name:
        raise ValueError("expected the recogniser to end in a Softmax over its classes")
    producers = {output: node for node in graph.node for output in node.output}
    add = _through_identity(producers, softmax.input[0])
    matmul = _through_identity(producers, add.input[0])
    if add.op_type != "Add" or matmul.op_type != "MatMul":
        raise ValueError("expected Softmax(MatMul(x, W) + b) at the end of the recogniser")
    weight, bias = initializers[matmul.input[1]], initializers[add.input[1]]
    w, b = numpy_helper.to_array(weight), numpy_helper.to_array(bias)
    if w.shape[1] != len(characters) + 2 or b.shape != (w.shape[1],):
        raise ValueError(f"classifier has {w.shape[1]} classes, dictionary {len(characters)} + blank + space")

    kept = [c for c in characters if c in keep]
    columns = [0] + [i + 1 for i, c in enumerate(characters) if c in keep] + [len(characters) + 1]
    weight.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w[:, columns]), weight.name))
    bias.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(b[columns]), bias.name))
    graph.output[0].type.tensor_type.shape.dim[-1].dim_value = len(columns)
    for info in graph.value_info:  # shapes recorded by the exporter for the head's intermediate outputs
        dims = info.type.tensor_type.shape.dim
        if dims and dims[-1].dim_value == w.shape[1]:
            dims[-1].dim_value = len(columns)
    for prop in model.metadata_props:
        if prop.key == "character":
            prop.value = "\n".join(kept)
    return model, kept


def _through_identity(producers: dict, name: str):
    node = producers[name]
    while node.op_type == "Identity":
        node = producers[node.input[0]]
    return node
