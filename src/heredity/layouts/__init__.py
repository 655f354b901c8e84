"""Family layouts: tensor names -> (layer, role, expert), and the canonical :class:`Model` view."""

from heredity.layouts.load import load_model
from heredity.layouts.model import Model, ModelSpec, TensorRef
from heredity.layouts.roles import Role

__all__ = ["Model", "ModelSpec", "Role", "TensorRef", "load_model"]
