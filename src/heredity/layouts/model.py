"""A canonical, role-addressed view of a checkpoint.

:class:`Model` maps ``(role, layer, expert)`` to stored tensors through :class:`TensorRef` records that a
family layout produced, and applies the canonicalisation each record asks for (expert selection from
fused tensors, transposition, row slices of fused tensors, GGUF q/k un-permutation, Gemma ``1 + w``).
It reads lazily; every read goes through the model's own :class:`~heredity.checkpoint.recorder.ReadRecorder`
(attached when the model is built), so reports can list exactly what evidence rests on.  A comparison
works on :meth:`Model.view`, which shares the stored checkpoint but has a fresh recorder.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from heredity.checkpoint.base import Checkpoint
from heredity.checkpoint.recorder import ReadRecorder, RecordingCheckpoint, unique_bytes
from heredity.errors import NotApplicableError
from heredity.layouts.roles import Role
from heredity.results import Exclusion


@dataclass(frozen=True)
class TensorRef:
    """Where the canonical tensor for one ``(role, layer, expert)`` lives, and how to canonicalise it.

    Steps, in order: ``index`` selects ``stored[index]`` (fused per-expert tensors); ``transpose`` turns
    stored ``[in, out]`` into ``[out, in]``; ``rows`` keeps canonical rows ``[start, stop)`` (fused qkv,
    gate_up); ``unpermute_heads`` undoes llama.cpp's q/k row permutation; ``plus_one`` adds 1 (Gemma norms).
    """

    name: str
    role: Role
    layer: int | None = None
    expert: int | None = None
    index: int | None = None
    transpose: bool = False
    rows: tuple[int, int] | None = None
    unpermute_heads: int | None = None
    plus_one: bool = False

    @property
    def key(self) -> tuple[Role, int | None, int | None]:
        return (self.role, self.layer, self.expert)


@dataclass(frozen=True)
class ModelSpec:
    """Structure of a model; ``None`` where a field does not apply (e.g. experts of a dense model)."""

    family: str  # layout family, e.g. "llama", "pangu_pro_moe"; a GGUF's general.architecture; "unknown" if inferred
    format: str  # checkpoint reader name
    layers: int
    hidden_size: int | None
    heads: int | None
    kv_heads: int | None
    head_dim: int | None
    intermediate_size: int | None  # dense FFN width (first dense layer's)
    vocab_size: int | None
    experts: int | None = None
    expert_groups: int | None = None
    experts_per_token: int | None = None
    shared_experts: int | None = None
    moe_intermediate_size: int | None = None
    tied_embeddings: bool = False
    inferred: bool = False  # roles were inferred from shapes/patterns, not a family table
    notes: tuple[str, ...] = ()


def unpermute_gguf_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k permutation (convert_hf_to_gguf ``permute``) on ``[rows, in]`` weights or
    ``[rows]`` biases: GGUF stores each head's rows interleaved (pairs), HF stores them as two halves."""
    rows = w.shape[0]
    if rows % (2 * n_heads):
        raise NotApplicableError(f"cannot un-permute {rows} rows into {n_heads} heads", Exclusion.SHAPES)
    rest = w.shape[1:]
    half = rows // n_heads // 2
    # gguf: [heads, half, 2, ...] ; hf: [heads, 2, half, ...]
    return w.reshape(n_heads, half, 2, *rest).swapaxes(1, 2).reshape(rows, *rest)


@dataclass(frozen=True)
class Component:
    """Tensors beside the model a family table mapped, under their own prefix (a multimodal
    checkpoint's vision tower, a sentence-transformers head): reported, never scored."""

    prefix: str  # e.g. "model.vision_tower."
    names: tuple[str, ...]


