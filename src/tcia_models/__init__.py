"""Typed Pydantic models and a typed client for The Cancer Imaging Archive (TCIA) REST API."""

from . import _generated
from ._async_client import AsyncTCIAClient
from ._client import TCIAClient
from ._download import DownloadOutcome, DownloadResult
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    InvalidParameterError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    TCIAError,
)
from ._generated import *  # noqa: F403  (every model, and QUERIES: the generated __all__ lists them)
from ._model import TCIAModel, dicom_tags
from ._specs import ParameterSpec, QuerySpec, TabularFormat
from .parsing import parse

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncTCIAClient",
    "AuthenticationError",
    "BadRequestError",
    "DownloadError",
    "DownloadOutcome",
    "DownloadResult",
    "InvalidParameterError",
    "NotFoundError",
    "ParameterSpec",
    "QuerySpec",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "TCIAClient",
    "TCIAError",
    "TCIAModel",
    "TabularFormat",
    "dicom_tags",
    "parse",
]
__all__ += _generated.__all__
