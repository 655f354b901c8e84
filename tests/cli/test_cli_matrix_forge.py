"""`heredity matrix` on forged models whose lineage is known draws the tree they were built as."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heredity.cli.main import main


@pytest.mark.slow
def test_matrix_tree_matches_how_models_were_forged(quick_suite_root: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from heredity.forge.suite import build_suite

    cases = {c.id: c for c in build_suite(quick_suite_root, quick=True)}
    base = cases["rel-finetune"].a_path
    family_a = [base, cases["rel-finetune"].b_path, cases["rel-permute"].b_path]
    other = cases["ind-same-arch-seed"].b_path
    family_b = [other, cases["ind-permuted-independent"].b_path]  # other seed, and its permuted copy
    models = family_a + family_b
    assert main(["matrix", *models, "--format", "json", "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    tree = doc["tree"]
    names = doc["models"]
    assert len(tree["roots"]) == 2, tree
    assert len(tree["edges"]) == 3, tree
    parent_of = {e["child"]: e["parent"] for e in tree["edges"]}
    a_names, b_names = names[:3], names[3:]
    assert set(parent_of) == set(a_names[1:]) | {b_names[1]}
    assert all(parent_of[n] in a_names for n in a_names[1:]) and parent_of[b_names[1]] == b_names[0]
