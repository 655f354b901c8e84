"""The checkpoint contract every reader implements: an inventory plus ``read``.

A :class:`Checkpoint` never loads a whole model.  ``tensors`` is built from headers alone;
``read(name, rows=...)`` returns float32 for one tensor (or a slice of its first axis).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from heredity.errors import InputError, safe_name


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a checkpoint, as its header describes it (no bytes read)."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # the stored type as the format names it: "BF16", "F32", "Q4_K", "int8", ...
    nbytes: int  # bytes the tensor occupies in storage (0 where unknown)
    file: str = ""  # file that holds it (shards, hub files)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


class Checkpoint(abc.ABC):
    """A lazily opened checkpoint.

    Attributes:
        source: the path or hub id it was opened from.
        format: reader name: ``safetensors``, ``gguf``, ``pytorch``, ``llama2c``, ``onnx``, ``hub``,
            ``memory``.
        config: the model's configuration as a ``config.json``-style dict (HF keys such as
            ``architectures``, ``model_type``, ``hidden_size``, ``num_attention_heads``); readers of
            formats without config.json synthesise what they can (GGUF metadata, llama2.c header).
        warnings: non-fatal findings (NaN/Inf payloads, inferred fields), one line each.
    """

    source: str
    format: str
    config: dict[str, Any]
    warnings: list[str]

    @property
    @abc.abstractmethod
    def tensors(self) -> Mapping[str, TensorInfo]:
        """Inventory: name -> :class:`TensorInfo`, in storage order."""

    @abc.abstractmethod
    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        """Read one tensor as float32 (C-contiguous).  ``rows`` slices the first axis and, where the
        format allows, reads only those bytes."""

    def read_checked(self, name: str, rows: slice | None = None) -> tuple[np.ndarray, str | None, int | None]:
        """``read``, plus the sha256 of the result's float32 bytes and its NaN/Inf count where the reader
        has them already (computed while it fetched ahead); None where it has not."""
        return self.read(name, rows), None, None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files / maps. Reading after close is an error."""

    def prefetch(self, requests: Sequence[tuple[str, slice | None]]) -> None:  # noqa: B027 - optional hook
        """A hint: ``read(name, rows)`` will be called for each of these soon, in about this order.
        Readers whose every read pays a fixed cost (a network round trip) start fetching them at once,
        side by side; the others ignore it.  It never changes what a read returns, and a request that
        is never read costs only the bytes it fetched."""

    def info(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise InputError(f"no tensor named '{safe_name(name)}'", path=self.source) from None

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class MemoryCheckpoint(Checkpoint):
    """A checkpoint held in memory: for tests, the forge, and derived models before saving."""

    arrays: dict[str, np.ndarray]
    config: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"
    format: str = "memory"
    warnings: list[str] = field(default_factory=list)

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return {
            k: TensorInfo(k, tuple(v.shape), str(v.dtype), int(v.nbytes)) for k, v in self.arrays.items()
        }

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        self.info(name)
        a = self.arrays[name]
        if rows is not None:
            a = a[rows]
        return np.array(a, dtype=np.float32, order="C")  # a copy: callers may not mutate the store; keeps 0-d shape
