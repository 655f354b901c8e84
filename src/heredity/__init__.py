"""heredity: was this LLM checkpoint derived from that one, or trained independently?

Public entry points:

- :func:`heredity.checkpoint.open_checkpoint` — open any checkpoint lazily (inventory + ``read``).
- :func:`heredity.layouts.load_model` — a canonical, role-addressed view of a checkpoint.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
