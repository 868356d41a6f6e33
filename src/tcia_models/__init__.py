"""Typed Pydantic models and a typed client for The Cancer Imaging Archive (TCIA) REST API."""

from . import _generated
from ._lazy import attach

# Every name loads on first use: the ones __init__.pyi lists, and the generated models and
# specs of ``_generated``. ``from tcia_models import Series`` costs pydantic and one model.
__getattr__, __dir__, __all__ = attach(__name__, __file__, fallback=_generated)
