"""Readers behind one :func:`open_checkpoint`."""

from heredity.checkpoint.base import Checkpoint, MemoryCheckpoint, TensorInfo

__all__ = ["Checkpoint", "MemoryCheckpoint", "TensorInfo"]
