"""Train (or continue training) a forge model on text: AdamW, cosine schedule, seeded throughout.

``train`` returns the model and the per-step training losses; everything that decides the result
(seed, data order, init) is an argument, so two calls with equal arguments give equal weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from heredity.forge.config import ForgeConfig
from heredity.forge.data import VOCAB, batches, encode
from heredity.forge.modeling import ForgeLM, build


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser settings; defaults train a tiny model in about a minute on 2 cores."""

    lr: float = 3e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # final lr = lr * min_lr_ratio (cosine decay)
    warmup: int = 20  # linear warm-up steps
    batch: int = 16  # sequences per step
    seq: int = 64  # tokens per sequence
    weight_decay: float = 0.01  # AdamW decoupled decay on matrices
    grad_clip: float = 1.0  # global grad-norm clip
    aux_weight: float = 0.0  # weight of MoGE layers' load-balancing loss (0 = off)


def lr_at(step: int, steps: int, s: TrainSettings) -> float:
    """Linear warm-up then cosine decay to lr * min_lr_ratio."""
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    frac = (step - s.warmup) / max(1, steps - s.warmup)
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def make_optimizer(model: torch.nn.Module, s: TrainSettings) -> torch.optim.Optimizer:
    """AdamW; decay only on 2-D weights (not norms, biases, router scales)."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2 and p.shape[0] > 1]
    rest = [p for p in params if not (p.ndim >= 2 and p.shape[0] > 1)]
    groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=s.lr, betas=(0.9, 0.95))


def loss_on(model: ForgeLM, x: np.ndarray, y: np.ndarray) -> torch.Tensor:
    """Mean next-token cross-entropy.  x, y (B, T) token ids."""
    logits = model(torch.from_numpy(x))  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))


def aux_losses(model: ForgeLM) -> torch.Tensor:
    """Sum of the load-balancing losses the MoGE layers recorded in the last forward."""
    from heredity.forge.moge import MoGE

    return sum((m.aux_loss for m in model.modules() if isinstance(m, MoGE)), torch.zeros(()))


@contextmanager
def one_thread() -> Iterator[None]:
    """Train on one CPU thread: tiny matrices gain nothing from more, results do not depend on the
    machine's core count, and a busy machine does not make threads spin-wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(model: ForgeLM, text: str, steps: int, seed: int, s: TrainSettings,
        log: Callable[[int, float], None] | None = None) -> list[float]:
    """Run ``steps`` optimiser steps on ``text`` in place; returns the training losses."""
    with one_thread():
        return _fit(model, text, steps, seed, s, log)


def _fit(model: ForgeLM, text: str, steps: int, seed: int, s: TrainSettings,
         log: Callable[[int, float], None] | None) -> list[float]:
    torch.manual_seed(seed)
    stream = batches(encode(text), s.batch, min(s.seq, model.cfg.max_seq_len), seed)
    opt = make_optimizer(model, s)
    model.train()
    losses = []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, s)
        x, y = next(stream)
        loss = loss_on(model, x, y)
        if s.aux_weight:
            loss = loss + s.aux_weight * aux_losses(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        losses.append(float(loss.item()))
        if log is not None:
            log(step, losses[-1])
    return losses


def train(cfg: ForgeConfig, corpus_text: str, steps: int, seed: int, init_from: ForgeLM | None = None,
          lr: float = 3e-3, settings: TrainSettings | None = None,
          log: Callable[[int, float], None] | None = None) -> tuple[ForgeLM, list[float]]:
    """Train a model of ``cfg`` from a seeded init (or continue ``init_from``, copied) on ``corpus_text``."""
    assert cfg.vocab_size >= VOCAB, "byte-level data needs vocab_size >= 256"
    s = settings or TrainSettings(lr=lr)
    if init_from is not None:
        assert init_from.cfg == cfg, "continue-training keeps the configuration"
        model = ForgeLM(cfg)
        model.load_state_dict(init_from.state_dict())
    else:
        model = build(cfg, seed)
    losses = fit(model, corpus_text, steps, seed, s, log)
    return model.eval(), losses


@torch.no_grad()
def evaluate(model: ForgeLM, text: str, seed: int = 0, batches_n: int = 4, s: TrainSettings | None = None) -> float:
    """Mean loss on ``batches_n`` seeded batches of ``text`` (no gradient)."""
    s = s or TrainSettings()
    stream = batches(encode(text), s.batch, min(s.seq, model.cfg.max_seq_len), seed)
    model.eval()
    return float(np.mean([loss_on(model, *next(stream)).item() for _ in range(batches_n)]))
