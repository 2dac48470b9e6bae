"""Two checkouts of the server on one data set: the search benchmark's queries (search_bench.QUERIES)
sent to both in turn, request by request, so both see the same machine load. Prints each query's
p50 in both, and the ratio B/A next to the same ratio of the yardstick (a read by id).

    SEARCH_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/search_bench \
        .venv/bin/python benchmarks/search_ab.py /path/to/checkout-a /path/to/checkout-b

Each checkout needs its `.venv` (a symlink will do). The database is loaded beforehand (search_bench.py
loads 100 patients into an empty one). AB_PORT (8793) and AB_PORT+1 are the two servers' ports.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_bench import BASELINE, QUERIES, loaded_patients  # noqa: E402
from server import bench_env, start_gunicorn  # noqa: E402


def timed(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    trees = [Path(a).resolve() for a in sys.argv[1:3]]
    port = int(os.environ.get("AB_PORT", "8793"))
    samples = int(os.environ.get("AB_SAMPLES", "80"))
    env = bench_env(os.environ["DATABASE_URL"])
    patients = loaded_patients()
    servers = [start_gunicorn(port + i, env, "-w", "1", root=tree) for i, tree in enumerate(trees)]
    try:
        shapes = {"read by id (yardstick)": BASELINE, **QUERIES}
        for make in shapes.values():  # warm both: first requests load definitions and plans
            for i in range(2):
                for s in range(2):
                    timed(f"http://127.0.0.1:{port + s}{make(patients[i])}")
        load = os.getloadavg()[0]
        print(f"A = {trees[0]}, B = {trees[1]}; {samples} requests per query and server, in turn; "
              f"load average {load:.1f} on {os.cpu_count()} cores at start\n")
        print("| query | A p50 (ms) | B p50 (ms) | B/A |")
        print("|---|---|---|---|")
        for name, make in shapes.items():
            times: list[list[float]] = [[], []]
            for i in range(samples):
                path = make(patients[(i * 7919) % len(patients)])
                for s in ((0, 1) if i % 2 == 0 else (1, 0)):  # alternate who goes first
                    times[s].append(timed(f"http://127.0.0.1:{port + s}{path}"))
            a, b = statistics.median(times[0]), statistics.median(times[1])
            print(f"| {name} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
        print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    finally:
        for server in servers:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
