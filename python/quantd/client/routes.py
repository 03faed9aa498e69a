"""Every route of the HTTP API the client calls, as (method, path template), and :class:`Call`:
one request to make, with how to read its answer. The sync and async clients send the same
calls; ``python/tests/client/test_schema.py`` checks :data:`ROUTES` against the server's
OpenAPI document in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar
from urllib.parse import quote

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """One operation of the API."""

    method: str
    path: str

    def url(self, **params: str | int) -> str:
        """The path with its ``{placeholders}`` filled (percent-encoded)."""
        return self.path.format(**{k: quote(str(v), safe="@") for k, v in params.items()})


#: Every route the client uses, by name.
ROUTES: dict[str, Route] = {}


def _route(name: str, method: str, path: str) -> Route:
    r = Route(method, path)
    ROUTES[name] = r
    return r


HEALTH = _route("health", "get", "/health")
HEALTH_READY = _route("health_ready", "get", "/health/ready")
HEALTH_PACK = _route("health_pack", "get", "/health/pack/{name}")
METRICS = _route("metrics", "get", "/metrics")
OPENAPI = _route("openapi", "get", "/v1/openapi.json")

LIST_CODE = _route("list_code", "get", "/v1/code")
ADD_CODE = _route("add_code", "post", "/v1/code/{name}")
SHOW_CODE = _route("show_code", "get", "/v1/code/{name}")
REMOVE_CODE = _route("remove_code", "delete", "/v1/code/{name}")
CODE_VERSION = _route("code_version", "get", "/v1/code/{name}/versions/{version}")
ROLLBACK_CODE = _route("rollback_code", "post", "/v1/code/{name}/rollback")
VALIDATE = _route("validate", "post", "/v1/validate")
PATTERN_SCHEMA = _route("pattern_schema", "get", "/v1/schemas/pattern.json")

SUBMIT = _route("submit", "post", "/v1/executions")
LIST_EXECUTIONS = _route("list_executions", "get", "/v1/executions")
CHECK_LOOKAHEAD = _route("check_lookahead", "post", "/v1/checks/lookahead")
EXECUTE = _route("execute", "post", "/v1/execute")
SHOW_EXECUTION = _route("show_execution", "get", "/v1/executions/{id}")
PAUSE = _route("pause", "post", "/v1/executions/{id}/pause")
RESUME = _route("resume", "post", "/v1/executions/{id}/resume")
CANCEL = _route("cancel", "post", "/v1/executions/{id}/cancel")
RETRY = _route("retry", "post", "/v1/executions/{id}/retry")
RESULTS = _route("results", "get", "/v1/executions/{id}/results")
EXECUTION_SUMMARY = _route("execution_summary", "get", "/v1/executions/{id}/summary")
REPORT = _route("report", "get", "/v1/executions/{id}/report")
TRADES = _route("trades", "get", "/v1/executions/{id}/trades")
EQUITY = _route("equity", "get", "/v1/executions/{id}/equity")
ORDERS = _route("orders", "get", "/v1/executions/{id}/orders")
EVENTS = _route("events", "get", "/v1/executions/{id}/events")
WORKSPACE_EVENTS = _route("workspace_events", "get", "/v1/events")
HISTORY = _route("history", "get", "/v1/history")
SUMMARY = _route("summary", "get", "/v1/summary")

LIST_PACKS = _route("list_packs", "get", "/v1/packs")
UPLOAD_PACK = _route("upload_pack", "post", "/v1/packs")
SHOW_PACK = _route("show_pack", "get", "/v1/packs/{name}")
SET_PACK_PROVIDER = _route("set_pack_provider", "put", "/v1/packs/{name}/provider")

LIST_AGENTS = _route("list_agents", "get", "/v1/agents")
ADD_AGENT = _route("add_agent", "post", "/v1/agents/{name}")
REMOVE_AGENT = _route("remove_agent", "delete", "/v1/agents/{name}")
LIST_PROVIDERS = _route("list_providers", "get", "/v1/rights")
RIGHTS_LOG = _route("rights_log", "get", "/v1/rights/log")
ADD_PROVIDER = _route("add_provider", "post", "/v1/rights/{name}")
REMOVE_PROVIDER = _route("remove_provider", "delete", "/v1/rights/{name}")
GET_POLICY = _route("get_policy", "get", "/v1/policy")
SET_POLICY = _route("set_policy", "put", "/v1/policy")
LIST_WEBHOOKS = _route("list_webhooks", "get", "/v1/webhooks")
ADD_WEBHOOK = _route("add_webhook", "post", "/v1/webhooks")
REMOVE_WEBHOOK = _route("remove_webhook", "delete", "/v1/webhooks/{id}")
WEBHOOK_DELIVERIES = _route("webhook_deliveries", "get", "/v1/webhooks/{id}/deliveries")

#: Routes of the API the client leaves out on purpose, with why.
NOT_COVERED: dict[tuple[str, str], str] = {
    ("get", "/v1/executions/{id}/ws"): "the same events as the SSE stream, which the client follows",
}


def read_json(resp: httpx.Response) -> Any:
    """The response's JSON as it is."""
    return resp.json()


def read_text(resp: httpx.Response) -> str:
    """The response's text (Markdown, Prometheus)."""
    return resp.text


def read_nothing(resp: httpx.Response) -> None:
    """Nothing: a 204."""
    return None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request: route, path parameters, query, body, headers; ``read`` turns a successful
    response into the result."""

    route: Route
    path: dict[str, str | int] = field(default_factory=dict)
    query: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] | None = None
    read: Callable[[httpx.Response], T] = read_json  # type: ignore[assignment]

    @property
    def url(self) -> str:
        """The request's path."""
        return self.route.url(**self.path)

    def query_params(self) -> dict[str, str] | None:
        """The query without unset values; booleans as ``true``/``false``."""
        if not self.query:
            return None
        out = {}
        for k, v in self.query.items():
            if v is None:
                continue
            out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        return out or None


def no_content(route: Route, json: Any = None, **path: str | int) -> Call[None]:
    """A call whose answer has no body (204)."""
    return Call(route, path=dict(path), json=json, read=read_nothing)
