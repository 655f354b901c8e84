"""Tiny transformer graphs written as ONNX the way exporters write them, with known weights.

:func:`export` builds a BERT-like encoder (post-norm), a llama-like decoder (pre-norm, gated MLP) or a
GPT-2-like decoder (pre-norm, fused qkv) from numpy weights with :mod:`onnx.helper`, in one of the
naming styles exporters produce:

- ``named``: parameters keep their module names, ``[out, in]``, transposed by a ``Transpose`` node;
- ``torchscript``: linear weights are anonymous transposed copies ``onnx::MatMul_N`` ``[in, out]``,
  biases named and added as ``Add(bias, MatMul)``;
- ``int8``: the dynamo exporter plus a post-hoc int8 pass: ``val_N_q`` int8 ``[in, out]`` and
  ``val_N_scale`` ``[1, out]`` dequantised by ``Cast`` + ``Mul``; embeddings ``X_q`` + ``X_scale``;
- ``qdq``: onnxruntime's QDQ format: ``onnx::MatMul_N_quantized`` uint8 with a per-column scale and
  zero point through ``DequantizeLinear(axis=1)``;
- ``anonymous``: nothing named (``val_N`` weights, biases, norms and tables), q/k/v and gate/up
  emitted out of order, so only the graph's structure can name them.

The ground truth (``Exported.weights``) is keyed by ``(role, layer)`` in torch ``Linear`` orientation,
dequantised where the style quantises (what a reader must return).  Used by the tests and as fuzz seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STYLES = ("named", "torchscript", "int8", "qdq", "anonymous")
ARCHS = ("bert", "llama", "gpt2")


@dataclass
class Exported:
    model: Any  # onnx.ModelProto
    weights: dict[tuple[str, int | None], np.ndarray]  # (role, layer) -> canonical float32 tensor
    names: dict[tuple[str, int | None], str] = field(default_factory=dict)  # (role, layer) -> stored name


@dataclass
class _Builder:
    style: str
    rng: np.random.Generator
    nodes: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)
    truth: dict[tuple[str, int | None], np.ndarray] = field(default_factory=dict)
    names: dict[tuple[str, int | None], str] = field(default_factory=dict)
    counter: int = 100

    def fresh(self, stem: str = "t") -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self.fresh("v")
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def const(self, value: Any, dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = self.fresh("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def init(self, array: np.ndarray, name: str) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def vector(self, role: str, layer: int | None, module: str, n: int, leaf: str, scale: float = 0.1) -> str:
        """A bias or norm vector (float32 in every style; anonymous in the anonymous style)."""
        v = (self.rng.normal(size=n) * scale + (1.0 if leaf == "weight" and "norm" in role else 0.0)).astype(np.float32)
        name = self.fresh("val") if self.style == "anonymous" else f"{module}.{leaf}"
        self.truth[(role, layer)] = v
        self.names[(role, layer)] = self.init(v, name)
        return name

    def linear(self, x: str, role: str, layer: int | None, module: str, n_in: int, n_out: int,
               bias_role: str | None) -> str:  # fmt: skip
        """``x @ W.T (+ b)`` with ``W`` ``[out, in]`` stored in this style; returns the output value."""
        w = (self.rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        value, truth, stored = self.weight(w, f"{module}.weight")
        self.truth[(role, layer)], self.names[(role, layer)] = truth, stored
        y = self.node("MatMul", [x, value])
        if bias_role is None:
            return y
        b = self.vector(bias_role, layer, module, n_out, "bias")
        return self.node("Add", [b, y] if self.style == "torchscript" else [y, b])

    def weight(self, w: np.ndarray, name: str) -> tuple[str, np.ndarray, str]:
        """Store ``w`` ``[out, in]`` so that the returned value is ``W.T`` ``[in, out]``; the truth is
        what a reader should give back (dequantised), the stored name the initialiser's."""
        if self.style == "named" and name.rsplit(".", 2)[-2] in ("c_attn", "c_proj", "c_fc"):
            return self.init(np.ascontiguousarray(w.T), name), w, name  # GPT-2 Conv1D: stored [in, out]
        if self.style == "named":
            return self.node("Transpose", [self.init(w, name)], perm=[1, 0]), w, name
        if self.style in ("torchscript",):
            stored = f"onnx::MatMul_{self.fresh('n').split('_')[1]}"
            return self.init(np.ascontiguousarray(w.T), stored), w, stored
        if self.style in ("int8", "anonymous"):
            base = self.fresh("val")
            wt = np.ascontiguousarray(w.T)  # [in, out]
            scale = (np.abs(wt).max(axis=0, keepdims=True) / 127).astype(np.float32)  # [1, out]
            q = np.clip(np.round(wt / scale), -127, 127).astype(np.int8)
            self.init(q, base + "_q")
            self.init(scale, base + "_scale")
            f = self.node("Cast", [base + "_q"], to=1)
            return self.node("Mul", [f, base + "_scale"]), (q.astype(np.float32) * scale).T, base + "_q"
        # qdq: uint8 with a zero point per column
        base = f"onnx::MatMul_{self.fresh('n').split('_')[1]}"
        wt = np.ascontiguousarray(w.T)
        lo, hi = wt.min(axis=0), wt.max(axis=0)
        scale = ((hi - lo) / 255).astype(np.float32)
        zero = np.clip(np.round(-lo / scale), 0, 255).astype(np.uint8)
        q = np.clip(np.round(wt / scale) + zero, 0, 255).astype(np.uint8)
        names = [self.init(q, base + "_quantized"), self.init(scale, base + "_scale"), self.init(zero, base + "_zero_point")]
        truth = ((q.astype(np.float32) - zero.astype(np.float32)) * scale).T
        return self.node("DequantizeLinear", names, axis=1), truth, base + "_quantized"

    def table(self, role: str, module: str, rows: int, hidden: int) -> str:
        """An embedding table gathered by row; int8 style quantises it per row."""
        w = self.rng.normal(size=(rows, hidden)).astype(np.float32)
        if self.style in ("int8",):
            scale = (np.abs(w).max(axis=1, keepdims=True) / 127).astype(np.float32)
            q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            self.init(q, f"{module}.weight_q")
            self.init(scale, f"{module}.weight_scale")
            f = self.node("Cast", [f"{module}.weight_q"], to=1)
            from onnx import helper

            self.nodes.append(helper.make_node("Mul", [f, f"{module}.weight_scale"], [f"{module}.weight"]))
            self.truth[(role, None)], self.names[(role, None)] = q * scale, f"{module}.weight_q"
            return f"{module}.weight"
        name = self.fresh("val") if self.style == "anonymous" else f"{module}.weight"
        self.truth[(role, None)], self.names[(role, None)] = w, self.init(w, name)
        return name

    def norm(self, x: str, role: str, layer: int | None, module: str, hidden: int, bias: bool = True) -> str:
        w = self.vector(role, layer, module, hidden, "weight")
        inputs = [x, w, self.vector(role + "_bias", layer, module, hidden, "bias")] if bias else [x, w]
        return self.node("LayerNormalization", inputs, axis=-1, epsilon=1e-5)


