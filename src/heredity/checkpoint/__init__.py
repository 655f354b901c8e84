"""Readers behind one :func:`open_checkpoint`."""

from heredity.checkpoint.base import Checkpoint, MemoryCheckpoint, TensorInfo
from heredity.checkpoint.open import open_checkpoint

__all__ = ["Checkpoint", "MemoryCheckpoint", "TensorInfo", "open_checkpoint"]
