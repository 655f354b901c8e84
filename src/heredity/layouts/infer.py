"""Roles for stored names no family table knows, from name patterns and shapes.

A checkpoint of an unknown family is usually still a transformer with ``layers.N.`` / ``h.N.`` /
``blk.N.`` / ``block.N.`` numbering and recognisable leaf names (``q_proj``, ``wq``, ``query``, ``fc1``,
``norm``).  This module maps what it can, orients 2-D weights to ``[out, in]`` by comparing their axes
with the hidden width, and leaves the rest unknown.  Everything it maps is a guess and the model's
notes say so; it never overrides a role a table already provided.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from itertools import repeat

from heredity.checkpoint.base import TensorInfo
from heredity.layouts.matching import digit_patterns
from heredity.layouts.model import TensorRef
from heredity.layouts.roles import Role

LAYER_WORDS = frozenset({"layers", "layer", "h", "blk", "block", "blocks"})

# leaf segment -> (weight role, bias role)
_LEAVES: dict[str, tuple[Role, Role | None]] = {}
for _roles, _words in (
    ((Role.Q, Role.Q_BIAS), ("q_proj", "wq", "query", "attn_q", "q", "q_lin")),
    ((Role.K, Role.K_BIAS), ("k_proj", "wk", "key", "attn_k", "k", "k_lin")),
    ((Role.V, Role.V_BIAS), ("v_proj", "wv", "value", "attn_v", "v", "v_lin")),
    ((Role.O, Role.O_BIAS), ("o_proj", "wo", "out_proj", "attn_output", "out_lin", "o")),
    ((Role.MLP_GATE, None), ("gate_proj", "w1", "ffn_gate", "gate_up")),
    ((Role.MLP_UP, Role.MLP_UP_BIAS), ("up_proj", "w3", "ffn_up", "fc1", "fc_in", "lin1")),
    ((Role.MLP_DOWN, Role.MLP_DOWN_BIAS), ("down_proj", "w2", "ffn_down", "fc2", "fc_out", "lin2")),
):
    for _w in _words:
        _LEAVES[_w] = _roles

_OUT_IN = frozenset({Role.Q, Role.K, Role.V, Role.MLP_GATE, Role.MLP_UP})  # canonical [x, hidden]
_IN_OUT = frozenset({Role.O, Role.MLP_DOWN})  # canonical [hidden, x]
_ATTN_HINTS = ("attn", "attention", "input", "ln_1", "ln1", "sa_")
_MLP_HINTS = ("ffn", "mlp", "post_attention", "ln_2", "ln2", "feed_forward")


def infer_refs(
    names: list[str], inventory: Mapping[str, TensorInfo], known: list[TensorRef]
) -> tuple[list[TensorRef], list[str]]:
    """Refs inferred from name patterns and shapes for ``names`` (of ``inventory``), and the names
    that stay unknown.

    Names nested below their layer (``layers.3.mlp.experts.7.w.weight_scale_inv``: DeepSeek-V3 has
    ~46,000) are refused once per digit pattern (:func:`_nested`) without their inventory entry; the
    keys already taken and the hidden width are only worked out when some name needs them."""
    patterns = digit_patterns(names)
    taken: set[tuple[Role, int | None, int | None]] | None = None
    hidden = _Hidden(names, inventory)
    refs: list[TensorRef] = []
    unknown: list[str] = []
    for name, pattern in zip(names, patterns or repeat(None), strict=False):
        if pattern is not None and _nested(pattern):
            unknown.append(name)
            continue
        ref = _infer_one(inventory[name], hidden)
        if ref is not None and taken is None:
            taken = {r.key for r in known}
        if ref is None or taken is None or ref.key in taken:
            unknown.append(name)
        else:
            taken.add(ref.key)
            refs.append(ref)
    return refs, unknown


class _Hidden:
    """The hidden width :func:`_hidden` finds among the names' shapes, found when first asked for."""

    def __init__(self, names: list[str], inventory: Mapping[str, TensorInfo]) -> None:
        self._names, self._inventory = names, inventory
        self._value: tuple[int | None] | None = None

    def __call__(self) -> int | None:
        if self._value is None:
            self._value = (_hidden([self._inventory[n] for n in self._names]),)
        return self._value[0]