def _attention(b: _Builder, x: str, layer: int, hidden: int, heads: int, mod: dict[str, str],
               biases: bool, kv_heads: int | None = None) -> str:  # fmt: skip
    """Multi-head self-attention (grouped: ``kv_heads`` key/value heads, each repeated for its queries);
    the projections are emitted v, k, q in the anonymous style."""
    d = hidden // heads
    kv = kv_heads or heads
    order = ("v", "k", "q") if b.style == "anonymous" else ("q", "k", "v")
    proj = {}
    for r in order:
        n = heads if r == "q" else kv
        y = b.linear(x, r, layer, mod[r], hidden, n * d, r + "_bias" if biases else None)
        proj[r] = b.node("Transpose", [b.node("Reshape", [y, b.const([0, 0, n, d], np.int64)])], perm=[0, 2, 1, 3])
        if n != heads:
            proj[r] = b.node("Concat", [proj[r]] * (heads // n), axis=1)
    kt = b.node("Transpose", [proj["k"]], perm=[0, 1, 3, 2])
    scores = b.node("Mul", [b.node("MatMul", [proj["q"], kt]), b.const(1.0 / np.sqrt(hidden // heads))])
    ctx = b.node("MatMul", [b.node("Softmax", [scores], axis=-1), proj["v"]])
    merged = b.node("Reshape", [b.node("Transpose", [ctx], perm=[0, 2, 1, 3]), b.const([0, 0, hidden], np.int64)])
    return b.linear(merged, "o", layer, mod["o"], hidden, hidden, "o_bias" if biases else None)


def _gelu(b: _Builder, x: str) -> str:
    erf = b.node("Erf", [b.node("Div", [x, b.const(np.sqrt(2.0))])])
    return b.node("Mul", [b.node("Mul", [x, b.node("Add", [erf, b.const(1.0)])]), b.const(0.5)])


def export(arch: str = "bert", style: str = "named", layers: int = 2, hidden: int = 16, ffn: int = 48,
           heads: int = 4, vocab: int = 40, seed: int = 0, kv_heads: int | None = None) -> Exported:  # fmt: skip
    """A tiny ``arch`` graph in ``style`` (see the module docstring), checked by ``onnx.checker``;
    ``kv_heads`` (llama only) makes the attention grouped."""
    import onnx
    from onnx import TensorProto, helper

    if arch not in ARCHS or style not in STYLES:
        raise ValueError(f"arch in {ARCHS}, style in {STYLES}")
    b = _Builder(style, np.random.default_rng(seed))
    ids = "input_ids"
    if arch == "bert":
        x = b.node("Gather", [b.table("embed", "embeddings.word_embeddings", vocab, hidden), ids], axis=0)
        x = b.node("Add", [x, b.node("Gather", [b.table("type_embed", "embeddings.token_type_embeddings", 2, hidden),
                                                "token_type_ids"], axis=0)])  # fmt: skip
        positions = b.const(np.arange(8).reshape(1, 8), np.int64)
        x = b.node("Add", [x, b.node("Gather", [b.table("pos_embed", "embeddings.position_embeddings", 32, hidden),
                                                positions], axis=0)])  # fmt: skip
        x = b.norm(x, "embed_norm", None, "embeddings.LayerNorm", hidden)
        for i in range(layers):
            p = f"encoder.layer.{i}."
            mod = {"q": p + "attention.self.query", "k": p + "attention.self.key", "v": p + "attention.self.value",
                   "o": p + "attention.output.dense"}  # fmt: skip
            x = b.norm(b.node("Add", [_attention(b, x, i, hidden, heads, mod, True), x]), "post_attn_norm", i,
                       p + "attention.output.LayerNorm", hidden)  # fmt: skip
            h = _gelu(b, b.linear(x, "mlp_up", i, p + "intermediate.dense", hidden, ffn, "mlp_up_bias"))
            h = b.linear(h, "mlp_down", i, p + "output.dense", ffn, hidden, "mlp_down_bias")
            x = b.norm(b.node("Add", [h, x]), "post_mlp_norm", i, p + "output.LayerNorm", hidden)
    else:
        gpt2 = arch == "gpt2"
        x = b.node("Gather", [b.table("embed", "transformer.wte" if gpt2 else "model.embed_tokens", vocab, hidden),
                              ids], axis=0)  # fmt: skip
        for i in range(layers):
            x = _decoder_layer(b, x, i, hidden, ffn, heads, gpt2, kv_heads)
        x = b.norm(x, "final_norm", None, "transformer.ln_f" if gpt2 else "model.norm", hidden, bias=gpt2)
        x = b.linear(x, "lm_head", None, "lm_head", hidden, vocab, None)
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, [1, 8]) for n in
            (("input_ids", "token_type_ids") if arch == "bert" else ("input_ids",))]  # fmt: skip
    graph = helper.make_graph(b.nodes, "tiny", ints, [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 8, None])],
                              initializer=b.inits)  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return Exported(model, b.truth, b.names)


def _decoder_layer(b: _Builder, x: str, i: int, hidden: int, ffn: int, heads: int, gpt2: bool,
                   kv_heads: int | None) -> str:  # fmt: skip
    if gpt2:
        p = f"transformer.h.{i}."
        return _gpt2_layer(b, x, i, hidden, ffn, heads, p)
    p = f"model.layers.{i}."
    mod = {r: p + f"self_attn.{r}_proj" for r in "qkvo"}
    h = b.norm(x, "attn_norm", i, p + "input_layernorm", hidden, bias=False)
    x = b.node("Add", [x, _attention(b, h, i, hidden, heads, mod, False, kv_heads)])
    h = b.norm(x, "mlp_norm", i, p + "post_attention_layernorm", hidden, bias=False)
    first = ("up", "gate") if b.style == "anonymous" else ("gate", "up")
    out = {r: b.linear(h, f"mlp_{r}", i, p + f"mlp.{r}_proj", hidden, ffn, None) for r in first}
    act = b.node("Mul", [out["gate"], b.node("Sigmoid", [out["gate"]])])
    down = b.linear(b.node("Mul", [act, out["up"]]), "mlp_down", i, p + "mlp.down_proj", ffn, hidden, None)
    return b.node("Add", [x, down])


def _gpt2_layer(b: _Builder, x: str, i: int, hidden: int, ffn: int, heads: int, p: str) -> str:
    """GPT-2: one fused qkv projection (stored Conv1D-style ``[in, 3*hidden]`` when named), split in three."""
    h = b.norm(x, "attn_norm", i, p + "ln_1", hidden)
    qkv = b.linear(h, "qkv", i, p + "attn.c_attn", hidden, 3 * hidden, "qkv_bias")
    from onnx import helper

    parts = [b.fresh("v") for _ in range(3)]
    b.nodes.append(helper.make_node("Split", [qkv, b.const([hidden] * 3, np.int64)], parts, axis=-1))
    shape = b.const([0, 0, heads, hidden // heads], np.int64)
    q, k, v = (b.node("Transpose", [b.node("Reshape", [t, shape])], perm=[0, 2, 1, 3]) for t in parts)
    scores = b.node("MatMul", [q, b.node("Transpose", [k], perm=[0, 1, 3, 2])])
    ctx = b.node("MatMul", [b.node("Softmax", [scores], axis=-1), v])
    merged = b.node("Reshape", [b.node("Transpose", [ctx], perm=[0, 2, 1, 3]), b.const([0, 0, hidden], np.int64)])
    x = b.node("Add", [x, b.linear(merged, "o", i, p + "attn.c_proj", hidden, hidden, "o_bias")])
    h = b.norm(x, "mlp_norm", i, p + "ln_2", hidden)
    h = _gelu(b, b.linear(h, "mlp_up", i, p + "mlp.c_fc", hidden, ffn, "mlp_up_bias"))
    return b.node("Add", [x, b.linear(h, "mlp_down", i, p + "mlp.c_proj", ffn, hidden, "mlp_down_bias")])
