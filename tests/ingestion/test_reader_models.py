"""The installed model folders: the Latin-script PP-OCRv6 recogniser built by install_models from the
full one, its character list, and that it reads a clean page exactly as the full model does."""
import numpy as np
import onnx
import pytest
import yaml
from onnx import numpy_helper

from ingestion.reader import read_document
from ingestion.reader.engines.paddle import onnxruntime_engine
from ingestion.reader.models import PP_OCRV6_SMALL_REC, PP_OCRV6_SMALL_REC_LATIN, model_path
from ingestion.reader.prune import LATIN_CHARACTERS, prune_classifier
from ingestion.reader.recogniser import MAX_BATCH_PIXELS, Recogniser, batches

from .reader_samples import ROWS, contains_sequence, encode, page_images, report_pdf

# What lab reports print beyond ASCII: micro (both code points), degree, plus-minus, comparisons,
# dashes, multiplication, superscripts, arrows used as flags, per mille, accented letters.
NEEDED = "µμ°±≤≥–—−×^²³↑↓‰éüñß"


def characters(folder):
    return yaml.safe_load((folder / "inference.yml").read_text(encoding="utf-8"))["PostProcess"]["character_dict"]


def head(model):
    initializers = {i.name: i for i in model.graph.initializer}
    matmul = next(n for n in reversed(model.graph.node) if n.op_type == "MatMul")
    return numpy_helper.to_array(initializers[matmul.input[1]])


def test_latin_dictionary_has_the_symbols_of_lab_reports_and_no_cjk():
    folder = model_path(PP_OCRV6_SMALL_REC_LATIN)
    latin = characters(folder)
    assert set(NEEDED) <= set(latin)
    assert set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz%/<>=.,:;()[]*+-") <= set(latin)
    assert not any(0x2E80 <= ord(c) for c in latin)  # no CJK, kana, hangul, full-width forms
    assert len(latin) < 1000 < len(characters(model_path(PP_OCRV6_SMALL_REC)))
    model = onnx.load(str(folder / "inference.onnx"))
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["character"].split("\n") == latin  # yml and the model's own metadata agree
    assert head(model).shape[1] == len(latin) + 2  # CTC blank + characters + space


def test_pruned_classifier_keeps_each_kept_class_weights_unchanged():
    folder = model_path(PP_OCRV6_SMALL_REC)
    full_chars = characters(folder)
    full = head(onnx.load(str(folder / "inference.onnx")))
    pruned, kept = prune_classifier(onnx.load(str(folder / "inference.onnx")), full_chars, LATIN_CHARACTERS)
    columns = [0] + [full_chars.index(c) + 1 for c in kept] + [len(full_chars) + 1]
    np.testing.assert_array_equal(head(pruned), full[:, columns])
    assert kept == [c for c in full_chars if c in LATIN_CHARACTERS]


def test_pruned_and_full_recognisers_read_a_clean_page_the_same():
    page = page_images(report_pdf(font="Times-Roman"), dpi=300)[0]
    image = np.asarray(page.convert("RGB"))
    latin, full = onnxruntime_engine(threads=2), onnxruntime_engine(threads=2, rec_model="full")
    latin_lines, full_lines = latin.read(image), full.read(image)
    assert [line.text for line in latin_lines] == [line.text for line in full_lines]
    words = [w.text for line in latin_lines for w in line.words]
    missing = [cell for row in ROWS for cell in row[:3] if not contains_sequence(words, cell)]
    assert missing == []


def test_full_recogniser_is_a_setting(monkeypatch):
    monkeypatch.setenv("OCR_REC_MODEL", "full")
    document = read_document(
        encode(page_images(report_pdf(font="Times-Roman"), dpi=200)[0], "PNG"), engine="onnxruntime"
    )
    assert document.engine == "paddleocr-onnxruntime/PP-OCRv6_small-full"
    monkeypatch.setenv("OCR_REC_MODEL", "chinese")
    with pytest.raises(ValueError, match="OCR_REC_MODEL"):
        read_document(encode(page_images(report_pdf(font="Times-Roman"), dpi=200)[0], "PNG"), engine="onnxruntime")


class _Session:
    """Stands in for an ONNX Runtime session: returns fixed class probabilities per time step."""

    def __init__(self, steps):
        self.steps = steps

    def get_inputs(self):
        return [type("Input", (), {"name": "x"})()]

    def run(self, _, feeds):
        batch = feeds["x"].shape[0]
        probabilities = np.zeros((batch, len(self.steps), 5), dtype=np.float32)
        for t, (index, p) in enumerate(self.steps):
            probabilities[:, t, index] = p
        return [probabilities]


def test_ctc_decoding_collapses_repeats_drops_blanks_and_masks():
    # classes: 0 blank, 1 "a", 2 "b", 3 "工", 4 space
    recogniser = Recogniser(
        _Session([(1, 0.9), (1, 0.8), (0, 1.0), (1, 0.7), (4, 0.6), (2, 0.5), (3, 0.9)]),
        ["a", "b", "工"],
        allowed=np.array([True, True, False]),
    )
    [(text, confidence, dashes)] = recogniser.read([np.full((30, 60, 3), 255, np.uint8)])
    assert dashes == ()  # this alphabet has no dashes
    assert text == "aa b"  # a a -> a; blank separates the second a; the masked 工 is not read
    assert confidence == pytest.approx((0.9 + 0.7 + 0.6 + 0.5) / 4)


def test_batches_group_similar_widths_within_the_pixel_budget():
    widths = [40, 3000, 150, 700, 90, 800]
    groups = batches(widths, min_width=160)
    assert sorted(i for group in groups for i in group) == list(range(len(widths)))
    for group in groups:
        widest = max(max(widths[i] for i in group), 160)
        assert len(group) * widest <= MAX_BATCH_PIXELS or len(group) == 1
    assert [1] in groups  # the 3000 px region is not padded onto narrow ones


def test_each_dash_carries_the_models_evidence_for_an_en_dash_and_for_spaces_around_it():
    # classes: 0 blank, 1 "1", 2 "-", 3 "–", 4 space
    steps = [(1, 0.9), (0, 1.0), (4, 0.7), (2, 0.8), (0, 0.9), (1, 0.9)]
    recogniser = Recogniser(_Session(steps), ["1", "-", "\u2013"])
    [(text, _, [dash])] = recogniser.read([np.full((30, 60, 3), 255, np.uint8)])
    assert text == "1 -1"
    assert dash.space_before == pytest.approx(np.log10(0.7), abs=1e-6)  # the space it read
    assert dash.space_after < -10  # no probability of a space at all
    assert dash.en_dash_odds < -10  # all of it on the hyphen
