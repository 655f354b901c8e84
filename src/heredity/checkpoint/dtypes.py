"""Stored element types: the safetensors names, their numpy equivalents, and conversion to float32.

One table serves the safetensors reader and every writer, so a name such as ``"BF16"`` means the
same bytes everywhere.  bfloat16 and the float8 types come from ``ml_dtypes`` (numpy has none);
``ml_dtypes`` is imported only when one of those dtype objects is asked for (its import registers
casts for a dozen types and takes about 0.5 s), and readers decode bfloat16 without it: a bfloat16
is the upper half of a float32, so ``decode_float32(bits, "BF16")`` is a shift.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

# safetensors dtype name -> itemsize, in the order error messages list them
ITEMSIZE: dict[str, int] = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}  # fmt: skip
_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}  # fmt: skip
_ML_DTYPES = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


class _Dtypes(Mapping[str, np.dtype]):
    """safetensors dtype name -> numpy dtype of one stored element (little-endian); the ml_dtypes
    entries are made on first access."""

    def __getitem__(self, name: str) -> np.dtype:
        if name in _NUMPY:
            return np.dtype(_NUMPY[name])
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, _ML_DTYPES[name]))

    def __iter__(self) -> Iterator[str]:
        return iter(ITEMSIZE)

    def __len__(self) -> int:
        return len(ITEMSIZE)

    def __contains__(self, name: object) -> bool:
        return name in ITEMSIZE


SAFETENSORS_DTYPES: Mapping[str, np.dtype] = _Dtypes()

# the inverse, for writers: numpy dtype -> safetensors name (ml_dtypes types by their dtype name)
_NAME_OF: dict[np.dtype, str] = {np.dtype(code): name for name, code in _NUMPY.items()}
_NAME_OF_ML: dict[str, str] = {attr: name for name, attr in _ML_DTYPES.items()}

# dtypes a writer may be asked to convert to
WRITABLE = ("F32", "F16", "BF16")


def storage_dtype(name: str) -> np.dtype:
    """The numpy dtype readers view stored bytes as: bfloat16 as its 16 bits (``<u2``), so reading
    needs no ml_dtypes; :func:`decode_float32` turns the bits into values."""
    return np.dtype("<u2") if name == "BF16" else SAFETENSORS_DTYPES[name]


def decode_float32(raw: np.ndarray, name: str) -> np.ndarray:
    """Elements viewed with :func:`storage_dtype` ``(name)`` as a fresh C-contiguous float32 array."""
    out = np.empty(raw.shape, np.float32)
    decode_into(raw, name, out)
    return out


def decode_into(raw: np.ndarray, name: str, out: np.ndarray) -> None:
    """Write the values of ``raw`` (viewed with :func:`storage_dtype`) into float32 ``out``, same shape."""
    if name == "BF16":
        bits = out.view(np.uint32)
        bits[...] = raw
        bits <<= 16
    else:
        np.copyto(out, raw, casting="unsafe")  # as np.array(raw, float32): bool -> 0/1, ints -> nearest


def safetensors_name(dtype: np.dtype) -> str:
    """The safetensors name of a numpy dtype; ``ValueError`` for types the format cannot hold."""
    key = np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).byteorder == ">" else np.dtype(dtype)
    name = _NAME_OF.get(key) or _NAME_OF_ML.get(key.name)
    if name is None:
        raise ValueError(f"safetensors cannot store dtype {dtype}")
    return name


def convert(array: np.ndarray, name: str | None) -> np.ndarray:
    """``array`` as stored type ``name`` (``None`` keeps its type), little-endian and C-contiguous."""
    if name is None:
        target = np.dtype(array.dtype)
        if target.byteorder == ">":
            target = target.newbyteorder("<")
    elif name in WRITABLE:
        target = SAFETENSORS_DTYPES[name]
    else:
        raise ValueError(f"cannot convert to dtype {name!r}; choose one of {', '.join(WRITABLE)}")
    return np.asarray(array, dtype=target, order="C")  # keeps 0-d arrays 0-d


def to_float32(raw: np.ndarray) -> np.ndarray:
    """Stored elements as a fresh C-contiguous float32 array (bool -> 0/1, ints exactly where they fit)."""
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: data, reported by the scan
        return np.array(raw, dtype=np.float32, order="C", copy=True)
