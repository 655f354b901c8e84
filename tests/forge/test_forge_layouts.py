"""Every forged family is recognised by the layouts tables with no unknown tensor: the forge and
the layouts agree on the names (the contract between the two).  Runs once the layouts loader and
the checkpoint readers are importable."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
layouts_load = pytest.importorskip("heredity.layouts.load", exc_type=ImportError)
try:  # load_model opens folders through the checkpoint package's front door
    from heredity.checkpoint import open_checkpoint  # noqa: F401
except ImportError:  # pragma: no cover - only while the checkpoint package is being assembled
    pytest.skip("heredity.checkpoint.open_checkpoint is not exported yet", allow_module_level=True)

from heredity.forge.config import FAMILIES, preset  # noqa: E402
from heredity.forge.io import save_model  # noqa: E402
from heredity.forge.modeling import build  # noqa: E402


@pytest.mark.parametrize("family", list(FAMILIES))
def test_layouts_map_every_forged_tensor(family: str, tmp_path: Path) -> None:
    cfg = preset(family)
    save_model(build(cfg, seed=1), tmp_path)
    model = layouts_load.load_model(tmp_path)
    assert model.unknown == []
    assert not model.spec.inferred
    assert model.spec.family == family  # the forge and the layouts name every family the same
    assert model.spec.layers == cfg.num_layers and model.spec.hidden_size == cfg.hidden_size
    if cfg.num_experts:
        assert model.spec.experts == cfg.num_experts
        assert model.spec.experts_per_token == cfg.experts_per_tok


def test_layouts_see_moge_groups_and_router_scale(tmp_path: Path) -> None:
    cfg = preset("pangu_pro_moe")
    save_model(build(cfg, seed=1), tmp_path)
    model = layouts_load.load_model(tmp_path)
    assert model.spec.expert_groups == cfg.expert_groups
    counts = model.role_counts()
    assert counts["router_scale"] == cfg.num_layers and counts["o_bias"] == cfg.num_layers
    assert counts["expert_up"] == cfg.num_layers * cfg.num_experts
