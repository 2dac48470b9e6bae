"""The reader's stages on their own: straightening, model install, engine loading per process,
degradations and the evaluation metrics."""
import multiprocessing
import random

import numpy as np
import pytest
import yaml
from PIL import Image

from evaluation import ocr as evaluate
from evaluation.corpus.degrade import DEGRADATIONS
from ingestion.reader.engines import load_once
from ingestion.reader.install_models import install_all
from ingestion.reader.models import ALL_MODELS, PP_OCRV6_SMALL_DET, PP_OCRV6_SMALL_REC_LATIN, ModelMissing, model_path
from ingestion.reader.sniff import media_type
from ingestion.reader.straighten import estimate_orientation, find_page_quad, straighten

from .reader_samples import page_images, report_pdf


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return page_images(report_pdf(), dpi=150)[0]


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_quarter_turns_are_undone(page, turn):
    straight = straighten(np.asarray(page.rotate(turn, expand=True)))
    assert straight.rotation == turn
    assert straight.image.shape[:2] == (page.height, page.width)


@pytest.mark.parametrize("angle", [-4.0, -2.5, 1.5, 3.0, 7.0])
def test_skew_angle_is_measured(page, angle):
    skewed = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    quarter, skew = estimate_orientation(np.asarray(skewed.convert("L")))
    assert quarter == 0 and skew == pytest.approx(-angle, abs=0.25)


def test_a_flat_scan_is_not_dewarped(page):
    assert find_page_quad(np.asarray(page)) is None


def test_phone_photo_page_is_found_and_flattened(page):
    data, _ = DEGRADATIONS["phone-photo"](page, random.Random(11))
    from ingestion.reader.config import Limits
    from ingestion.reader.images import image_pages

    [photo] = list(image_pages(data, "image/jpeg", Limits()))
    straight = straighten(photo)
    assert straight.dewarped and straight.relit
    height, width = straight.image.shape[:2]
    assert abs(width / height - page.width / page.height) < 0.06  # the page's proportions are back
    gray = straight.image.mean(axis=2)
    paper = [np.percentile(gray[:, i * width // 4:(i + 1) * width // 4], 90) for i in range(4)]
    assert max(paper) - min(paper) < 20  # evenly lit after dividing out the lamp's falloff


def test_install_builds_paddlex_model_folders_idempotently(tmp_path):
    first = install_all(tmp_path)
    assert set(first) == {spec.name for spec in ALL_MODELS} | {"PP-OCRv6_small_rec_latin", "textline_cls.onnx"}
    assert install_all(tmp_path) == []  # nothing to do the second time
    for spec in [*ALL_MODELS, PP_OCRV6_SMALL_REC_LATIN]:
        config = yaml.safe_load((tmp_path / spec.name / "inference.yml").read_text())
        # the Latin recogniser keeps the name of its architecture, which PaddleX knows
        assert config["Global"]["model_name"] == spec.name.removesuffix("_latin")
        if spec.kind == "rec":
            characters = config["PostProcess"]["character_dict"]
            assert {"A", "z", "0", "%", "/", "^", "<", ">"} <= set(characters)


def test_missing_model_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("OCR_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelMissing) as error:
        model_path(PP_OCRV6_SMALL_DET)
    assert "make install" in str(error.value) and "install_models" in str(error.value)



def _load_in_child(queue):
    instance = load_once("test-per-process", lambda: {"pid": multiprocessing.current_process().pid})
    queue.put(instance["pid"])


def test_engines_are_reloaded_in_a_forked_process():
    parent = load_once("test-per-process", lambda: {"pid": multiprocessing.current_process().pid})
    assert load_once("test-per-process", lambda: {"pid": -1}) is parent  # cached in this process
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_load_in_child, args=(queue,))
    child.start()
    child.join(30)
    assert queue.get(timeout=5) == child.pid  # the child built its own instead of reusing the parent's


@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_degradations_produce_files_the_reader_accepts(page, name):
    data, kind = DEGRADATIONS[name](page, random.Random(5))
    assert media_type(data) == kind
    again, _ = DEGRADATIONS[name](page, random.Random(5))
    assert again == data  # reproducible from the seed


def test_skew_degradation_is_two_to_four_degrees(page):
    for seed in range(4):
        data, _ = DEGRADATIONS["skew"](page, random.Random(seed))
        image = Image.open(__import__("io").BytesIO(data)).convert("L")
        _, skew = estimate_orientation(np.asarray(image))
        assert 1.9 <= abs(skew) <= 4.1


@pytest.mark.parametrize("a,b", [("kitten", "sitting"), ("", "abc"), ("µg/dL", "ug/dL"), ("13.5 g/dL", "13.5 g/dL"),
                                 ("flaw", "lawn"), ("x10^3/uL", "x10~3/ul")])
def test_edit_distance(a, b):
    def reference(s, t):
        row = list(range(len(t) + 1))
        for i, cs in enumerate(s, 1):
            previous, row[0] = row[0], i
            for j, ct in enumerate(t, 1):
                previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (cs != ct))
        return row[-1]

    assert evaluate.edit_distance(a, b) == reference(a, b)


def test_scores_count_exact_cells_in_the_matching_row():
    case = evaluate.Case(
        "x",
        1,
        1,
        "clean-300dpi",
        b"",
        ["Report", "Hemoglobin 13.5 g/dL 13.0-17.0", "WBC 7.2 x10^3/uL 4.0-11.0"],
        [["Hemoglobin", "13.5", "g/dL", "13.0-17.0"], ["WBC", "7.2", "x10^3/uL", "4.0-11.0"]],
    )
    perfect = evaluate.score_page(case.truth_lines, case)
    assert perfect[:4] == (0.0, 8, 8, 8)
    cer, exact, folded, total, misses = evaluate.score_page(
        ["Report", "Hemoglobin 13.5 g/dL 13.0-17.0", "WBC 7.2 x10~3/uL 4.0-11.0"], case
    )
    assert (exact, folded, total) == (7, 7, 8) and len(misses) == 1 and "x10^3/uL" in misses[0]
    assert cer == pytest.approx(1 / len("\n".join(case.truth_lines)))


def test_dash_folding_is_a_separate_figure():
    case = evaluate.Case("x", 1, 1, "clean-300dpi", b"", ["Hemoglobin 13.5 g/dL 13.0 \u2013 17.0"],
                         [["Hemoglobin", "13.5", "g/dL", "13.0 \u2013 17.0"]])
    cer, exact, folded, total, misses = evaluate.score_page(["Hemoglobin 13.5 g/dL 13.0 - 17.0"], case)
    assert (exact, folded, total) == (3, 4, 4)  # strict counts the hyphen as a miss; folded does not
    assert misses == ["'13.0 \u2013 17.0' in 'Hemoglobin 13.5 g/dL 13.0 - 17.0'"]
