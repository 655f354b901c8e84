"""Roles of an ONNX graph's initialisers from the nodes that consume them.

Exporters often drop the names of linear weights (TorchScript: ``onnx::MatMul_123``, the dynamo
exporter: ``val_49``), store them transposed (``X @ W`` with ``W`` of shape ``[in, out]``) and
quantised (``val_49_q`` int8 + ``val_49_scale``, dequantised by ``Cast`` + ``Mul``, or by
``DequantizeLinear``).  This module follows each initialiser forward through its dequantisation and
transposes to the node that uses it, and derives a name for it:

1. a linear weight (``MatMul`` input B, ``Gemm`` input B with ``transB``, the integer matmuls) whose
   output is added to a bias named ``P.bias`` (or ``Gemm``'s C) is ``P.weight``;
2. otherwise the initialiser's own name without a quantisation suffix (``X_quantized``, ``X_q``), or
   the name of the dequantised value, when either is a dotted module path;
3. otherwise, for the linear weights and norms still anonymous, their place in the graph
   (:mod:`heredity.checkpoint.onnx_structure`).

A weight named by the graph (1 or 3) is exposed in torch ``Linear`` orientation ``[out, in]``; one that
keeps its own name keeps its stored orientation (the family table knows what that name means).

Hostile graphs are the normal case: every walk is bounded (a chain of at most :data:`MAX_CHAIN` nodes,
a few consumers per value), so the work is linear in the node count, cycles cost nothing, and
anything inconsistent (a scale that does not fit, a weight used twice, a name taken) is simply not
recognised: the initialiser stays exposed as it is stored.  Nothing here raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

MAX_CHAIN = 8  # dequantisation / transpose nodes followed from one initialiser
MAX_USES = 16  # consumers of one value recorded (a residual stream feeds q, k, v, shape ops and an Add)
QUANT_SUFFIXES = ("_quantized", "_quant", "_q", "_int8", "_uint8")
SCALE_SUFFIXES = ("_scale", "_scales")
ZERO_SUFFIXES = ("_zero_point", "_zp", "_zero")
CONV1D_LEAVES = frozenset({"c_attn", "c_proj", "c_fc"})  # GPT-2's Conv1D: its table expects [in, out]
_MODULE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+")
_QUANT_MATMULS = {  # op -> (slot of B, slot of B's scale or -1, slot of B's zero point or -1)
    "MatMulInteger": (1, -1, 3),
    "DynamicQuantizeMatMul": (1, 2, 3),
    "MatMulIntegerToFloat": (1, 3, 5),
    "QLinearMatMul": (3, 4, 5),
}
NORM_OPS = {  # op -> (slot of the scale, slot of the bias)
    "LayerNormalization": (1, 2),
    "SimplifiedLayerNormalization": (1, -1),
    "RMSNormalization": (1, -1),
    "SkipLayerNormalization": (2, 3),
    "SkipSimplifiedLayerNormalization": (2, -1),
}


@dataclass(frozen=True)
class Node:
    """One graph node, reduced to what the analysis needs."""

    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    ints: Mapping[str, int] = field(default_factory=dict)  # integer attributes (axis, transB, to, ...)
    int_lists: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # perm


class Use(Enum):
    """What the node consuming a (dequantised) initialiser does with it."""

    LINEAR = "linear"  # a matmul's weight
    GATHER = "gather"  # an embedding table
    NORM = "norm"  # a normalisation's scale
    NORM_BIAS = "norm_bias"
    BIAS = "bias"  # added to an activation
    OTHER = "other"


@dataclass(frozen=True)
class Quant:
    """How stored values become float: ``(values - zero) * scale``; the shapes broadcast against the
    stored array numpy-style (validated against the stored shape)."""

    scale: str
    scale_shape: tuple[int, ...]
    zero: str | None = None
    zero_shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class Traced:
    """One initialiser followed to its use."""

    values: str  # the stored initialiser
    quant: Quant | None
    value: str  # the graph value after dequantisation and transposes (what the use consumes)
    transposed: bool  # a Transpose between storage and use
    use: Use
    node: int | None  # index of the consuming node (None: no single recognised use)
    in_out: bool = False  # a linear weight as the use consumes it is [in, out] (MatMul B, Gemm transB=0)
    bias: str | None = None  # a linear weight's bias value (graph value name)


@dataclass(frozen=True)
class Named:
    """The name an initialiser is exposed under, and why."""

    name: str
    traced: Traced
    how: str  # "bias" | "own" | "value" | "structure" | "stored"
    transpose: bool  # expose the stored array transposed


class Graph:
    """Producers and consumers of every value, built in one pass over the nodes."""

    def __init__(self, nodes: list[Node], initialisers: Mapping[str, tuple[tuple[int, ...], str]],
                 small_ints: Mapping[str, tuple[int, ...]] | None = None) -> None:  # fmt: skip
        self.nodes = nodes
        self.init = initialisers  # name -> (shape, numpy dtype name)
        self.small_ints = small_ints or {}  # short integer constants (reshape shapes): value -> ints
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[tuple[int, int]]] = {}
        for i, n in enumerate(nodes):
            for out in n.outputs:
                self.producer.setdefault(out, i)
            for slot, name in enumerate(n.inputs):
                if name:
                    uses = self.consumers.setdefault(name, [])
                    if len(uses) <= MAX_USES:  # a value with thousands of consumers costs a few
                        uses.append((i, slot))

    def uses(self, value: str) -> list[tuple[int, int]]:
        return self.consumers.get(value, [])

    def constant(self, value: str) -> str | None:
        """The initialiser a value is, directly or through one Cast/Identity; else None."""
        if value in self.init:
            return value
        i = self.producer.get(value)
        if i is not None and self.nodes[i].op in ("Cast", "Identity") and self.nodes[i].inputs:
            src = self.nodes[i].inputs[0]
            return src if src in self.init else None
        return None


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _broadcast_shape(stored: tuple[int, ...], other: tuple[int, ...]) -> tuple[int, ...] | None:
    """``other`` padded to ``stored``'s rank when it broadcasts onto ``stored`` without growing it."""
    if len(other) > len(stored):
        if any(d != 1 for d in other[: len(other) - len(stored)]):
            return None
        other = other[len(other) - len(stored) :]
    padded = (1,) * (len(stored) - len(other)) + other
    return padded if all(o in (1, s) for o, s in zip(padded, stored, strict=True)) else None


