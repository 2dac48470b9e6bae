"""Write docs/examples/report.pdf: the sample lab report the README's `$digitize` example sends.

Made by the project's own generator (evaluation.corpus, the "classic" layout) for the demo patient Ada
Okafor (demo-ada of `make run`'s demo data), so the example files its results under her chart without
a mismatch. Deterministic: running it again writes the same bytes.

    .venv/bin/python scripts/sample_report.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "examples" / "report.pdf"


def sample_pdf() -> bytes:
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf
    from ingestion.labreport import PatientHeader

    layout = LAYOUTS["classic"]
    report = layout.report(7)
    report.patient = PatientHeader(family="Okafor", given=["Ada"], birth_date="1968-04-12", sex="female",
                                   identifier="MRN-100234")
    return render_pdf(report, layout)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(sample_pdf())
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size:,} bytes)")
