"""Turn matched stored tensors into :class:`TensorRef` records (one per canonical tensor).

One stored tensor can yield several refs: a fused ``c_attn`` gives q, k and v (equal row blocks of the
canonical ``[out, in]`` matrix); a fused ``experts.gate_up_proj`` ``[E, 2I, H]`` gives gate and up for
each of its E experts.  Shapes come from the inventory, so nothing is read here.
"""

from __future__ import annotations

from heredity.checkpoint.base import TensorInfo
from heredity.errors import CorruptCheckpointError, safe_name
from heredity.layouts.matching import Match
from heredity.layouts.model import TensorRef
from heredity.layouts.roles import Role


def canonical_shape(ref: TensorRef, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape :meth:`Model.get` will return for ``ref`` over a stored tensor of ``shape``."""
    s = shape[1:] if ref.index is not None else shape
    if ref.transpose:
        s = tuple(reversed(s))
    if ref.rows is not None:
        s = (ref.rows[1] - ref.rows[0], *s[1:])
    return s


def refs_for(match: Match, info: TensorInfo, heads: dict[str, int | None], source: str) -> list[TensorRef]:
    """All canonical refs one stored tensor provides.

    ``heads`` maps ``"heads"``/``"kv_heads"`` to counts, present only when q/k rows must be
    un-permuted (GGUF llama); a needed count that is unknown leaves the rows as stored.
    """
    entry = match.entry
    experts: list[int | None] = [match.expert]
    if entry.fused_experts:
        _check_fused(info, source)
        experts = list(range(info.shape[0]))
    unpermute = heads.get(entry.unpermute) if entry.unpermute else None
    out: list[TensorRef] = []
    for expert in experts:
        index = expert if entry.fused_experts else None
        base = TensorRef(info.name, entry.roles[0], match.layer, expert, index, entry.transpose,
                         None, unpermute, entry.plus_one)  # fmt: skip
        out.extend(_split(base, entry.roles, info, source))
    return out


def _split(base: TensorRef, roles: tuple[Role, ...], info: TensorInfo, source: str) -> list[TensorRef]:
    if len(roles) == 1:
        return [base]
    rows = canonical_shape(base, info.shape)
    if not rows or rows[0] % len(roles):
        raise CorruptCheckpointError(
            f"fused tensor '{safe_name(info.name)}' with {rows[0] if rows else 0} rows cannot split into {len(roles)}",
            path=source,
            fix="check the tensor shape",
        )
    n = rows[0] // len(roles)
    return [
        TensorRef(
            base.name,
            role,
            base.layer,
            base.expert,
            base.index,
            base.transpose,
            (i * n, (i + 1) * n),
            base.unpermute_heads,
            base.plus_one,
        )  # fmt: skip
        for i, role in enumerate(roles)
    ]


MAX_EXPERTS = 4096  # more experts in one fused tensor is a corrupt or hostile header, not a model


def _check_fused(info: TensorInfo, source: str) -> None:
    if len(info.shape) < 2 or not 0 < info.shape[0] <= MAX_EXPERTS:
        raise CorruptCheckpointError(
            f"fused expert tensor '{safe_name(info.name)}' has shape {info.shape}",
            path=source,
            fix=f"expected [experts <= {MAX_EXPERTS}, rows, ...]",
        )