@dataclass
class Model:
    """Canonical view of one checkpoint."""

    checkpoint: Checkpoint
    spec: ModelSpec
    refs: list[TensorRef]
    unknown: list[str] = field(default_factory=list)  # stored names no role was found for
    recorder: ReadRecorder = field(default_factory=ReadRecorder)  # every read of this model
    prefix: str = ""  # wrapper prefix the family's names were found under ("" when stored bare)
    components: tuple[Component, ...] = ()  # other parts of the checkpoint, outside ``prefix``

    def __post_init__(self) -> None:
        ck = self.checkpoint
        if not (isinstance(ck, RecordingCheckpoint) and ck.recorder is self.recorder):
            self.checkpoint = RecordingCheckpoint(self.stored_checkpoint(ck), self.recorder)
        self._by_key: dict[tuple[Role, int | None, int | None], TensorRef] = {}
        self._by_role: dict[Role, list[TensorRef]] = {}  # so per-role queries cost their refs, not all
        for r in self.refs:
            self._by_key.setdefault((r.role, r.layer, r.expert), r)  # r.key, without a call per ref
            self._by_role.setdefault(r.role, []).append(r)

    @staticmethod
    def stored_checkpoint(ck: Checkpoint) -> Checkpoint:
        """The reader under any recording wrapper."""
        return ck.inner if isinstance(ck, RecordingCheckpoint) else ck

    def view(self) -> Model:
        """The same model over the same stored checkpoint, with a fresh, empty recorder (nothing is
        copied or re-read; reads through the view are recorded only there)."""
        out = copy.copy(self)
        out.recorder = ReadRecorder()
        out.checkpoint = RecordingCheckpoint(self.stored_checkpoint(self.checkpoint), out.recorder)
        return out

    # -- lookup ---------------------------------------------------------------------------------
    def has(self, role: Role, layer: int | None = None, expert: int | None = None) -> bool:
        return (role, layer, expert) in self._by_key

    def ref(self, role: Role, layer: int | None = None, expert: int | None = None) -> TensorRef:
        try:
            return self._by_key[(role, layer, expert)]
        except KeyError:
            where = "" if layer is None else f" in layer {layer}"
            where += "" if expert is None else f", expert {expert}"
            raise NotApplicableError(
                f"model has no '{role.value}' tensor{where}", Exclusion.MISSING
            ) from None

    def refs_for(self, role: Role) -> list[TensorRef]:
        return list(self._by_role.get(role, ()))

    def layers_with(self, role: Role) -> list[int]:
        return sorted({r.layer for r in self._by_role.get(role, ()) if r.layer is not None})

    def role_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.refs:
            counts[r.role.value] = counts.get(r.role.value, 0) + 1
        return counts

    # -- reading --------------------------------------------------------------------------------
    def get(self, role: Role, layer: int | None = None, expert: int | None = None) -> np.ndarray:
        """The canonical float32 tensor for ``(role, layer, expert)``."""
        return self.load(self.ref(role, layer, expert))

    def load(self, ref: TensorRef) -> np.ndarray:
        name, rows = self.load_request(ref)
        w = self.checkpoint.read(name, rows=rows)
        if ref.index is not None:
            w = w[0]
        elif ref.rows is not None and not ref.transpose:
            return self._finish(w, ref)
        if ref.transpose:
            w = w.T
        if ref.rows is not None:
            w = w[ref.rows[0] : ref.rows[1]]
        return self._finish(w, ref)

    @staticmethod
    def load_request(ref: TensorRef) -> tuple[str, slice | None]:
        """The one stored read :meth:`load` makes: ``(tensor, rows)``."""
        if ref.index is not None:
            return ref.name, slice(ref.index, ref.index + 1)
        if ref.rows is not None and not ref.transpose:
            return ref.name, slice(*ref.rows)
        return ref.name, None

    @staticmethod
    def rows_request(ref: TensorRef, start: int, stop: int) -> tuple[str, slice] | None:
        """The stored read :meth:`load_rows` makes for canonical rows ``[start, stop)``, or None when
        the storage cannot be sliced by canonical rows."""
        if ref.transpose or ref.index is not None or ref.unpermute_heads is not None:
            return None
        offset = ref.rows[0] if ref.rows is not None else 0
        return ref.name, slice(offset + start, offset + stop)

    def prefetch(self, requests: Iterable[tuple[str, slice | None]]) -> None:
        """Tell the checkpoint these stored reads come next (see :meth:`Checkpoint.prefetch`); repeats
        are asked for once."""
        seen: dict[tuple[str, int | None, int | None], tuple[str, slice | None]] = {}
        for name, rows in requests:
            seen.setdefault((name, None, None) if rows is None else (name, rows.start, rows.stop), (name, rows))
        if seen:
            self.checkpoint.prefetch(list(seen.values()))

    def canonical_rows(self, ref: TensorRef) -> int:
        """How many rows the canonical tensor has (from the inventory)."""
        info = self.checkpoint.info(ref.name)
        if ref.rows is not None:
            return ref.rows[1] - ref.rows[0]
        shape = info.shape[1:] if ref.index is not None else info.shape
        if not shape:
            return 1
        return shape[-1] if ref.transpose and len(shape) == 2 else shape[0]

    def load_rows(self, ref: TensorRef, start: int, stop: int) -> np.ndarray | None:
        """Canonical rows ``[start, stop)`` read without the rest of the tensor, or None when the stored
        layout does not allow it (transposed storage, a per-expert slice, GGUF-permuted heads)."""
        request = self.rows_request(ref, start, stop)
        if request is None:
            return None
        w = self.checkpoint.read(*request)
        if ref.plus_one:
            w = w + np.float32(1.0)
        return np.asarray(w, dtype=np.float32, order="C")

    def _finish(self, w: np.ndarray, ref: TensorRef) -> np.ndarray:
        if ref.unpermute_heads is not None:
            w = unpermute_gguf_rows(w, ref.unpermute_heads)
        if ref.plus_one:
            w = w + np.float32(1.0)
        return np.asarray(w, dtype=np.float32, order="C")  # (ascontiguousarray would turn 0-d into 1-d)

    @property
    def bytes_read(self) -> int:
        """Stored bytes read through this model so far (each distinct tensor slice counted once)."""
        return unique_bytes(self.recorder.since())

    def iter_layers(self) -> Iterable[int]:
        return range(self.spec.layers)


def count_params(model: Model) -> int:
    """Elements of every stored tensor that is a weight (mapped, unknown, or in another component such
    as a vision tower), from shapes alone.

    A tied head that a reader exposes under both names (llama2.c) is counted once.
    """
    inventory = model.checkpoint.tensors
    names = {r.name for r in model.refs} | set(model.unknown) | {n for c in model.components for n in c.names}
    if model.spec.tied_embeddings and model.has(Role.LM_HEAD) and model.has(Role.EMBED):
        head, embed = model.ref(Role.LM_HEAD).name, model.ref(Role.EMBED).name
        if head != embed and inventory[head].shape == inventory[embed].shape:
            names.discard(head)
    return sum(inventory[n].numel for n in names if n in inventory)
