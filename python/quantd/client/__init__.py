"""quantd's Python client: drive a quantd server from outside — notebooks, scripts, services.

::

    from quantd.client import Client

    client = Client()                      # $QUANTD_URL and $QUANTD_TOKEN
    ex = client.start(kind="scan", expr="rsi(close, 14) < 30", pack="demo")
    ex.wait(progress=True)                 # a tqdm bar, following the execution's event stream
    df = ex.results()                      # a pandas DataFrame, read from Parquet

It talks HTTP only (httpx) and never imports the in-sandbox SDK's harness; install it with
``pip install "./python[client]"``. docs/client.md walks through it and lists every method.
"""

from quantd.client._async import AsyncClient, AsyncExecution
from quantd.client._sync import Client, Execution
from quantd.client.config import TOKEN_ENV, URL_ENV
from quantd.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    ExecutionFailed,
    Forbidden,
    InvalidCode,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    QuantdError,
    ServerError,
    StreamError,
    Unauthorized,
    Unavailable,
)
from quantd.client.models import (
    CodeAdded,
    CodeNameView,
    CodeVersionView,
    Diagnostic,
    Event,
    Example,
    Executed,
    ExecutionView,
    LookaheadRequest,
    PackView,
    Page,
    Problem,
    RequestOptions,
    SandboxLimits,
    StrategyExprs,
    SubmitRequest,
    Submitted,
    Validated,
)
from quantd.client.version import __version__

__all__ = [
    "AsyncClient",
    "AsyncExecution",
    "Client",
    "Execution",
    "TOKEN_ENV",
    "URL_ENV",
    "ApiError",
    "BadRequest",
    "Conflict",
    "ExecutionFailed",
    "Forbidden",
    "InvalidCode",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "QuantdError",
    "ServerError",
    "StreamError",
    "Unauthorized",
    "Unavailable",
    "CodeAdded",
    "CodeNameView",
    "CodeVersionView",
    "Diagnostic",
    "Event",
    "Example",
    "Executed",
    "ExecutionView",
    "LookaheadRequest",
    "PackView",
    "Page",
    "Problem",
    "RequestOptions",
    "SandboxLimits",
    "StrategyExprs",
    "SubmitRequest",
    "Submitted",
    "Validated",
    "__version__",
]
