"""heredity.forge — ground truth: tiny models of real families, trained and derived on a CPU.

Modules (one idea each; torch is imported only by the ones that build or train models):

* ``config`` / ``hf_config`` — :class:`ForgeConfig`, per-family traits, and the HF config.json.
* ``modeling`` — the decoder (exact HF tensor names); ``moe`` (Mixtral, Qwen2-MoE); ``moge``
  (Pangu Pro MoE's grouped routing and the imbalance score); ``balance`` (MoGE vs top-K, measured).
* ``data`` (byte tokenizer, bundled corpora), ``train`` (seeded AdamW trainer), ``io`` (folders).
* ``derive/`` — fine-tune, LoRA, upcycle, prune, merge, rename, quantise, permute, rescale.
* ``cache`` / ``suite`` — the cached, labelled pairs the benchmark scores (``build_suite``).
"""