def _axis_shape(stored: tuple[int, ...], n: int, axis: int) -> tuple[int, ...] | None:
    """DequantizeLinear's scale of ``n`` elements along ``axis`` as a broadcast shape."""
    if n == 1:
        return (1,) * len(stored)
    if not -len(stored) <= axis < len(stored) or stored[axis] != n:
        return None
    shape = [1] * len(stored)
    shape[axis % len(stored)] = n
    return tuple(shape)


def trace(g: Graph, name: str) -> Traced:
    """Follow initialiser ``name`` through dequantisation and transposes to its use."""
    shape, dtype = g.init[name]
    cur, quant, transposed, cast = name, None, False, False
    integer = dtype in ("int8", "uint8")
    zero: tuple[str, tuple[int, ...]] | None = None
    for _ in range(MAX_CHAIN):
        uses = g.uses(cur)
        if len(uses) != 1:
            break
        i, slot = uses[0]
        n = g.nodes[i]
        if not n.outputs:
            break
        nxt: str | None = None
        if n.op in ("Cast", "Identity") and slot == 0:
            cast = cast or n.op == "Cast"
            nxt = n.outputs[0]
        elif n.op == "Transpose" and slot == 0 and len(shape) == 2 and n.int_lists.get("perm", (1, 0)) == (1, 0):
            transposed = not transposed
            nxt = n.outputs[0]
        elif n.op == "DequantizeLinear" and slot == 0 and quant is None and not (cast or transposed) and len(n.inputs) >= 2:
            quant = _dequantize_linear(g, n, shape)
            nxt = n.outputs[0] if quant is not None else None
        elif n.op in ("Mul", "Sub") and quant is None and (cast or integer) and len(n.inputs) == 2 and not transposed:
            other = g.constant(n.inputs[1 - slot])
            bshape = _broadcast_shape(shape, g.init[other][0]) if other is not None else None
            if other is None or bshape is None or numel(bshape) >= numel(shape) > 1:
                break
            if n.op == "Sub" and slot == 0 and zero is None:
                zero = (other, bshape)
            elif n.op == "Mul":
                quant = Quant(other, bshape, *(zero or (None, ())))
            else:
                break
            nxt = n.outputs[0]
        if nxt is None:
            break
        cur = nxt
    if zero is not None and quant is None:  # a Sub without a scale: not a dequantisation we know
        return Traced(name, None, name, False, Use.OTHER, None)
    return _use(g, Traced(name, quant, cur, transposed, Use.OTHER, None))


