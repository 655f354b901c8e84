"""Stored element types: the safetensors names, their numpy equivalents, and conversion to float32.

One table serves the safetensors reader and every writer, so a name such as ``"BF16"`` means the
same bytes everywhere.  bfloat16 and the float8 types come from ``ml_dtypes`` (numpy has none).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

# safetensors dtype name -> numpy dtype of one stored element (little-endian)
SAFETENSORS_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

# the inverse, for writers: numpy dtype -> safetensors name
_NAME_OF: dict[np.dtype, str] = {dt: name for name, dt in SAFETENSORS_DTYPES.items()}

# dtypes a writer may be asked to convert to
WRITABLE = ("F32", "F16", "BF16")


def safetensors_name(dtype: np.dtype) -> str:
    """The safetensors name of a numpy dtype; ``ValueError`` for types the format cannot hold."""
    key = np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).byteorder == ">" else np.dtype(dtype)
    try:
        return _NAME_OF[key]
    except KeyError:
        raise ValueError(f"safetensors cannot store dtype {dtype}") from None


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
