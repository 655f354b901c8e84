"""MoGE routing: exactly K/G experts in every group per token, Pangu-style weights, and the
measured load balance against plain top-K routing of the same size on real text."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from heredity.forge.balance import compare, routing_ids  # noqa: E402
from heredity.forge.config import preset  # noqa: E402
from heredity.forge.data import encode, load_corpus  # noqa: E402
from heredity.forge.modeling import build  # noqa: E402
from heredity.forge.moge import MoGE, balance_loss, expert_imbalance, grouped_topk, imbalance_score  # noqa: E402


def _per_group_counts(ids: torch.Tensor, experts: int, groups: int) -> torch.Tensor:
    """(N, G) number of chosen experts of each token in each group."""
    group = ids // (experts // groups)
    return torch.stack([(group == g).sum(-1) for g in range(groups)], dim=-1)


@pytest.mark.parametrize(("experts", "groups", "k"), [(8, 4, 4), (8, 2, 4), (12, 3, 6), (16, 4, 8)])
def test_every_token_takes_k_over_g_distinct_experts_in_every_group(experts: int, groups: int, k: int) -> None:
    probs = torch.softmax(torch.randn(500, experts, generator=torch.Generator().manual_seed(experts + k)), -1)
    w, ids = grouped_topk(probs, groups, k // groups)
    assert ids.shape == (500, k)
    assert torch.all(_per_group_counts(ids, experts, groups) == k // groups)
    assert all(len(set(row.tolist())) == k for row in ids)
    # within each group they are that group's largest probabilities
    per = experts // groups
    for g in range(groups):
        block = probs[:, g * per : (g + 1) * per]
        top = torch.topk(block, k // groups, dim=-1).values.sum(-1)
        chosen = w[:, g * (k // groups) : (g + 1) * (k // groups)].sum(-1)
        assert torch.allclose(top, chosen)


def test_routing_invariant_holds_in_a_trained_model_on_real_text() -> None:
    cfg = preset("pangu_pro_moe")
    model = build(cfg, seed=2)
    idx = torch.from_numpy(encode(load_corpus("almanac")[:600]).reshape(4, 150))
    for ids in routing_ids(model, idx):
        assert torch.all(_per_group_counts(ids, cfg.num_experts, cfg.expert_groups) == 1)


def test_router_scale_multiplies_unnormalised_softmax_weights() -> None:
    cfg = preset("pangu_pro_moe")
    layer = MoGE(cfg)
    with torch.no_grad():
        layer.router_scale.copy_(torch.arange(1.0, cfg.num_experts + 1.0)[None, :])
    h = torch.randn(7, cfg.hidden_size)
    w, ids = layer.route(h)
    probs = torch.softmax(layer.gate(h), -1)
    assert torch.allclose(w, probs.gather(1, ids) * (ids + 1).float(), atol=1e-6)
    assert not torch.allclose(w.sum(-1), torch.ones(7))  # no renormalisation


def test_imbalance_scores_on_known_loads() -> None:
    ids = torch.tensor([[0], [0], [0], [1]])  # 4 tokens, 4 experts, 2 devices: loads 4 / 0
    assert imbalance_score(ids, 4, 2) == pytest.approx((4 - 0) / 4)  # (max - min device load) / tokens
    assert expert_imbalance(ids, 4) == pytest.approx((3 - 1) / 1)
    balanced = torch.tensor([[0], [1], [2], [3]])
    assert imbalance_score(balanced, 4, 2) == 0.0 and expert_imbalance(balanced, 4) == 0.0


@pytest.mark.slow
def test_moge_balances_devices_better_than_topk_on_real_batches() -> None:
    """Measured (train 120 steps on fables, route almanac batches): MoGE device IS is 0 by design;
    the top-K twin's is positive.  Numbers are printed for the log."""
    result = compare(load_corpus("fables"), steps=120, seed=0, eval_text=load_corpus("almanac"))
    print({k: vars(v) for k, v in result.items()})
    assert result["moge"].device_is == 0.0
    assert result["topk"].device_is > 0.0
    assert result["moge"].device_is <= result["topk"].device_is


def test_balance_loss_is_one_when_balanced_and_larger_when_not() -> None:
    uniform = torch.full((8, 4), 0.25)
    assert balance_loss(uniform, torch.arange(8)[:, None] % 4).item() == pytest.approx(1.0)
    skewed = torch.tensor([[0.7, 0.1, 0.1, 0.1]]).repeat(8, 1)
    assert balance_loss(skewed, torch.zeros(8, 1, dtype=torch.long)).item() == pytest.approx(4 * 0.7)


@pytest.mark.slow
def test_balance_loss_evens_out_experts_inside_groups() -> None:
    """MoGE fixes device balance by construction; the auxiliary loss is what balances experts."""
    plain = compare(load_corpus("fables"), steps=120, seed=0, eval_text=load_corpus("almanac"))
    aux = compare(load_corpus("fables"), steps=120, seed=0, eval_text=load_corpus("almanac"), aux_weight=0.01)
    print({"plain": vars(plain["moge"]), "aux": vars(aux["moge"])})
    assert aux["moge"].device_is == 0.0
    assert aux["moge"].expert_imbalance < plain["moge"].expert_imbalance
