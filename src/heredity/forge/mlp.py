"""The dense feed-forward blocks the forge's models use (a gated MLP, glm4's fused gate_up MLP).

They sit below :mod:`.modeling`, :mod:`.moe` and :mod:`.moge`, which all build on them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh") if name == "gelu_tanh" else F.silu(x)


class MLP(nn.Module):
    """Gated MLP: down(act(gate(x)) * up(x)).  HF names gate_proj / up_proj / down_proj."""

    def __init__(self, C: int, width: int, act: str = "silu") -> None:
        super().__init__()
        self.act = act
        self.gate_proj = nn.Linear(C, width, bias=False)
        self.up_proj = nn.Linear(C, width, bias=False)
        self.down_proj = nn.Linear(width, C, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(activation(self.act, self.gate_proj(x)) * self.up_proj(x))


class FusedMLP(nn.Module):
    """glm4's MLP: one gate_up_proj whose first half is the gate, second half the up projection."""

    def __init__(self, C: int, width: int) -> None:
        super().__init__()
        self.gate_up_proj = nn.Linear(C, 2 * width, bias=False)
        self.down_proj = nn.Linear(width, C, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
