"""Print the README's "Supported architectures" table, generated from ``src/heredity/layouts/data``.

Run ``python scripts/gen_arch_table.py`` and paste the output into the README; a test checks that
every family table appears, so the README cannot silently fall behind the data.
"""

from __future__ import annotations

from heredity.layouts.registry import all_layouts
from heredity.layouts.roles import Role
from heredity.layouts.schema import Layout


def features(layout: Layout) -> list[str]:
    """The canonicalisation steps and structural traits a table declares, in words."""
    entries = layout.entries
    out: list[str] = []
    roles = {r for e in entries for r in e.roles}
    if Role.KV_A in roles:
        out.append("MLA attention")
    if Role.Q_NORM in roles:
        out.append("q/k norms")
    if layout.is_moe:
        out.append("MoE experts")
    if any(e.fused_experts for e in entries):
        out.append("fused expert tensors")
    if any(len(e.roles) > 1 for e in entries):
        out.append("fused tensors split")
    if any(e.transpose for e in entries):
        out.append("[in, out] storage transposed")
    if any(e.plus_one for e in entries):
        out.append("norms 1 + w")
    if any(e.unpermute for e in entries):
        out.append("q/k rows un-permuted")
    if layout.expert_groups_from:
        out.append("expert groups = experts per token")
    return out


def aliases(layout: Layout) -> str:
    families = sorted({f for e in layout.entries for a in e.aliases for f in a.families})
    return ", ".join(families) or "-"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    lines = [
        "| family | recognised by | also reads names of | canonicalisation / structure | notes |",
        "|---|---|---|---|---|",
    ]
    for lay in all_layouts():
        by = ", ".join(f"`{a}`" for a in lay.architectures) or ", ".join(f"`{f}` format" for f in lay.formats)
        lines.append(
            f"| `{lay.family}` | {cell(by)} | {cell(aliases(lay))} | {cell(', '.join(features(lay)) or '-')} "
            f"| {cell(lay.comment)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
