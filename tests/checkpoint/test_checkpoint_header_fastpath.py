"""The column-wise check of a safetensors header (:func:`_plain_entries`) accepts what the per-entry
checks accept, with the same entries, and leaves every fault to them: on a big generated header and
on it with one field made hostile, parsing gives the same header or the same error either way."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest

from heredity.checkpoint import safetensors_header
from heredity.checkpoint.safetensors_header import parse_header
from heredity.errors import InputError

_SIZES = {"F32": 4, "BF16": 2, "F8_E4M3": 1, "I64": 8, "BOOL": 1}


def _doc(n: int, seed: int = 0) -> tuple[dict[str, Any], int]:
    """A valid header of ``n`` tensors (shuffled storage order, some empty) and its data size."""
    rng = np.random.default_rng(seed)
    doc: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for i in rng.permutation(n):
        dtype = list(_SIZES)[i % len(_SIZES)]
        shape = [int(d) for d in rng.integers(0, 4, size=i % 4)]
        size = _SIZES[dtype] * int(np.prod(shape, dtype=np.int64))
        doc[f"model.layers.{i % 61}.t{i}.weight"] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    return doc, offset


def _outcome(raw: bytes, file_size: int) -> Any:
    try:
        return parse_header(raw, file_size, "x.safetensors")
    except InputError as exc:
        return type(exc), str(exc)


def _both(raw: bytes, file_size: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = _outcome(raw, file_size)
    with monkeypatch.context() as m:
        m.setattr(safetensors_header, "_plain_entries", lambda *a: None)
        slow = _outcome(raw, file_size)
    return fast, slow


def test_a_big_valid_header_parses_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    doc, size = _doc(20_000)
    raw = json.dumps(doc).encode()
    fast, slow = _both(raw, 8 + len(raw) + size, monkeypatch)
    assert fast == slow and len(fast.entries) == 20_000
    names = [k for k in doc if k != "__metadata__"]  # and it was the column-wise check that passed it
    specs = [doc[k] for k in names]
    assert safetensors_header._plain_entries(names, specs, 8 + len(raw), size, tuple, ()) is not None


_HOSTILE: list[tuple[str, Any]] = [
    ("dtype", "X"), ("dtype", 4), ("dtype", None), ("dtype", ["F32"]),
    ("shape", [True]), ("shape", [1.0]), ("shape", [-1]), ("shape", [[1]]), ("shape", [1] * 17), ("shape", "1"),
    ("shape", [2**70]), ("shape", {"a": 1}),
    ("data_offsets", [0]), ("data_offsets", [0, 1, 2]), ("data_offsets", [True, 1]), ("data_offsets", [-1, 3]),
    ("data_offsets", [5, 1]), ("data_offsets", [0, 2**70]), ("data_offsets", [0.0, 4]), ("data_offsets", None),
    ("data_offsets", [0, 10**9]), ("data_offsets", [0, 3]), ("extra", 1), ("extra", {"k": [1]}),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), _HOSTILE)
def test_one_hostile_field_gives_the_same_error(field: str, value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    doc, size = _doc(500, seed=len(field))
    for victim in (1, 250, 500):  # the first, a middle and the last tensor in file order
        bad = copy.deepcopy(doc)
        bad[list(bad)[victim]][field] = value
        raw = json.dumps(bad).encode()
        fast, slow = _both(raw, 8 + len(raw) + size, monkeypatch)
        assert fast == slow


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.__setitem__("model.layers.0.bad.weight", [1, 2]),  # an entry that is not an object
        lambda d: d[list(d)[3]].pop("shape"),  # a missing key
        lambda d: d.__setitem__("__metadata__", {"format": 1}),  # metadata that is not strings
        lambda d: d.__setitem__("__metadata__", "pt"),
        lambda d: d.__setitem__("z.overlap.weight", {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}),
        lambda d: d.pop("__metadata__"),
        lambda d: [d.pop(k) for k in list(d) if k != "__metadata__"],  # metadata only
        lambda d: d.clear(),
    ],
)
def test_structural_faults_give_the_same_error(edit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    doc, size = _doc(300, seed=3)
    edit(doc)
    raw = json.dumps(doc).encode()
    for file_size in (8 + len(raw) + size, 8 + len(raw) + size - 1, 8 + len(raw)):
        fast, slow = _both(raw, file_size, monkeypatch)
        assert fast == slow


def test_metadata_and_tensor_faults_are_named_in_file_order(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = '"t": {"dtype": "X", "shape": [], "data_offsets": [0, 4]}'
    for text in ('{"__metadata__": 1, ' + entry + "}", "{" + entry + ', "__metadata__": 1}'):
        fast, slow = _both(text.encode(), 8 + len(text) + 4, monkeypatch)
        assert fast == slow


def test_duplicate_keys_are_refused_by_name() -> None:
    text = '{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4], "dtype": "F32"}}'
    with pytest.raises(InputError, match="duplicate key dtype"):
        parse_header(text.encode(), 8 + len(text) + 4, "x.safetensors")
    text = '{"a": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, "a": {}}'
    with pytest.raises(InputError, match="duplicate key a"):
        parse_header(text.encode(), 8 + len(text) + 4, "x.safetensors")


def _slow_too(raw: bytes, file_size: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(the normal parse, the parse with no column-wise or bare-JSON shortcut)."""
    fast = _outcome(raw, file_size)
    with monkeypatch.context() as m:
        m.setattr(safetensors_header, "_parse_plain", lambda *a: None)
        m.setattr(safetensors_header, "_plain_entries", lambda *a: None)
        slow = _outcome(raw, file_size)
    return fast, slow


