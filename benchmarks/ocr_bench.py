"""OCR reader benchmark: warm seconds per page, text-layer page time, worker peak memory, model FLOPs.

    .venv/bin/python benchmarks/ocr_bench.py [--engines onnxruntime,onnxruntime:full,paddle_static,tesseract] [--runs 7]

Each engine runs in its own fresh process (a worker), so peak RSS is that engine's alone. The page
is the corpus's "classic" lab report rendered at 300 dpi (2550x3300, US letter), sent as PNG
through `read_document` exactly as an upload would be. `onnxruntime:full` is the onnxruntime engine
with OCR_REC_MODEL=full (the 18,710-class recogniser). Wall and CPU seconds are given per page and
per stage (CPU = user+system time of the worker and its children: every ONNX Runtime thread and the
tesseract binary included), because on
a shared machine only CPU seconds compare between runs. Prints Markdown.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def letter_page_png() -> bytes:
    from evaluation.corpus import LAYOUTS, render_page_images

    layout = LAYOUTS["classic"]
    page = render_page_images(layout.report(1), layout, dpi=300)[0]
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


def text_pdf() -> bytes:
    from evaluation.corpus import LAYOUTS, render_pdf

    layout = LAYOUTS["multipage"]
    return render_pdf(layout.report(1), layout)


def cpu_seconds() -> float:
    """User + system time of this process and of its finished children (the tesseract binary)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def worker(engine: str, runs: int) -> dict:
    """Runs in a fresh process: time `runs` warm reads of the letter page, split by stage."""
    import numpy as np

    if ":" in engine:
        engine, os.environ["OCR_REC_MODEL"] = engine.split(":")
    from ingestion.reader import read_document
    from ingestion.reader.config import Limits
    from ingestion.reader.crops import crops_from_polygons
    from ingestion.reader.engines import get_engine
    from ingestion.reader.images import image_pages
    from ingestion.reader.recogniser import Recogniser, batches, resized
    from ingestion.reader.straighten import straighten

    if engine == "text-layer":
        data = text_pdf()
        pages = len(read_document(data).pages)
        walls, cpus = [], []
        for _ in range(runs * 3):
            _, wall, cpu = timed(read_document, data)
            walls.append(wall / pages)
            cpus.append(cpu / pages)
        return {
            "engine": "pdfplumber (text layer)",
            "p50": statistics.median(walls),
            "min": min(walls),
            "max": max(walls),
            "cpu_p50": statistics.median(cpus),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loadavg_end": os.getloadavg()[0],
        }
    data = letter_page_png()
    started = time.perf_counter()
    ocr = get_engine(engine)
    load = time.perf_counter() - started
    read_document(data, engine=engine)  # warm-up
    stages: dict[str, list[tuple[float, float]]] = {"page": [], "straighten": [], "detect": [], "recognise": []}
    image = next(iter(image_pages(data, "image/png", Limits())))
    padded = None
    for _ in range(runs):
        stages["page"].append(timed(read_document, data, engine=engine)[1:])
        upright, *seconds = timed(straighten, image)
        stages["straighten"].append(seconds)
        if hasattr(ocr, "detector"):
            bgr = np.ascontiguousarray(upright.image[:, :, ::-1])
            found, *seconds = timed(
                lambda: next(iter(ocr.detector(bgr, limit_side_len=960, limit_type="max", box_thresh=0.5)))
            )
            stages["detect"].append(seconds)
            if isinstance(ocr.recognizer, Recogniser):
                crops = [c.image for c in crops_from_polygons(bgr, np.asarray(found["dt_polys"]).reshape(-1, 4, 2))]
                stages["recognise"].append(timed(ocr.recognizer.read, crops)[1:])
                widths = [resized(c).shape[2] for c in crops]
                padded = sum(len(b) * max(ocr.recognizer.min_width, max(widths[i] for i in b))
                             for b in batches(widths, min_width=ocr.recognizer.min_width))
    p50 = {name: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) if v else (None, None)
           for name, v in stages.items()}
    walls = [w for w, _ in stages["page"]]
    return {
        "engine": ocr.name, "load_s": load, "p50": p50["page"][0], "min": min(walls), "max": max(walls),
        "cpu_p50": p50["page"][1], "stages": p50, "rec_padded_px": padded,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg_end": os.getloadavg()[0],
    }


