"""The :class:`Fingerprint`: what a model leaves behind when its weights are gone.

It holds the 1-D vectors (norms, biases), per-layer standard deviations of every weight matrix, a hash
of every canonical tensor, and a *matching sketch*: the first rows of the MLP gate and up matrices of a
few evenly spaced layers, plus the first embedding rows (for aligning residual channels).  That is
enough for `identical`, `vectors`, `layers`, `attn_std`, and for `matching` on the sketched layers
(fingerprint-vs-model matches the sketched neurons into all of the model's neurons, so it survives
neuron permutation; fingerprint-vs-fingerprint only pairs the same first neurons, so it does not).
`experts` needs full weights and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from heredity.errors import NotApplicableError
from heredity.evidence.features import StdSample, Wanted, parse_role_key, role_key
from heredity.layouts.model import ModelSpec
from heredity.layouts.roles import Role
from heredity.results import Exclusion

if TYPE_CHECKING:
    from heredity.inspect import InspectResult

SCHEMA = "heredity.fingerprint/1"


@dataclass
class Fingerprint:
    """A model's fingerprint; implements :class:`heredity.evidence.features.Features`."""

    source: str
    spec: ModelSpec
    keys: list[str]  # every canonical tensor key the model had
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # key -> 1-D float32
    std: dict[str, dict[int, float]] = field(default_factory=dict)  # role -> layer -> std
    hashes: dict[str, tuple[str, int, bool]] = field(default_factory=dict)  # key -> (sha256, numel, constant)
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # key -> first canonical rows (the sketch)
    params: int | None = None
    is_fingerprint: bool = True

    def __post_init__(self) -> None:
        self._parsed = {parse_role_key(k) for k in self.keys}

    def has(self, role: Role, layer: int | None = None, expert: int | None = None) -> bool:
        return (role, layer, expert) in self._parsed

    def layers_with(self, role: Role) -> list[int]:
        return sorted({layer for r, layer, _ in self._parsed if r == role and layer is not None})

    def vector(self, role: Role, layer: int | None = None) -> np.ndarray:
        key = role_key(role, layer)
        if key not in self.vectors:
            raise NotApplicableError(f"the fingerprint holds no vector '{key}'", Exclusion.FINGERPRINT)
        return self.vectors[key]

    def matrix(self, role: Role, layer: int | None = None, expert: int | None = None) -> np.ndarray:
        raise NotApplicableError(f"'{role_key(role, layer, expert)}' needs full weights; a fingerprint "
                                 "holds only vectors and statistics", Exclusion.FINGERPRINT)

    def layer_std(self, role: Role, max_rows: int | None = None) -> dict[int, StdSample]:
        return {layer: StdSample(std) for layer, std in self.std.get(role.value, {}).items()}

    def prefetch(self, wanted: Iterable[Wanted]) -> None:
        """Nothing to fetch: a fingerprint is in memory."""

    def prefetch_std(self, roles: Iterable[Role], max_rows: int | None = None) -> None:
        """Nothing to fetch: a fingerprint holds the std already."""

    def sketch(self, role: Role, layer: int | None = None) -> np.ndarray:
        """The first rows of a matrix, where the sketch kept them."""
        key = role_key(role, layer)
        if key not in self.rows:
            raise NotApplicableError(f"'{key}' is not in the fingerprint's matching sketch", Exclusion.FINGERPRINT)
        return self.rows[key]

    def has_rows(self, role: Role, layer: int | None = None) -> bool:
        return role_key(role, layer) in self.rows

    def weight_rows(self, role: Role, layer: int | None = None) -> np.ndarray:
        return self.sketch(role, layer)

    def first_rows(self, role: Role, layer: int | None, rows: int) -> np.ndarray | None:
        kept = self.rows.get(role_key(role, layer))
        return None if kept is None else kept[:rows]

    def rows_at(self, role: Role, layer: int | None, index: np.ndarray, expert: int | None = None) -> np.ndarray | None:
        return None  # the sketch keeps first rows only; tests fall back to what it holds

    def stored_bytes(self, role: Role, layer: int | None = None, expert: int | None = None,
                     rows: int | None = None) -> int:
        return 0  # a fingerprint is in memory: reading it costs no checkpoint bytes

    def tensor_hashes(self) -> dict[str, tuple[str, int, bool]]:
        return self.hashes


def inspect_fingerprint(fp: Fingerprint) -> InspectResult:
    """What ``heredity inspect FP`` shows: the fingerprinted model's structure and roles (from the keys
    it recorded), with ``format`` ``fingerprint`` and a note on what the file holds."""
    from collections import Counter

    from heredity.inspect import InspectResult

    spec = fp.spec
    stored = Counter(["F32"] * len(fp.vectors) + ["F16"] * len(fp.rows))
    note = (f"a fingerprint of {fp.source} (read as {spec.format}): {len(fp.vectors)} vectors, {len(fp.hashes)} "
            f"tensor hashes, {len(fp.rows)} sketched matrices; no weights")
    return InspectResult(
        source=fp.source, family=spec.family, format="fingerprint", layers=spec.layers,
        hidden_size=spec.hidden_size, heads=spec.heads, kv_heads=spec.kv_heads,
        intermediate_size=spec.intermediate_size, experts=spec.experts, expert_groups=spec.expert_groups,
        experts_per_token=spec.experts_per_token, shared_experts=spec.shared_experts, vocab_size=spec.vocab_size,
        params=fp.params or 0, dtypes=dict(sorted(stored.items())),
        roles=dict(sorted(Counter(role.value for role, _, _ in fp._parsed).items())), unknown_tensors=(),
        inferred=spec.inferred, notes=(*spec.notes, note),
    )
