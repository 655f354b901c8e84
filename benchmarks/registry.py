"""Benchmark the registry: add and search time against registry size (100 / 1,000 / 10,000 entries).

Entries are synthetic fingerprints (:mod:`heredity.registry.synthetic`): ``--bases`` random llama-layout
models (hidden 32, 2 layers, vocab 256) and noisy copies of them, so each base has many related entries
and most entries are independent of any given query.  The registry grows in one file; at each size the
mean time of one ``add`` (the adds since the previous size) and the time of ``--queries`` searches (a
fresh noisy copy of a base as query) are measured, plus what the search compared in full.

    python benchmarks/registry.py [--sizes 100,1000,10000] [--bases 50] [--queries 3] [--dir /tmp/heredity-registry-bench]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from heredity.registry.search import search
from heredity.registry.store import Registry
from heredity.registry.synthetic import base_fingerprint, derived_fingerprint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="Registry sizes to measure at (comma-separated).")
    ap.add_argument("--bases", type=int, default=50, help="Independent base models among the entries.")
    ap.add_argument("--queries", type=int, default=3, help="Searches timed at each size.")
    ap.add_argument("--dir", default="/tmp/heredity-registry-bench", help="Scratch folder (emptied first).")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    folder = Path(args.dir)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    bases = [base_fingerprint(1000 + i) for i in range(args.bases)]
    rows = []
    with Registry(folder / "registry.db") as reg:
        n = 0
        for size in sizes:
            add_times = []
            while n < size:
                fp = bases[n] if n < len(bases) else derived_fingerprint(bases[n % len(bases)], seed=n)
                t = time.perf_counter()
                reg.add(fp, source=f"synthetic-{n}", name=f"entry-{n}")
                add_times.append(time.perf_counter() - t)
                n += 1
            search_times, compared, found = [], [], 0
            for q in range(args.queries):
                base = (7 * q + 3) % len(bases)
                query = derived_fingerprint(bases[base], seed=10_000_000 + q)
                t = time.perf_counter()
                res = search(reg, query)
                search_times.append(time.perf_counter() - t)
                compared.append(len(res.matches))
                found += bool(res.matches) and res.matches[0].verdict == "related"
            db_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
            rows.append((size, statistics.mean(add_times) * 1e3, statistics.median(search_times),
                         max(search_times), statistics.mean(compared), f"{found}/{args.queries}", db_mb))
    table = Table(title="heredity registry: add and search time against registry size")
    for col in ("entries", "add (ms, mean)", "search (s, median)", "search (s, max)", "search / smallest",
                "compared in full", "top match related", "db (MiB)"):
        table.add_column(col, justify="right")
    first = rows[0][2]
    for size, add_ms, s_med, s_max, comp, found_s, mb in rows:
        table.add_row(f"{size:,}", f"{add_ms:.2f}", f"{s_med:.2f}", f"{s_max:.2f}", f"{s_med / first:.2f}",
                      f"{comp:.0f}", found_s, f"{mb:.0f}")
    Console(width=140).print(table)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
