"""Names for anonymous linear weights, norms and embeddings from their place in an ONNX graph.

When neither a weight nor its bias kept a name (:mod:`heredity.checkpoint.onnx_graph`), the graph
still says what it is.  In node order (ONNX requires nodes sorted topologically; a graph out of
order gets fewer names, never wrong errors):

- linear weights sharing one input form a *fan*: three (or two of ``kv`` width plus one) from the
  hidden width are q, k and v, a new layer each time; of the q/k/v fan, q and k are the two whose
  outputs reach the same activation x activation MatMul (q as its A, k as its B: ``Q @ Kᵀ``), v the
  one reaching another; one weight to three hidden widths is a fused qkv (GPT-2's ``c_attn``); a fan
  of two to the FFN width is gate and up (up feeds the product of the two branches directly, gate
  through its activation), a single one is up; the next hidden -> hidden weight after q/k/v is o, one
  from the FFN width back to the hidden width is down; one from the hidden width after the last
  layer is the LM head;
- a model whose first norm's output also feeds the residual Add is post-norm (BERT: embedding norm,
  then a norm after attention and one after the MLP of each layer); otherwise pre-norm (a norm
  before attention and before the MLP of each layer, and a final norm);
- embedding tables (Gather): the most rows is the token embedding; in a post-norm model the fewest
  (at most 16) the token-type one, the others positions.

The names are the family table's canonical ones: BERT's for post-norm models, GPT-2's for a fused
qkv, llama's otherwise.  Every walk is bounded (:data:`MAX_VISIT` nodes from each weight), so the
work stays linear in the node count.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from heredity.checkpoint.onnx_graph import Graph, Traced, Use, bias_source, numel, trace

MAX_VISIT = 64  # nodes visited forward from one weight's output
ACTIVATIONS = frozenset({"Sigmoid", "Silu", "Gelu", "FastGelu", "BiasGelu", "Erf", "Tanh", "Relu", "Div", "Softplus",
                         "QuickGelu", "HardSigmoid"})  # fmt: skip

_BERT = {
    "q": "encoder.layer.{i}.attention.self.query", "k": "encoder.layer.{i}.attention.self.key",
    "v": "encoder.layer.{i}.attention.self.value", "o": "encoder.layer.{i}.attention.output.dense",
    "up": "encoder.layer.{i}.intermediate.dense", "down": "encoder.layer.{i}.output.dense",
    "attn_norm": "encoder.layer.{i}.attention.output.LayerNorm", "mlp_norm": "encoder.layer.{i}.output.LayerNorm",
    "first_norm": "embeddings.LayerNorm", "embed": "embeddings.word_embeddings",
    "pos_embed": "embeddings.position_embeddings", "type_embed": "embeddings.token_type_embeddings",
}  # fmt: skip
_LLAMA = {
    "q": "model.layers.{i}.self_attn.q_proj", "k": "model.layers.{i}.self_attn.k_proj",
    "v": "model.layers.{i}.self_attn.v_proj", "o": "model.layers.{i}.self_attn.o_proj",
    "gate": "model.layers.{i}.mlp.gate_proj", "up": "model.layers.{i}.mlp.up_proj",
    "down": "model.layers.{i}.mlp.down_proj", "attn_norm": "model.layers.{i}.input_layernorm",
    "mlp_norm": "model.layers.{i}.post_attention_layernorm", "final_norm": "model.norm",
    "embed": "model.embed_tokens", "lm_head": "lm_head",
}  # fmt: skip
_GPT2 = {
    "qkv": "transformer.h.{i}.attn.c_attn", "o": "transformer.h.{i}.attn.c_proj",
    "up": "transformer.h.{i}.mlp.c_fc", "down": "transformer.h.{i}.mlp.c_proj",
    "attn_norm": "transformer.h.{i}.ln_1", "mlp_norm": "transformer.h.{i}.ln_2", "final_norm": "transformer.ln_f",
    "embed": "transformer.wte", "pos_embed": "transformer.wpe", "lm_head": "lm_head",
}  # fmt: skip


@dataclass(frozen=True)
class Linear:
    """One linear weight's node: widths as the graph multiplies, the activation in, the value out."""

    init: str
    node: int
    n_in: int
    n_out: int
    source: str  # the activation it multiplies (before any dynamic quantisation)
    out: str  # its output, after the bias Add where there is one
    bias: str | None  # the bias initialiser


