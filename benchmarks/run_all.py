"""`make bench`: every benchmark script in this folder, one after the other (each prints Markdown)."""
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
only = os.environ.get("BENCH_ONLY")
for script in sorted(HERE.glob("*_bench.py")):
    if only and only not in script.name:
        continue
    print(f"\n## {script.stem}\n", flush=True)
    subprocess.run([sys.executable, str(script)], check=False)