_E = '{"dtype": "F32", "shape": [1], "data_offsets": [%d, %d]}'


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ' + _E % (0, 4) + ', "a": ' + _E % (4, 8) + "}",  # a tensor named twice
        '{"a": {"dtype": "F32", "dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}',  # a key twice
        '{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "shape": [1]}}',
        '{"__metadata__": {"k": "v", "k": "w"}, "a": ' + _E % (0, 4) + "}",
        '{"__metadata__": {"k": "v"}, "__metadata__": {}, "a": ' + _E % (0, 4) + "}",
        '{"a:b": ' + _E % (0, 4) + ', "a:b": ' + _E % (4, 8) + "}",  # colons inside repeated names
        '{"__metadata__": {"k:": ":v:"}, "x::": ' + _E % (0, 4) + ', "y": ' + _E % (4, 8) + "}",  # valid
        '{"a\\u003a": ' + _E % (0, 4) + ', "a:": ' + _E % (4, 8) + "}",  # an escaped colon: the same name
        '{"\\u0061": ' + _E % (0, 4) + ', "b": ' + _E % (4, 8) + "}",  # escapes, valid
        '{"a": ' + _E % (0, 4) + ', "b": ' + _E % (4, 8) + "}",
        '{"a": ' + _E % (0, 4) + ', "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8], "x": ":"}}',
        "{}",
        '{"__metadata__": {}}',
    ],
)
def test_repeated_keys_are_caught_without_the_hook(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = text.encode()
    fast, slow = _slow_too(raw, 8 + len(raw) + 8, monkeypatch)
    assert fast == slow
    if "duplicate" in str(slow):
        assert isinstance(fast, tuple) and "duplicate key" in fast[1]


def test_a_plain_header_takes_the_bare_json_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    doc, size = _doc(5_000, seed=4)
    doc["__metadata__"]["note"] = "a: b"
    raw = json.dumps(doc).encode()
    assert safetensors_header._parse_plain(raw, 8 + len(raw), size, tuple, ()) is not None
    fast, slow = _slow_too(raw, 8 + len(raw) + size, monkeypatch)
    assert fast == slow