@dataclass(frozen=True)
class Norm:
    node: int
    weight: str
    bias: str | None
    out: str


def name_by_structure(
    g: Graph, anonymous: Mapping[str, Traced], chosen: Mapping[str, tuple[str, str]]
) -> dict[str, str]:
    """``{initialiser: canonical name}`` for the anonymous initialisers whose role the graph shows."""
    traced = _all_traced(g, anonymous, chosen)
    linears = _linears(g, traced)
    if not linears:
        return {}
    hidden = Counter(lin.n_in for lin in linears).most_common(1)[0][0]
    slots = _assign_linears(g, linears, hidden)
    if not slots:
        return {}
    norms = _norms(g, traced)
    fans = [lin.node for (role, _), lin in slots.items() if role in ("q", "qkv")]
    if not fans:
        return {}
    first_fan = min(fans)
    post_norm = _post_norm(g, norms, first_fan)
    table = _BERT if post_norm else (_GPT2 if any(r == "qkv" for r, _ in slots) else _LLAMA)
    names: dict[str, str] = {}
    for (role, layer), lin in slots.items():
        if role in table:
            base = table[role].format(i=layer)
            names[lin.init] = base + ".weight"
            if lin.bias is not None:
                names[lin.bias] = base + ".bias"
    for (role, layer), norm in _assign_norms(norms, slots, post_norm).items():
        if role in table:
            base = table[role].format(i=layer)
            names[norm.weight] = base + ".weight"
            if norm.bias is not None:
                names[norm.bias] = base + ".bias"
    for role, init in _embeddings(g, traced, post_norm).items():
        if role in table:
            names[init] = table[role] + ".weight"
    return {k: v for k, v in names.items() if k in anonymous}


def _all_traced(g: Graph, anonymous: Mapping[str, Traced], chosen: Mapping[str, tuple[str, str]]) -> dict[str, Traced]:
    """Every traced weight (named ones count for the structure too; only anonymous ones get names)."""
    out = dict(anonymous)
    for k in chosen:
        if k in g.init and k not in out:
            out[k] = trace(g, k)
    return out


def _linears(g: Graph, traced: Mapping[str, Traced]) -> list[Linear]:
    found = []
    for k, t in traced.items():
        if t.use is not Use.LINEAR or t.node is None:
            continue
        shape = g.init[k][0]
        if len(shape) != 2:
            continue
        consumed = shape[::-1] if t.transposed else shape
        n_in, n_out = consumed if t.in_out else consumed[::-1]
        n = g.nodes[t.node]
        a = n.inputs[0] if n.inputs else ""
        j = g.producer.get(a)
        if j is not None and g.nodes[j].op in ("DynamicQuantizeLinear", "QuantizeLinear") and g.nodes[j].inputs:
            a = g.nodes[j].inputs[0]
        bias = _bias_init(g, t)
        out = _after_bias(g, n.outputs[0] if n.outputs else "", n.op != "MatMul" and n.op != "Gemm")
        found.append(Linear(k, t.node, n_in, n_out, a, out, bias))
    return sorted(found, key=lambda lin: lin.node)


def _bias_init(g: Graph, t: Traced) -> str | None:
    src = bias_source(g, t.bias) if t.bias is not None else None
    return src if src is not None and len(g.init[src][0]) == 1 else None


def _after_bias(g: Graph, value: str, quantised: bool) -> str:
    """A linear's output after the Add of its bias (and the Cast / rescaling Mul of integer matmuls)."""
    for _ in range(3):
        uses = g.uses(value)
        if len(uses) != 1 or not g.nodes[uses[0][0]].outputs:
            break
        i, slot = uses[0]
        n = g.nodes[i]
        bias = n.op == "Add" and len(n.inputs) == 2 and bias_source(g, n.inputs[1 - slot]) is not None
        if not (n.op == "Cast" or (n.op == "Mul" and quantised) or bias):
            break
        value = n.outputs[0]
    return value


