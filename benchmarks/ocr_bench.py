"""OCR reader benchmark: warm seconds per page, text-layer page time, worker peak memory, model FLOPs.

    .venv/bin/python benchmarks/ocr_bench.py [--engines onnxruntime,paddle_static,tesseract] [--runs 7]

Each engine runs in its own fresh process (a worker), so peak RSS is that engine's alone. The page
is the corpus's "classic" lab report rendered at 300 dpi (2550x3300, US letter), sent as PNG
through `read_document` exactly as an upload would be. Prints Markdown.
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
    from ingestion.corpus import LAYOUTS, render_page_images

    layout = LAYOUTS["classic"]
    page = render_page_images(layout.report(1), layout, dpi=300)[0]
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


def text_pdf() -> bytes:
    from ingestion.corpus import LAYOUTS, render_pdf

    layout = LAYOUTS["multipage"]
    return render_pdf(layout.report(1), layout)


def worker(engine: str, runs: int) -> dict:
    """Runs in a fresh process: time `runs` warm reads of the letter page, split by stage."""
    import numpy as np

    from ingestion.reader import read_document
    from ingestion.reader.engines import get_engine
    from ingestion.reader.images import image_pages
    from ingestion.reader.config import Limits
    from ingestion.reader.straighten import straighten

    if engine == "text-layer":
        data = text_pdf()
        pages = len(read_document(data).pages)
        walls = []
        for _ in range(runs * 3):
            started = time.perf_counter()
            read_document(data)
            walls.append((time.perf_counter() - started) / pages)
        return {"engine": "pdfplumber (text layer)", "p50": statistics.median(walls), "max": max(walls),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    data = letter_page_png()
    started = time.perf_counter()
    ocr = get_engine(engine)
    load = time.perf_counter() - started
    read_document(data, engine=engine)  # warm-up
    walls, cpus, straightens, detects = [], [], [], []
    image = next(iter(image_pages(data, "image/png", Limits())))
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        read_document(data, engine=engine)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        started = time.perf_counter()
        upright = straighten(image)
        straightens.append(time.perf_counter() - started)
        if hasattr(ocr, "detector"):
            started = time.perf_counter()
            next(iter(ocr.detector(np.ascontiguousarray(upright.image[:, :, ::-1]), limit_side_len=960, limit_type="max")))
            detects.append(time.perf_counter() - started)
    return {
        "engine": ocr.name, "load_s": load, "p50": statistics.median(walls), "min": min(walls), "max": max(walls),
        "cpu_p50": statistics.median(cpus), "straighten_p50": statistics.median(straightens),
        "detect_p50": statistics.median(detects) if detects else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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
    model.graph.output.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in sorted(exposed - existing))
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
    model = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                  if l.startswith("Model name")), platform.processor())
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, load average {load:.1f} at start"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="onnxruntime,paddle_static,tesseract")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.runs)))
        return
    print(f"Machine: {machine()}\n")
    print("| engine | p50 s/page | min / max | CPU s/page | straighten | detect | load s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for engine in [*args.engines.split(","), "text-layer"]:
        done = subprocess.run([sys.executable, __file__, "--worker", engine, "--runs", str(args.runs)],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            print(f"| {engine} | failed: {done.stderr.strip().splitlines()[-1:]} |||||||")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"| {r['engine']} | {fmt(r['p50'])} | {fmt(r.get('min'))} / {fmt(r['max'])} | {fmt(r.get('cpu_p50'))} | "
              f"{fmt(r.get('straighten_p50'))} | {fmt(r.get('detect_p50'))} | {fmt(r.get('load_s'))} | {r['peak_rss_mb']:.0f} |")
    from ingestion.reader.models import PP_OCRV6_SMALL_DET, PP_OCRV6_SMALL_REC, model_path

    det = onnx_gflops(model_path(PP_OCRV6_SMALL_DET) / "inference.onnx", [1, 3, 960, 736])
    rec = onnx_gflops(model_path(PP_OCRV6_SMALL_REC) / "inference.onnx", [1, 3, 48, 320])
    print(f"\nPP-OCRv6 small FLOPs: detector {det:.1f} GFLOP per page (960x736 input); "
          f"recogniser {rec:.2f} GFLOP per 48x320 crop ({rec / 320 * 1000:.2f} GFLOP per 1000 px of crop width).")


if __name__ == "__main__":
    main()