def onnx_gflops(path: Path, shape: list[int]) -> float:
    """2 x multiply-adds of Conv, ConvTranspose, MatMul and Gemm nodes for one input of `shape`.

    Shapes are measured, not inferred: the graph is run once by ONNX Runtime with every operand of
    those nodes exposed as an output (static shape inference cannot follow the attention reshapes).
    """
    import numpy as np
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    weights = {init.name: list(init.dims) for init in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose", "MatMul", "Gemm")]
    exposed = {name for n in nodes for name in (n.input[0], n.input[1], n.output[0]) if name not in weights}
    existing = {o.name for o in model.graph.output}
    model.graph.output.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in sorted(exposed - existing)
    )
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {session.get_inputs()[0].name: np.random.rand(*shape).astype(np.float32)})
    shapes = {**weights, **{name: list(v.shape) for name, v in zip(names, values)}}
    flops = 0
    for node in nodes:
        out, a, b = shapes[node.output[0]], shapes[node.input[0]], shapes[node.input[1]]
        if node.op_type == "Conv":
            flops += 2 * int(np.prod(out)) * int(np.prod(b[1:]))
        elif node.op_type == "ConvTranspose":
            flops += 2 * int(np.prod(a)) * int(np.prod(b[1:]))
        else:
            flops += 2 * int(np.prod(out)) * a[-1]
    return flops / 1e9


def machine() -> str:
    model = next(
        (
            row.split(":", 1)[1].strip()
            for row in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if row.startswith("Model name")
        ),
        platform.processor(),
    )
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, load average {load:.1f} at start"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="onnxruntime,onnxruntime:full,paddle_static,tesseract")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.runs)))
        return
    print(f"Machine: {machine()}\n")
    print(
        "| engine | p50 wall s/page | min / max | CPU s/page | straighten wall / CPU | detect wall / CPU "
        "| recognise wall / CPU | load s | peak RSS MB | load avg at end |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    padded = {}
    for engine in [*args.engines.split(","), "text-layer"]:
        done = subprocess.run([sys.executable, __file__, "--worker", engine, "--runs", str(args.runs)],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            print(f"| {engine} | failed: {done.stderr.strip().splitlines()[-1:]} |||||||||")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])

        def fmt(v):
            return "-" if v is None else f"{v:.3f}"

        def pair(stage):
            return "-" if not r.get("stages") or r["stages"][stage][0] is None else "{:.3f} / {:.3f}".format(
                *r["stages"][stage]
            )

        print(
            f"| {r['engine']} | {fmt(r['p50'])} | {fmt(r.get('min'))} / {fmt(r['max'])} | {fmt(r.get('cpu_p50'))} | "
            f"{pair('straighten')} | {pair('detect')} | {pair('recognise')} | {fmt(r.get('load_s'))} | "
            f"{r['peak_rss_mb']:.0f} | "
            f"{r.get('loadavg_end', os.getloadavg()[0]):.1f} |"
        )
        if r.get("rec_padded_px"):
            padded[r["engine"]] = r["rec_padded_px"]
    from ingestion.reader.models import PP_OCRV6_SMALL_DET, PP_OCRV6_SMALL_REC, PP_OCRV6_SMALL_REC_LATIN, model_path

    det = onnx_gflops(model_path(PP_OCRV6_SMALL_DET) / "inference.onnx", [1, 3, 960, 736])
    print(f"\nPP-OCRv6 small detector: {det:.1f} GFLOP per page (960x736 input).")
    for spec in (PP_OCRV6_SMALL_REC, PP_OCRV6_SMALL_REC_LATIN):
        rec = onnx_gflops(model_path(spec) / "inference.onnx", [1, 3, 48, 320])
        print(
            f"{spec.name}: {rec:.2f} GFLOP per 48x320 crop ({rec / 320 * 1000:.2f} GFLOP per 1000 px of crop width).",
            end="",
        )
        for name, px in padded.items():
            if (spec.name.endswith("latin")) == (not name.endswith("-full")):
                print(f" {name}: {px} px of recogniser input on the page = {rec / 320 * px:.0f} GFLOP.", end="")
        print()


if __name__ == "__main__":
    main()