def _assign_linears(g: Graph, linears: list[Linear], hidden: int) -> dict[tuple[str, int], Linear]:
    """``{(role, layer): linear}`` from fans of weights sharing one input, in node order."""
    fans: list[list[Linear]] = []
    for lin in linears:
        if fans and fans[-1][0].source == lin.source and lin.source:
            fans[-1].append(lin)
        else:
            fans.append([lin])
    slots: dict[tuple[str, int], Linear] = {}
    layer = -1
    state = "start"  # start -> attn -> o -> mlp -> down (-> attn of the next layer)
    for fan in fans:
        widths = {lin.n_in for lin in fan}
        if widths != {hidden}:
            if len(fan) == 1 and state == "mlp" and fan[0].n_out == hidden:
                slots[("down", layer)] = fan[0]
                state = "down"
            continue
        if len(fan) == 3 and state in ("start", "down"):
            layer += 1
            for role, lin in zip(("q", "k", "v"), _qkv_order(g, fan), strict=True):
                slots[(role, layer)] = lin
            state = "attn"
        elif len(fan) == 1 and fan[0].n_out == 3 * hidden and state in ("start", "down"):
            layer += 1
            slots[("qkv", layer)] = fan[0]
            state = "attn"
        elif len(fan) == 1 and fan[0].n_out == hidden and state == "attn":
            slots[("o", layer)] = fan[0]
            state = "o"
        elif len(fan) == 2 and state == "o" and fan[0].n_out == fan[1].n_out:
            gate, up = _gate_up(g, fan)
            slots[("gate", layer)], slots[("up", layer)] = gate, up
            state = "mlp"
        elif len(fan) == 1 and state == "o":
            slots[("up", layer)] = fan[0]
            state = "mlp"
        elif len(fan) == 1 and state == "down" and layer >= 0:
            slots[("lm_head", 0)] = fan[0]
            state = "end"
    return slots


def _reach(g: Graph, value: str) -> tuple[int, int] | None:
    """The first activation x activation MatMul reached forward from ``value``: (node, slot)."""
    frontier, seen, visits = [value], {value}, 0
    while frontier and visits < MAX_VISIT:
        nxt: list[str] = []
        for v in frontier:
            for i, slot in g.uses(v):
                visits += 1
                n = g.nodes[i]
                if n.op == "MatMul" and len(n.inputs) == 2 and all(g.constant(x) is None for x in n.inputs):
                    return i, slot
                for out in n.outputs[:2]:
                    if out and out not in seen:
                        seen.add(out)
                        nxt.append(out)
        frontier = nxt
    return None


def _qkv_order(g: Graph, fan: list[Linear]) -> list[Linear]:
    """q, k, v: q and k meet in the score MatMul (q as A, k as B), v goes elsewhere; else node order."""
    reached = [_reach(g, lin.out) for lin in fan]
    nodes = Counter(r[0] for r in reached if r is not None)
    shared = [n for n, c in nodes.items() if c == 2]
    if len(shared) != 1:
        return fan
    q = [lin for lin, r in zip(fan, reached, strict=True) if r == (shared[0], 0)]
    k = [lin for lin, r in zip(fan, reached, strict=True) if r == (shared[0], 1)]
    v = [lin for lin, r in zip(fan, reached, strict=True) if r is None or r[0] != shared[0]]
    return [q[0], k[0], v[0]] if len(q) == len(k) == len(v) == 1 else fan


def _gate_up(g: Graph, fan: list[Linear]) -> tuple[Linear, Linear]:
    """(gate, up): up's output is a direct factor of the Mul joining the branches, gate's goes through
    its activation first; else node order (gate first, as HF modules are declared)."""
    a, b = fan
    direct = [any(g.nodes[i].op == "Mul" and not _feeds_activation(g, lin.out) for i, _ in g.uses(lin.out))
              for lin in fan]  # fmt: skip
    if direct == [True, False]:
        return b, a
    return a, b


def _feeds_activation(g: Graph, value: str) -> bool:
    return any(g.nodes[i].op in ACTIVATIONS for i, _ in g.uses(value))


def _norms(g: Graph, traced: Mapping[str, Traced]) -> list[Norm]:
    weights = {t.node: k for k, t in traced.items() if t.use is Use.NORM and t.node is not None}
    biases = {t.node: k for k, t in traced.items() if t.use is Use.NORM_BIAS and t.node is not None}
    return [Norm(i, w, biases.get(i), g.nodes[i].outputs[0] if g.nodes[i].outputs else "")
            for i, w in sorted(weights.items())]  # fmt: skip


