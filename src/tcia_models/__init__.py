"""Typed Pydantic models and a typed client for The Cancer Imaging Archive (TCIA) REST API."""

from . import _generated
from ._generated import *  # noqa: F403  (every model, and QUERIES: the generated __all__ lists them)
from ._model import TCIAModel, dicom_tags
from ._specs import ParameterSpec, QuerySpec

__all__ = ["ParameterSpec", "QuerySpec", "TCIAModel", "dicom_tags"]
__all__ += _generated.__all__
