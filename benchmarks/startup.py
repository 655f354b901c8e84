"""Start-up time of the command line: ``heredity --version``, ``--help`` and a compare of two tiny models.

Each command runs as a fresh process, ``--runs`` times, round-robin (so every command sees the same
machine load), after one warm-up round; the median and the minimum wall time are printed, hyperfine
style.  The tiny pair is two bundled examples re-saved as bf16 (the stored type of real checkpoints).

When modeldna is installed in its own venv (``--modeldna-venv``; ``--install-modeldna`` creates it
with ``python3 -m venv`` + ``pip install modeldna``), its ``compare`` of the same pair runs in the same
rounds and the ratio is printed.  ``--baseline-src DIR`` also times another heredity source tree
(e.g. the main branch's ``src``) in the same rounds, for before/after figures.

    python benchmarks/startup.py [--runs 10] [--modeldna-venv /tmp/mdna] [--install-modeldna]
                                 [--baseline-src /path/to/other/src]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "models"
PAIR = ("qwen2-base", "qwen2-moge-upcycled")


def make_pair(folder: Path) -> tuple[Path, Path]:
    """The two examples as bf16 safetensors folders (config.json copied)."""
    sys.path.insert(0, str(ROOT / "src"))
    from heredity.checkpoint import open_checkpoint
    from heredity.checkpoint.writers import save_safetensors

    out = []
    for name in PAIR:
        dst = folder / name
        dst.mkdir(parents=True)
        with open_checkpoint(EXAMPLES / name) as ck:
            save_safetensors({t: ck.read(t) for t in ck.tensors}, dst / "model.safetensors", dtype="BF16")
        shutil.copy(EXAMPLES / name / "config.json", dst / "config.json")
        out.append(dst)
    return out[0], out[1]


def modeldna_exe(venv: Path, install: bool) -> Path | None:
    exe = venv / "bin" / "modeldna"
    if not exe.exists() and install:
        print(f"installing modeldna into {venv} ...", flush=True)
        try:
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "modeldna"], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"modeldna not installed ({exc}); timing heredity only")
    return exe if exe.exists() else None


def time_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, cpu s: user + system of the child) of one run."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3):  # 3: a --fail-on exit, never used here
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="timed runs per command (after one warm-up)")
    ap.add_argument("--modeldna-venv", type=Path, default=Path("/tmp/mdna"))
    ap.add_argument("--install-modeldna", action="store_true", help="create that venv if it is missing")
    ap.add_argument("--baseline-src", type=Path, default=None, help="another heredity src/ to time too")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="heredity-startup-"))
    try:
        a, b = make_pair(tmp)
        cases = commands(a, b, args)
        times: dict[str, list[float]] = {label: [] for label in cases}
        cpu: dict[str, list[float]] = {label: [] for label in cases}
        for round_ in range(args.runs + 1):
            for label, (cmd, env) in cases.items():
                wall, used = time_once(cmd, env)
                if round_:  # round 0 warms the page cache and the bytecode caches
                    times[label].append(wall)
                    cpu[label].append(used)
        report(times, cpu, args.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def commands(a: Path, b: Path, args: argparse.Namespace) -> dict[str, tuple[list[str], dict[str, str]]]:
    trees = {"heredity": ROOT / "src"}
    if args.baseline_src is not None:
        trees["baseline"] = args.baseline_src.resolve()
    cases: dict[str, tuple[list[str], dict[str, str]]] = {}
    for tag, src in trees.items():
        # an installed package has its bytecode compiled (pip does it); with PYTHONDONTWRITEBYTECODE set
        # (as in some shells and containers) every edited module would be compiled again in every run
        compileall.compile_dir(str(src), quiet=1)
        env = {**_without_no_bytecode(), "PYTHONPATH": str(src)}
        run = [sys.executable, "-m", "heredity.cli.main"]
        cases[f"{tag} --version"] = ([*run, "--version"], env)
        cases[f"{tag} --help"] = ([*run, "--help"], env)
        cases[f"{tag} compare (json)"] = ([*run, "compare", str(a), str(b), "--format", "json"], env)
        cases[f"{tag} compare (terminal)"] = ([*run, "compare", str(a), str(b)], env)
    exe = modeldna_exe(args.modeldna_venv, args.install_modeldna)
    if exe is not None:
        env = {**_without_no_bytecode(), "HF_HUB_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)
        cases["modeldna --version"] = ([str(exe), "--version"], env)
        cases["modeldna compare (json)"] = ([str(exe), "compare", str(b), str(a), "--json"], env)
    return cases


def _without_no_bytecode() -> dict[str, str]:
    """This environment, letting children use and write bytecode caches, as an installed tool does."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def report(times: dict[str, list[float]], cpu: dict[str, list[float]], runs: int) -> None:
    print(f"\nper process, {runs} runs each (round-robin, after a warm-up round); cpu = user + system")
    print(f"{'command':32s} {'median':>9s} {'min':>9s} {'max':>9s} {'cpu med':>9s}")
    med = {label: statistics.median(ts) for label, ts in times.items()}
    cmed = {label: statistics.median(ts) for label, ts in cpu.items()}
    for label, ts in times.items():
        print(f"{label:32s} {med[label]:8.3f}s {min(ts):8.3f}s {max(ts):8.3f}s {statistics.median(cpu[label]):8.3f}s")
    goals = {"heredity --version": 0.1, "heredity compare (json)": 0.35, "heredity compare (terminal)": 0.35}
    for label, goal in goals.items():
        print(f"goal {label}: <= {goal} s -> median {med[label]:.3f} s")
    if "modeldna compare (json)" in med:
        for label in ("heredity compare (json)", "heredity compare (terminal)"):
            print(f"ratio {label} / modeldna compare: wall {med[label] / med['modeldna compare (json)']:.2f}, "
                  f"cpu {cmed[label] / cmed['modeldna compare (json)']:.2f}")
    if "baseline compare (json)" in med:
        for what in ("--version", "--help", "compare (json)", "compare (terminal)"):
            b, h = f"baseline {what}", f"heredity {what}"
            print(f"speed-up over baseline, {what}: wall {med[b] / med[h]:.1f}x, cpu {cmed[b] / cmed[h]:.1f}x")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