def _post_norm(g: Graph, norms: list[Norm], first_fan: int) -> bool:
    """The norm feeding the first attention also feeds a residual Add: BERT-style post-norm."""
    before = [n for n in norms if n.node < first_fan]
    if not before:
        return False
    return any(g.nodes[i].op == "Add" for i, _ in g.uses(before[-1].out))


def _assign_norms(norms: list[Norm], slots: Mapping[tuple[str, int], Linear], post_norm: bool) -> dict[tuple[str, int], Norm]:
    """Each norm by where it sits between the linears: before q/k/v, between o and the MLP, after down."""
    marks: list[tuple[int, str, int]] = []  # (node, role, layer) of each sublayer boundary
    for (role, layer), lin in slots.items():
        if role in ("q", "qkv"):
            marks.append((lin.node, "attn", layer))
        elif role in ("up", "gate"):
            marks.append((lin.node, "mlp", layer))
        elif role in ("o", "down"):
            marks.append((lin.node, role, layer))
    marks.sort()
    nodes = [m[0] for m in marks]
    out: dict[tuple[str, int], Norm] = {}
    for norm in norms:  # the boundaries just before and just after the norm, by bisection
        at = bisect.bisect_left(nodes, norm.node)
        p = marks[at - 1] if at > 0 else None
        n = marks[at] if at < len(marks) and marks[at][0] > norm.node else None
        if post_norm:
            key = ("first_norm", 0) if p is None else {"o": ("attn_norm", p[2]), "down": ("mlp_norm", p[2])}.get(p[1])
        elif n is not None and n[1] in ("attn", "mlp"):
            key = (n[1] + "_norm", n[2])
        else:
            key = ("final_norm", 0) if p is not None and p[1] == "down" and n is None else None
        if key is not None and key not in out:
            out[key] = norm
    return out


def _embeddings(g: Graph, traced: Mapping[str, Traced], post_norm: bool) -> dict[str, str]:
    tables = sorted(((g.init[k][0][0], k) for k, t in traced.items() if t.use is Use.GATHER), reverse=True)
    if not tables:
        return {}
    out = {"embed": tables[0][1]}
    rest = tables[1:]
    if post_norm and rest and rest[-1][0] <= 16:
        out["type_embed"] = rest.pop()[1]
    if len(rest) == 1 and numel(g.init[rest[0][1]][0]) > 1:
        out["pos_embed"] = rest[0][1]
    return out


@dataclass(frozen=True)
class Heads:
    """Attention head counts read from the reshape of q and k into heads: ``[batch, seq, heads, head_dim]``."""

    heads: int
    kv_heads: int
    head_dim: int


def attention_heads(g: Graph, traced: Mapping[str, Traced]) -> Heads | None:
    """Head counts of the first layer whose q and k outputs are reshaped by a constant ending in the
    head width (``[0, 0, 12, 32]``, or a Concat whose last part is ``[32]``); None when not shown."""
    linears = _linears(g, traced)
    if not linears:
        return None
    hidden = Counter(lin.n_in for lin in linears).most_common(1)[0][0]
    slots = _assign_linears(g, linears, hidden)
    for layer in sorted({layer for role, layer in slots if role == "q"}):
        q, k = slots.get(("q", layer)), slots.get(("k", layer))
        d = _head_width(g, q.out) if q is not None else None
        if q is None or k is None or d is None or q.n_out % d or k.n_out % d or _head_width(g, k.out) != d:
            continue
        return Heads(q.n_out // d, k.n_out // d, d)
    return None


def _head_width(g: Graph, value: str) -> int | None:
    for i, slot in g.uses(value):
        n = g.nodes[i]
        if n.op != "Reshape" or slot != 0 or len(n.inputs) < 2:
            continue
        shape = g.small_ints.get(n.inputs[1])
        j = g.producer.get(n.inputs[1])
        if shape is None and j is not None and g.nodes[j].op == "Concat" and g.nodes[j].inputs:
            shape = g.small_ints.get(g.nodes[j].inputs[-1])
        if shape and len(shape) <= 4 and 0 < shape[-1] <= 1 << 16:
            return shape[-1]
    return None