@functools.lru_cache(maxsize=4096)
def _nested(pattern: str) -> bool:
    """True when :func:`_infer_one` refuses every name with this digit pattern (see
    :func:`~heredity.layouts.matching.digit_patterns`) for a number or nothing after its layer.  One
    stand-in name decides for all: its digits are zeros, and the tests made on the way (``isdigit``,
    ``isascii``, segment lengths, layer words) come out the same for any digits in the same places."""
    _, rest = layer_of(pattern.replace("#", "0"))
    return not rest or any(p.isdigit() for p in rest)


def _hidden(infos: list[TensorInfo]) -> int | None:
    """The most common 1-D length (norms are hidden-sized), else the most common axis length."""
    vectors = Counter(i.shape[0] for i in infos if len(i.shape) == 1)
    if vectors:
        return vectors.most_common(1)[0][0]
    axes = Counter(d for i in infos if len(i.shape) == 2 for d in i.shape)
    return axes.most_common(1)[0][0] if axes else None


def layer_of(name: str) -> tuple[int | None, list[str]]:
    """``("blk.3.attn_q.weight")`` -> ``(3, ["attn_q", "weight"])``; no layer word -> ``(None, parts)``."""
    parts = name.split(".")
    for i, p in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if p.lower() in LAYER_WORDS and nxt.isascii() and nxt.isdigit() and len(nxt) <= 6:
            return int(nxt), parts[i + 2 :]
    return None, parts


def _infer_one(info: TensorInfo, hidden: Callable[[], int | None]) -> TensorRef | None:
    layer, rest = layer_of(info.name)
    if not rest or any(p.isdigit() for p in rest):
        return None  # expert-indexed or otherwise nested: leave unknown
    is_bias = rest[-1] == "bias"
    leaf = rest[-2].lower() if len(rest) >= 2 and rest[-1] in ("weight", "bias") else rest[-1].lower()
    text = info.name.lower()
    if layer is None:
        return _infer_global(info, text, hidden)
    if len(info.shape) == 1 and ("norm" in leaf or leaf.startswith("ln")) and not is_bias:
        role = _norm_role(text)
        return TensorRef(info.name, role, layer) if role else None
    roles = _LEAVES.get(leaf)
    if roles is None:
        return None
    if is_bias or len(info.shape) == 1:
        return TensorRef(info.name, roles[1], layer) if roles[1] and len(info.shape) == 1 else None
    if len(info.shape) != 2:
        return None
    return TensorRef(info.name, roles[0], layer, transpose=_needs_transpose(roles[0], info.shape, hidden))


def _norm_role(text: str) -> Role | None:
    if any(h in text for h in _MLP_HINTS):
        return Role.MLP_NORM
    if any(h in text for h in _ATTN_HINTS):
        return Role.ATTN_NORM
    return None


def _infer_global(info: TensorInfo, text: str, hidden: Callable[[], int | None]) -> TensorRef | None:
    if len(info.shape) == 2 and any(w in text for w in ("embed", "wte", "tok_emb", "word_emb")):
        return TensorRef(info.name, Role.EMBED, transpose=info.shape[0] == hidden())
    if len(info.shape) == 2 and any(w in text for w in ("lm_head", "output", "classifier")):
        return TensorRef(info.name, Role.LM_HEAD, transpose=info.shape[0] == hidden())
    if len(info.shape) == 1 and "norm" in text and "bias" not in text:
        return TensorRef(info.name, Role.FINAL_NORM)
    return None


def _needs_transpose(role: Role, shape: tuple[int, ...], width: Callable[[], int | None]) -> bool:
    """True when a weight is stored ``[in, out]`` (Conv1D, JAX/Flax exports)."""
    hidden = width()
    if hidden is None or shape[0] == shape[1]:
        return False
    if role in _OUT_IN:
        return shape[0] == hidden
    if role in _IN_OUT:
        return shape[1] == hidden
    return False
