"""Typed Pydantic models and a typed client for The Cancer Imaging Archive (TCIA) REST API."""

# The public names, in one list: type checkers read them here, and ``__init__.py`` loads each
# on first use (``_lazy``), so ``import tcia_models`` costs the models, not httpx.
from ._async.client import AsyncTCIAClient as AsyncTCIAClient
from ._download import DownloadOutcome as DownloadOutcome
from ._download import DownloadResult as DownloadResult
from ._exceptions import APIConnectionError as APIConnectionError
from ._exceptions import APIStatusError as APIStatusError
from ._exceptions import APITimeoutError as APITimeoutError
from ._exceptions import AuthenticationError as AuthenticationError
from ._exceptions import BadRequestError as BadRequestError
from ._exceptions import DownloadError as DownloadError
from ._exceptions import InvalidParameterError as InvalidParameterError
from ._exceptions import NotFoundError as NotFoundError
from ._exceptions import RateLimitError as RateLimitError
from ._exceptions import ResponseFormatError as ResponseFormatError
from ._exceptions import ResponseTooLargeError as ResponseTooLargeError
from ._exceptions import ServerError as ServerError
from ._exceptions import StorageError as StorageError
from ._exceptions import TCIAError as TCIAError
from ._generated import *  # noqa: F403
from ._html import html_to_text as html_to_text
from ._model import TCIAModel as TCIAModel
from ._model import dicom_tags as dicom_tags
from ._plan import DownloadPlan as DownloadPlan
from ._plan import PlannedSeries as PlannedSeries
from ._plan import Shard as Shard
from ._report import Citation as Citation
from ._report import citations as citations
from ._specs import ParameterSpec as ParameterSpec
from ._specs import QuerySpec as QuerySpec
from ._sync.client import TCIAClient as TCIAClient
from ._version import __version__ as __version__
from .layouts import LAYOUTS as LAYOUTS
from .layouts import Layout as Layout
from .manifests import Manifest as Manifest
from .manifests import manifest_text as manifest_text
from .manifests import read_manifest as read_manifest
from .manifests import write_manifest as write_manifest
from .parsing import parse as parse
from .tables import arrow_schema as arrow_schema
from .tables import parse_table as parse_table
