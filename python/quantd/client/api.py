"""The operations of the API, grouped as the client shows them (``client.packs``,
``client.code``, ``client.executions``, ``client.agents``, ``client.rights``,
``client.policy``, ``client.webhooks``).

Each method builds one :class:`~quantd.client.routes.Call` and hands it to the client's
``send``: the sync client answers with the result, the async one with an awaitable of it, so
the two share these classes. Streams, uploads and downloads differ between the two and live
in ``_sync.py`` and ``_async.py``.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import httpx

from quantd.client import routes as r
from quantd.client.models import (
    CodeAdded,
    CodeBody,
    CodeNameView,
    CodeVersionView,
    ExecutionView,
    Live,
    OrdersPage,
    PackHealth,
    PackView,
    Page,
    Ready,
    StrategyExprs,
    Submitted,
    Validated,
    decode,
    to_json,
)
from quantd.client.routes import Call, no_content

Send = Callable[[Call[Any]], Any]


def reader(tp: Any) -> Callable[[httpx.Response], Any]:
    """Reads a response's JSON as type ``tp``."""
    return lambda resp: decode(tp, resp.json())


def unwrap_watermark(data: Any) -> tuple[Any, Any]:
    """``(rows, watermark)`` of derived data, which a ``watermark`` pack wraps as
    ``{watermark, rows}`` (docs/rights.md)."""
    if isinstance(data, dict) and "watermark" in data and "rows" in data:
        return data["rows"], data["watermark"]
    return data, None


def _orders_page(resp: httpx.Response) -> OrdersPage:
    rows, watermark = unwrap_watermark(resp.json())
    page = decode(OrdersPage, rows)
    page.watermark = watermark
    return page


class Namespace:
    """A group of operations sharing the client's ``send``."""

    def __init__(self, send: Send) -> None:
        self._send = send


class Packs(Namespace):
    """The shared catalog of market data (uploads: see the client's ``packs.upload``)."""

    def list(self, *, after: str | None = None, limit: int | None = None) -> Page[PackView]:
        """One page of packs, newest first."""
        return self._send(
            Call(r.LIST_PACKS, query={"after": after, "limit": limit}, read=reader(Page[PackView]))
        )

    def show(self, name: str) -> PackView:
        """A pack by name (its fresh version), id or id prefix."""
        return self._send(Call(r.SHOW_PACK, path={"name": name}, read=reader(PackView)))

    def health(self, name: str) -> PackHealth:
        """The pack's freshness (``fresh``, ``warming``, ``stale``, ``error``)."""
        return self._send(Call(r.HEALTH_PACK, path={"name": name}, read=reader(PackHealth)))

    def set_provider(self, name: str, provider: str | None) -> None:
        """Admin: the provider of the rights registry whose terms the pack takes (``None``:
        its own)."""
        return self._send(no_content(r.SET_PACK_PROVIDER, json={"provider": provider}, name=name))


def _code_body(
    expr: str | None,
    python: str | None,
    strategy: StrategyExprs | dict[str, str] | None,
    pattern: dict[str, Any] | str | None,
) -> Any:
    given = [v for v in (expr, python, strategy, pattern) if v is not None]
    if len(given) != 1:
        raise TypeError("give exactly one of expr=, python=, strategy= or pattern=")
    return to_json(CodeBody(expr=expr, python=python, strategy=strategy, pattern=pattern))