def _dequantize_linear(g: Graph, n: Node, shape: tuple[int, ...]) -> Quant | None:
    if n.ints.get("block_size", 0):
        return None  # blocked quantisation (opset 21): not read
    scale = g.constant(n.inputs[1])
    zero = g.constant(n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else None
    if scale is None or (len(n.inputs) > 2 and n.inputs[2] and zero is None):
        return None
    axis = n.ints.get("axis", 1)
    sshape = _axis_shape(shape, numel(g.init[scale][0]), axis)
    zshape = _axis_shape(shape, numel(g.init[zero][0]), axis) if zero else ()
    if sshape is None or zshape is None or (zero is not None and numel(zshape) not in (1, numel(sshape))):
        return None
    return Quant(scale, sshape, zero, zshape)


def _use(g: Graph, t: Traced) -> Traced:
    """Classify how the traced value is used; a value with several different uses has none."""
    uses = g.uses(t.value)
    if len(uses) != 1:
        kinds = {g.nodes[i].op for i, _ in uses}
        if uses and kinds == {"Gather"} and all(slot == 0 for _, slot in uses):
            return _replace(t, Use.GATHER, uses[0][0])
        return t
    i, slot = uses[0]
    n = g.nodes[i]
    shape = g.init[t.values][0]
    if len(shape) == 2 and (n.op, slot) == ("MatMul", 1):
        return _replace(t, Use.LINEAR, i, in_out=True, bias=_added_bias(g, n))
    if len(shape) == 2 and (n.op, slot) == ("Gemm", 1):
        bias = n.inputs[2] if len(n.inputs) > 2 and n.inputs[2] else _added_bias(g, n)
        return _replace(t, Use.LINEAR, i, in_out=not n.ints.get("transB", 0), bias=bias)
    if len(shape) == 2 and n.op in _QUANT_MATMULS and slot == _QUANT_MATMULS[n.op][0] and t.quant is None and not t.transposed:
        return _quant_matmul(g, t, i)
    if (n.op, slot) == ("Gather", 0) and len(shape) == 2:
        return _replace(t, Use.GATHER, i)
    if n.op in NORM_OPS and len(shape) == 1:
        if slot == NORM_OPS[n.op][0]:
            return _replace(t, Use.NORM, i)
        if slot == NORM_OPS[n.op][1]:
            return _replace(t, Use.NORM_BIAS, i)
    if n.op == "Add" and len(n.inputs) == 2 and len(shape) == 1 and g.constant(n.inputs[1 - slot]) is None:
        return _replace(t, Use.BIAS, i)
    return _replace(t, Use.OTHER, i)


def _replace(t: Traced, use: Use, node: int, in_out: bool = False, bias: str | None = None) -> Traced:
    return Traced(t.values, t.quant, t.value, t.transposed, use, node, in_out, bias)


def _quant_matmul(g: Graph, t: Traced, i: int) -> Traced:
    """An integer matmul's B: its scale is an input of the node, or (MatMulInteger) a constant factor
    of the Mul that rescales the node's output."""
    n = g.nodes[i]
    b_slot, s_slot, z_slot = _QUANT_MATMULS[n.op]
    shape = g.init[t.values][0]
    scale = g.constant(n.inputs[s_slot]) if 0 <= s_slot < len(n.inputs) else _output_scale(g, n)
    zero = g.constant(n.inputs[z_slot]) if 0 <= z_slot < len(n.inputs) and n.inputs[z_slot] else None
    if scale is None:
        return _replace(t, Use.OTHER, i)
    # B is [in, out]: a per-column scale runs along axis 1
    sshape = _axis_shape(shape, numel(g.init[scale][0]), 1)
    zshape = _axis_shape(shape, numel(g.init[zero][0]), 1) if zero else ()
    if sshape is None or zshape is None:
        return _replace(t, Use.OTHER, i)
    out = _follow_casts(g, n.outputs[0]) if n.outputs else ""
    bias_node = g.nodes[g.uses(out)[0][0]] if len(g.uses(out)) == 1 else None
    quant = Quant(scale, sshape, zero, zshape)
    bias = _added_bias(g, bias_node) if bias_node is not None and bias_node.op == "Mul" else _added_bias(g, n)
    if n.op == "DynamicQuantizeMatMul" and len(n.inputs) > 4 and n.inputs[4]:
        bias = n.inputs[4]
    return Traced(t.values, quant, t.value, t.transposed, Use.LINEAR, i, True, bias)


def _follow_casts(g: Graph, value: str) -> str:
    for _ in range(2):
        uses = g.uses(value)
        if len(uses) != 1 or g.nodes[uses[0][0]].op != "Cast" or not g.nodes[uses[0][0]].outputs:
            break
        value = g.nodes[uses[0][0]].outputs[0]
    return value


def _output_scale(g: Graph, n: Node) -> str | None:
    """MatMulInteger's weight scale: Cast(output) * (a_scale * b_scale), b_scale an initialiser."""
    if not n.outputs:
        return None
    out = _follow_casts(g, n.outputs[0])
    uses = g.uses(out)
    if len(uses) != 1 or g.nodes[uses[0][0]].op != "Mul" or len(g.nodes[uses[0][0]].inputs) != 2:
        return None
    mul = g.nodes[uses[0][0]]
    factor = mul.inputs[1 - uses[0][1]]
    direct = g.constant(factor)
    if direct is not None:
        return direct
    j = g.producer.get(factor)
    if j is None or g.nodes[j].op != "Mul":
        return None
    found = [c for c in (g.constant(x) for x in g.nodes[j].inputs) if c is not None]
    return found[0] if len(found) == 1 else None


def _added_bias(g: Graph, n: Node) -> str | None:
    """The value added to a node's output by the one Add consuming it (through one Cast/Reshape-free
    step), when the other addend is a constant."""
    if not n.outputs:
        return None
    uses = g.uses(n.outputs[0])
    if len(uses) != 1:
        return None
    i, slot = uses[0]
    add = g.nodes[i]
    if add.op != "Add" or len(add.inputs) != 2:
        return None
    other = add.inputs[1 - slot]
    return other if bias_source(g, other) is not None else None


def bias_source(g: Graph, value: str) -> str | None:
    """The initialiser a bias value comes from: itself, through Cast/Identity, or DequantizeLinear /
    Cast+Mul of a quantised bias (a few steps back)."""
    for _ in range(MAX_CHAIN):
        if value in g.init:
            return value
        i = g.producer.get(value)
        if i is None:
            return None
        n = g.nodes[i]
        if n.op in ("Cast", "Identity", "DequantizeLinear") and n.inputs:
            value = n.inputs[0]
        elif n.op in ("Mul", "Sub") and len(n.inputs) == 2:
            sizes = [numel(g.init[x][0]) if x in g.init else -1 for x in n.inputs]
            value = n.inputs[0] if sizes[0] != 1 else n.inputs[1]  # the values, not the scalar scale
        else:
            return None
    return None


def strip_suffix(name: str, suffixes: tuple[str, ...]) -> str | None:
    for s in suffixes:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return None


def is_module_path(name: str) -> bool:
    """A dotted module path such as ``encoder.layer.0.attention.self.query.weight`` (not
    ``onnx::MatMul_12``, ``val_49`` or ``/encoder/MatMul_output_0``)."""
    return len(name) <= 400 and _MODULE_PATH.fullmatch(name) is not None


def bias_name(g: Graph, t: Traced, exposed: Mapping[str, str]) -> str | None:
    """``P.weight`` for a linear weight whose bias is exposed as ``P.bias``."""
    if t.use is not Use.LINEAR or t.bias is None:
        return None
    src = bias_source(g, t.bias)
    bias = exposed.get(src, src) if src is not None else None
    if bias is None or not bias.endswith(".bias") or not is_module_path(bias):
        return None
    return bias[: -len(".bias")] + ".weight"


def own_name(g: Graph, t: Traced) -> tuple[str, str] | None:
    """The initialiser's own name without a quantisation suffix, or the dequantised value's name,
    when it is a module path: ``(name, how)``."""
    if t.quant is not None:
        base = strip_suffix(t.values, QUANT_SUFFIXES)
        if base is not None and is_module_path(base):
            return base, "own"
    elif is_module_path(t.values):
        return t.values, "own"
    if t.value != t.values and is_module_path(t.value):
        return t.value, "value"
    return None


def expose_transposed(t: Traced, name: str, how: str) -> bool:
    """A graph-named linear weight is exposed ``[out, in]`` (GPT-2 Conv1D names: ``[in, out]``); a
    weight keeping its own name keeps its stored orientation."""
    if t.use is not Use.LINEAR or how in ("own", "stored"):
        return False
    stored_in_out = t.in_out != t.transposed  # the stored array is [in, out]
    leaf = name.rsplit(".", 2)[-2] if name.count(".") >= 1 else ""
    return stored_in_out != (leaf in CONV1D_LEAVES)


def graph_from_proto(graph: Any, max_nodes: int) -> list[Node]:
    """The graph's nodes (at most ``max_nodes``) with non-text names blanked."""
    nodes: list[Node] = []
    for n in graph.node[:max_nodes]:
        ints: dict[str, int] = {}
        lists: dict[str, tuple[int, ...]] = {}
        for a in n.attribute:
            if a.name in ("axis", "transA", "transB", "to", "block_size") and a.type == 2:  # INT
                ints[a.name] = int(a.i)
            elif a.name == "perm" and a.type == 7 and len(a.ints) <= 8:  # INTS
                lists[a.name] = tuple(int(x) for x in a.ints)
        nodes.append(Node(_text(n.op_type), tuple(_text(x) for x in n.input), tuple(_text(x) for x in n.output),
                          ints, lists))  # fmt: skip
    return nodes


MAX_SMALL = 8  # elements of an integer constant kept (reshape shapes)


def small_ints(graph: Any) -> dict[str, tuple[int, ...]]:
    """Short integer constants of the graph (int32/int64 initialisers and ``Constant`` nodes), by value
    name: the shapes attention reshapes to, from which head counts are read."""
    from onnx import numpy_helper

    out: dict[str, tuple[int, ...]] = {}
    protos = [(i.name, i) for i in graph.initializer if i.data_type in (6, 7)]
    for n in graph.node:
        if n.op_type == "Constant" and len(n.output) == 1:
            protos += [(n.output[0], a.t) for a in n.attribute if a.name == "value" and a.type == 4]  # TENSOR
    for name, t in protos:
        if not isinstance(name, str) or t.data_type not in (6, 7) or len(t.dims) > 1 or numel(tuple(t.dims)) > MAX_SMALL:
            continue
        if t.data_location == 1:  # EXTERNAL: not read for a shape constant
            continue
        try:
            out[name] = tuple(int(x) for x in np.asarray(numpy_helper.to_array(t)).reshape(-1)[:MAX_SMALL])
        except (ValueError, TypeError):
            continue
    return out


def _text(x: object) -> str:
    return x if isinstance(x, str) else ""


@dataclass
class Plan:
    """Every initialiser's exposed name (``named``: exposed -> how) and the parts absorbed into others."""

    named: dict[str, Named]
    hidden: set[str]
    skipped: dict[str, str] = field(default_factory=dict)  # initialiser -> why it is not exposed


Structure = Callable[[Graph, Mapping[str, Traced], Mapping[str, tuple[str, str]]], dict[str, str]]


def plan(g: Graph, structure: Structure | None = None) -> Plan:
    """Name every initialiser of ``g`` (see the module docstring); ``structure`` is a callable that
    names the linear weights and norms still anonymous (``(graph, traced, taken) -> {init: name}``)."""
    traced = {name: trace(g, name) for name in g.init}
    hidden = {p for t in traced.values() if t.quant for p in (t.quant.scale, t.quant.zero) if p}
    hidden -= {t.values for t in traced.values() if t.quant}  # a part that is itself a weight stays exposed
    traced = {k: t for k, t in traced.items() if k not in hidden}
    taken = {k for k, t in traced.items() if own_name(g, t) is None or own_name(g, t) == (k, "own")}
    chosen: dict[str, tuple[str, str]] = {}  # initialiser -> (name, how)

    def take(init: str, name: str, how: str) -> bool:
        if name != init and (name in taken or name in g.init):
            return False
        taken.add(name)
        chosen[init] = (name, how)
        return True

    for k, t in traced.items():  # own names first: they are the exporter's
        own = own_name(g, t)
        if own is not None and own[1] == "own":
            take(k, *own)
    exposed = {k: v[0] for k, v in chosen.items()}
    for k, t in traced.items():
        if k in chosen:
            continue
        found = bias_name(g, t, exposed)
        if found is None or not take(k, found, "bias"):
            own = own_name(g, t)
            if own is not None:
                take(k, *own)
    if structure is not None:
        anonymous = {k: t for k, t in traced.items() if k not in chosen}
        for k, name in structure(g, anonymous, chosen).items():
            take(k, name, "structure")
    named: dict[str, Named] = {}
    skipped: dict[str, str] = {}
    for k, t in traced.items():
        name, how = chosen.get(k, (k, "stored"))
        if how == "stored" and t.quant is None and numel(g.init[k][0]) <= 1 and t.use in (Use.OTHER, Use.BIAS):
            skipped[k] = "a scalar constant of the graph (an attention scale, a mask value, a GELU factor)"
            continue
        if name in named:  # two initialisers on one name: the later keeps its stored name
            name, how = k, "stored"
        named[name] = Named(name, t, how, expose_transposed(t, name, how))
    return Plan(named, hidden, skipped)