class Code(Namespace):
    """The workspace's stored scanners, strategies and patterns: immutable, numbered versions
    under names."""

    def list(self, *, after: str | None = None, limit: int | None = None) -> Page[CodeNameView]:
        """One page of the workspace's code names."""
        return self._send(
            Call(r.LIST_CODE, query={"after": after, "limit": limit}, read=reader(Page[CodeNameView]))
        )

    def show(self, ref: str) -> CodeVersionView:
        """The version ``NAME`` resolves to, or ``NAME@N``."""
        return self._send(Call(r.SHOW_CODE, path={"name": ref}, read=reader(CodeVersionView)))

    def version(self, name: str, version: int) -> CodeVersionView:
        """Version ``version`` of ``name``."""
        return self._send(
            Call(r.CODE_VERSION, path={"name": name, "version": version}, read=reader(CodeVersionView))
        )

    def deploy(
        self,
        name: str,
        *,
        expr: str | None = None,
        python: str | None = None,
        strategy: StrategyExprs | dict[str, str] | None = None,
        pattern: dict[str, Any] | str | None = None,
    ) -> CodeAdded:
        """Stores a new version of ``name`` (checked first: invalid code raises
        :class:`~quantd.client.InvalidCode` with line and column). Storing the current content
        again adds nothing (``unchanged``)."""
        body = _code_body(expr, python, strategy, pattern)
        return self._send(Call(r.ADD_CODE, path={"name": name}, json=body, read=reader(CodeAdded)))

    def remove(self, name: str) -> None:
        """Removes the name (its versions stay for the executions that used them)."""
        return self._send(no_content(r.REMOVE_CODE, name=name))

    def rollback(self, name: str, to: int | None = None) -> CodeVersionView:
        """Points ``name`` back at version ``to`` (default: the one before the current)."""
        body = {} if to is None else {"to": to}
        return self._send(
            Call(r.ROLLBACK_CODE, path={"name": name}, json=body, read=reader(CodeVersionView))
        )

    def validate(
        self,
        *,
        expr: str | None = None,
        python: str | None = None,
        strategy: StrategyExprs | dict[str, str] | None = None,
        pattern: dict[str, Any] | str | None = None,
    ) -> Validated:
        """Checks code without storing it: :class:`~quantd.client.InvalidCode` (line, column,
        help) when it does not check."""
        body = _code_body(expr, python, strategy, pattern)
        return self._send(Call(r.VALIDATE, json=body, read=reader(Validated)))

    def pattern_schema(self) -> dict[str, Any]:
        """The JSON Schema of pattern documents."""
        return self._send(Call(r.PATTERN_SCHEMA))


ListFilter = dict[str, Any]


def list_query(
    *,
    name: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    since: str | None = None,
    after: str | None = None,
    limit: int | None = None,
    parent: str | None = None,
    steps: bool | None = None,
) -> ListFilter:
    """The query of execution lists and history."""
    return {
        "name": name,
        "kind": kind,
        "state": state,
        "since": since,
        "after": after,
        "limit": limit,
        "parent": parent,
        "steps": steps,
    }


class Executions(Namespace):
    """Executions by id (start them with ``client.start``; follow them with
    ``client.execution(id)``)."""

    def list(self, **filters: Any) -> Page[ExecutionView]:
        """One page of the workspace's executions, newest first. Filters: ``name``, ``kind``,
        ``state``, ``since`` (date or RFC 3339), ``after`` (the previous page's ``next``),
        ``limit`` (1–1000), ``parent``, ``steps``."""
        return self._send(
            Call(r.LIST_EXECUTIONS, query=list_query(**filters), read=reader(Page[ExecutionView]))
        )

    def get(self, id: str) -> ExecutionView:
        """An execution: state, progress, health, fingerprint, timings."""
        return self._send(Call(r.SHOW_EXECUTION, path={"id": id}, read=reader(ExecutionView)))

    def pause(self, id: str) -> ExecutionView:
        """Pauses (:class:`~quantd.client.Conflict` when its state does not allow it)."""
        return self._send(Call(r.PAUSE, path={"id": id}, read=reader(ExecutionView)))

    def resume(self, id: str) -> ExecutionView:
        """Resumes a paused execution."""
        return self._send(Call(r.RESUME, path={"id": id}, read=reader(ExecutionView)))

    def cancel(self, id: str) -> ExecutionView:
        """Cancels; committed results stay readable."""
        return self._send(Call(r.CANCEL, path={"id": id}, read=reader(ExecutionView)))

    def retry(self, id: str, from_steps: list[str] | None = None) -> Submitted:
        """Runs a finished pattern execution again from ``from_steps`` (default: the steps that
        did not complete), reusing the rest: a new execution."""
        body = {"from": from_steps} if from_steps else {}
        return self._send(Call(r.RETRY, path={"id": id}, json=body, read=reader(Submitted)))

    def summary(self, id: str) -> dict[str, Any]:
        """``{execution, kind, state, summary}``: the stored summary (``None`` until it
        completed)."""
        return self._send(Call(r.EXECUTION_SUMMARY, path={"id": id}))

    def report(self, id: str, format: Literal["json", "md"] = "json") -> Any:
        """The A+ report of a test, or the look-ahead report of a check: a dict
        (``{execution, report}``), or Markdown text with ``format="md"``."""
        read = r.read_text if format == "md" else r.read_json
        return self._send(Call(r.REPORT, path={"id": id}, query={"format": format}, read=read))

    def trades_json(self, id: str) -> Any:
        """A backtest's trades as the server sends them (``[{ticker, trades, open_trade}]``)."""
        return self._send(Call(r.TRADES, path={"id": id}))

    def equity_json(self, id: str) -> Any:
        """A backtest's equity curves as the server sends them (``[{ticker, points}]``)."""
        return self._send(Call(r.EQUITY, path={"id": id}))

    def orders_page(self, id: str, *, after: int | None = None, limit: int | None = None) -> OrdersPage:
        """One page of a paper session's record (order and session-day events)."""
        return self._send(
            Call(r.ORDERS, path={"id": id}, query={"after": after, "limit": limit}, read=_orders_page)
        )

    def history(self, **filters: Any) -> Page[ExecutionView]:
        """Past executions, as ``quantd history`` (the filters of :meth:`list`)."""
        return self._send(
            Call(r.HISTORY, query=list_query(**filters), read=reader(Page[ExecutionView]))
        )


class Agents(Namespace):
    """The workspace's agents for pattern ``call`` steps (docs/agents.md)."""

    def list(self) -> list[dict[str, Any]]:
        """Every agent, with its circuit breaker."""
        return self._send(Call(r.LIST_AGENTS))

    def add(
        self,
        name: str,
        url: str,
        capabilities: list[str],
        *,
        secret_env: str | None = None,
        breaker: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Registers (or replaces) an agent."""
        body = {"url": url, "capabilities": capabilities, "secret_env": secret_env, "breaker": breaker}
        return self._send(
            Call(r.ADD_AGENT, path={"name": name}, json={k: v for k, v in body.items() if v is not None})
        )

    def remove(self, name: str) -> None:
        """Removes an agent."""
        return self._send(no_content(r.REMOVE_AGENT, name=name))


class Rights(Namespace):
    """The rights registry: data providers and their terms (docs/rights.md)."""

    def list(self) -> list[dict[str, Any]]:
        """The providers, by name."""
        return self._send(Call(r.LIST_PROVIDERS))

    def add(
        self,
        name: str,
        *,
        export: Literal["allow", "watermark", "deny"] = "allow",
        license: str | None = None,
        attribution: str | None = None,
        environments: list[str] | None = None,
    ) -> dict[str, Any]:
        """Admin: adds or replaces a provider."""
        body = {
            "export": export,
            "license": license,
            "attribution": attribution,
            "environments": environments,
        }
        return self._send(
            Call(r.ADD_PROVIDER, path={"name": name}, json={k: v for k, v in body.items() if v is not None})
        )

    def remove(self, name: str) -> None:
        """Admin: removes a provider no pack names."""
        return self._send(no_content(r.REMOVE_PROVIDER, name=name))

    def log(
        self,
        *,
        exports: bool | None = None,
        execution: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The audit trail, newest first: ``{items, next}``."""
        query = {"exports": exports, "execution": execution, "after": after, "limit": limit}
        return self._send(Call(r.RIGHTS_LOG, query=query))


class Policy(Namespace):
    """The workspace's policy: the defaults its executions start from."""

    def get(self) -> dict[str, Any]:
        """The policy (``{"retry": {...}, ...}``)."""
        return self._send(Call(r.GET_POLICY))

    def set(self, policy: dict[str, Any]) -> dict[str, Any]:
        """Stores the policy (``{}`` clears it)."""
        return self._send(Call(r.SET_POLICY, json=policy))


class Webhooks(Namespace):
    """URLs told when the workspace's executions end (docs/webhooks.md)."""

    def list(self) -> list[dict[str, Any]]:
        """Every webhook of the workspace."""
        return self._send(Call(r.LIST_WEBHOOKS))

    def add(self, url: str, *, events: list[str] | None = None, secret: str | None = None) -> dict[str, Any]:
        """Registers a webhook; the answer shows its ``secret`` (only here)."""
        body = {"url": url, "events": events, "secret": secret}
        return self._send(Call(r.ADD_WEBHOOK, json={k: v for k, v in body.items() if v is not None}))

    def remove(self, id: str) -> None:
        """Removes a webhook."""
        return self._send(no_content(r.REMOVE_WEBHOOK, id=id))

    def deliveries(self, id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Its deliveries, newest first, with every attempt."""
        return self._send(Call(r.WEBHOOK_DELIVERIES, path={"id": id}, query={"limit": limit}))


def health_call() -> Call[Live]:
    """``GET /health``."""
    return Call(r.HEALTH, read=reader(Live))


def ready_call() -> Call[Ready]:
    """``GET /health/ready``."""
    return Call(r.HEALTH_READY, read=reader(Ready))
