"""The asyncio client (:class:`AsyncClient`) and :class:`AsyncExecution`: the same operations
as the sync client, awaited (``await client.packs.list()``); streams are async iterators."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Literal, TypeVar

import httpx

from quantd.client import api, frames
from quantd.client import routes as r
from quantd.client._sync import STREAM_READ_TIMEOUT, _results_query
from quantd.client.bodies import CHUNK, UPLOAD_TYPES, request_body, upload_format, upload_query
from quantd.client.config import resolve
from quantd.client.errors import ExecutionFailed
from quantd.client.http import DEFAULT_TIMEOUT, check, error_of, headers
from quantd.client.models import (
    CodeVersionView,
    Event,
    Executed,
    ExecutionView,
    LookaheadRequest,
    Live,
    PackView,
    Page,
    Ready,
    SubmitRequest,
    Submitted,
    UploadAccepted,
    decode,
)
from quantd.client.progress import ProgressBar
from quantd.client.routes import Call
from quantd.client.sse import Follower, Parser

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

T = TypeVar("T")
Item = TypeVar("Item")


async def aiterate(list_page: Callable[..., Any], **filters: Any) -> AsyncIterator[Any]:
    """Every item of a cursor-paged list, page after page."""
    after = filters.pop("after", None)
    while True:
        page: Page[Any] = await list_page(after=after, **filters)
        for item in page.items:
            yield item
        if not page.next:
            return
        after = page.next


class AsyncPacks(api.Packs):
    """The shared catalog of market data (methods are awaited)."""

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(client._send)
        self._client = client

    def iter(self) -> AsyncIterator[PackView]:
        """Every pack, page after page."""
        return aiterate(self.list)

    async def upload(
        self,
        path: str | os.PathLike[str],
        name: str,
        *,
        format: Literal["csv", "parquet"] | None = None,
        progress: bool = True,
        wait: bool = True,
        **options: Any,
    ) -> PackView | UploadAccepted:
        """Admin: uploads a file as pack ``name`` (see the sync ``Client.packs.upload``)."""
        from quantd.client._sync import _bytes_bar

        file = Path(path)
        fmt = upload_format(file, format)
        size = file.stat().st_size
        bar = _bytes_bar(progress, size, f"upload {name}")

        async def chunks() -> AsyncIterator[bytes]:
            with open(file, "rb") as f:
                while chunk := f.read(CHUNK):
                    if bar is not None:
                        bar.update(len(chunk))
                    yield chunk

        try:
            resp = await self._client._http.post(
                r.UPLOAD_PACK.path,
                params=upload_query(name, fmt, options),
                content=chunks(),
                headers={"Content-Type": UPLOAD_TYPES[fmt], "Content-Length": str(size)},
            )
        finally:
            if bar is not None:
                bar.close()
        check(resp)
        if resp.status_code != 202:
            return decode(PackView, resp.json())
        accepted = decode(UploadAccepted, resp.json())
        if not wait:
            return accepted
        await self._client.execution(accepted.execution).wait(progress=progress)
        return await self.show(name)


class AsyncCode(api.Code):
    """The workspace's stored code (methods are awaited)."""

    def iter(self) -> AsyncIterator[Any]:
        """Every code name, page after page."""
        return aiterate(self.list)

    async def versions(self, name: str) -> list[CodeVersionView]:  # type: ignore[override]
        """Every version of ``name``, oldest first."""
        current = await self.show(name)  # type: ignore[misc]
        return [await self.version(name, n) for n in range(1, current.version + 1)]  # type: ignore[misc]


class AsyncExecutions(api.Executions):
    """Executions by id (methods are awaited)."""

    def iter(self, **filters: Any) -> AsyncIterator[ExecutionView]:
        """Every execution matching ``filters``, page after page."""
        return aiterate(self.list, **filters)


class AsyncClient:
    """The asyncio variant of :class:`~quantd.client.Client`: the same namespaces and methods,
    awaited; ``events`` and ``iter_results`` are async iterators."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = resolve(url, token)
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.settings.url,
            headers=headers(self.settings),
            timeout=timeout,
            transport=transport,
        )
        self.packs = AsyncPacks(self)
        self.code = AsyncCode(self._send)
        self.executions = AsyncExecutions(self._send)
        self.agents = api.Agents(self._send)
        self.rights = api.Rights(self._send)
        self.policy = api.Policy(self._send)
        self.webhooks = api.Webhooks(self._send)

    def __repr__(self) -> str:
        return f"AsyncClient({self.settings.url!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        resp = await self._http.request(
            call.route.method.upper(),
            call.url,
            params=call.query_params(),
            json=call.json,
            headers=call.headers,
        )
        return call.read(check(resp))

    async def health(self) -> Live:
        """Liveness and the server's version."""
        return await self._send(api.health_call())

    async def ready(self) -> Ready:
        """Readiness."""
        return await self._send(api.ready_call())

    async def metrics(self) -> str:
        """Prometheus metrics (admin token)."""
        return await self._send(Call(r.METRICS, read=r.read_text))

    async def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI 3.1 document."""
        return await self._send(Call(r.OPENAPI))

    async def start(
        self,
        request: SubmitRequest | dict[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> AsyncExecution:
        """Starts an execution (see ``Client.start``)."""
        body = request_body(request, fields)
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        s = await self._send(Call(r.SUBMIT, json=body, headers=extra, read=api.reader(Submitted)))
        return AsyncExecution(self, s.execution.id, s.execution, s)

    async def check_lookahead(
        self, request: LookaheadRequest | dict[str, Any] | None = None, /, **fields: Any
    ) -> AsyncExecution:
        """Starts a look-ahead check."""
        body = request_body(request, fields, LookaheadRequest)
        s = await self._send(Call(r.CHECK_LOOKAHEAD, json=body, read=api.reader(Submitted)))
        return AsyncExecution(self, s.execution.id, s.execution, s)

    async def execute(
        self,
        request: SubmitRequest | dict[str, Any] | None = None,
        /,
        *,
        wait_seconds: int | None = None,
        **fields: Any,
    ) -> Executed | AsyncExecution:
        """Starts an execution and waits up to ``wait_seconds`` for it (see ``Client.execute``)."""
        body = request_body(request, fields)

        def read(resp: httpx.Response) -> Executed | AsyncExecution:
            if resp.status_code == 202:
                s = decode(Submitted, resp.json())
                return AsyncExecution(self, s.execution.id, s.execution, s)
            return decode(Executed, resp.json())

        return await self._send(Call(r.EXECUTE, query={"wait_seconds": wait_seconds}, json=body, read=read))

    def execution(self, id: str) -> AsyncExecution:
        """A handle on execution ``id``."""
        return AsyncExecution(self, id)

    async def results(self, id: str, *, columns: Literal["all", "signals"] | None = None) -> pd.DataFrame:
        """An execution's results as a DataFrame, from Parquet."""
        resp = check(
            await self._http.get(
                r.RESULTS.url(id=id), params=_results_query("parquet", columns)
            )
        )
        return frames.frame_of_table(
            frames.table_of_parquet(resp.content), resp.headers.get("quantd-attribution")
        )

    async def results_table(self, id: str, *, columns: Literal["all", "signals"] | None = None) -> pa.Table:
        """An execution's results as an Arrow table, from Parquet."""
        resp = check(
            await self._http.get(
                r.RESULTS.url(id=id), params=_results_query("parquet", columns)
            )
        )
        return frames.table_of_parquet(resp.content)

    async def download(
        self,
        id: str,
        path: str | os.PathLike[str],
        *,
        format: Literal["parquet", "csv", "json", "ndjson", "md"] = "parquet",
        columns: Literal["all", "signals"] | None = None,
    ) -> Path:
        """Streams an execution's results to ``path``, a chunk at a time."""
        out = Path(path)
        async with self._http.stream(
            "GET", r.RESULTS.url(id=id), params=_results_query(format, columns)
        ) as resp:
            if not resp.is_success:
                await resp.aread()
                raise error_of(resp)
            with open(out, "wb") as f:
                async for chunk in resp.aiter_bytes(CHUNK):
                    f.write(chunk)
        return out

    async def iter_results(
        self, id: str, *, batch_size: int = 65_536, columns: Literal["all", "signals"] | None = None
    ) -> AsyncIterator[pd.DataFrame]:
        """An execution's results in DataFrames of at most ``batch_size`` rows, in bounded
        memory (see ``Client.iter_results``)."""
        fd, tmp = tempfile.mkstemp(suffix=".parquet", prefix="quantd-results-")
        os.close(fd)
        try:
            await self.download(id, tmp, columns=columns)
            for df in frames.iter_parquet_batches(tmp, batch_size):
                yield df
        finally:
            os.unlink(tmp)

    async def trades(self, id: str) -> pd.DataFrame:
        """A backtest's trades."""
        rows, watermark = api.unwrap_watermark(await self.executions.trades_json(id))
        return frames.trades_frame(rows, watermark)

    async def equity(self, id: str) -> pd.DataFrame:
        """A backtest's equity curves."""
        rows, watermark = api.unwrap_watermark(await self.executions.equity_json(id))
        return frames.equity_frame(rows, watermark)

    async def orders(self, id: str, *, after: int | None = None) -> pd.DataFrame:
        """A paper session's record so far."""
        events: list[dict[str, Any]] = []
        watermark = None
        while True:
            page = await self.executions.orders_page(id, after=after)
            events.extend(page.events)
            watermark = page.watermark or watermark
            if page.next is None:
                return frames.orders_frame(events, watermark)
            after = page.next

    async def events(self, id: str, *, after: int = 0, timeout: float | None = None) -> AsyncIterator[Event]:
        """Execution ``id``'s events after ``after``, stored then live, each once and in order
        across reconnects (see ``Client.events``)."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        follower = Follower(id, last=after)
        while True:
            error: BaseException | None = None
            read = STREAM_READ_TIMEOUT
            if deadline is not None:
                read = max(0.01, min(read, deadline - time.monotonic()))
            try:
                async with self._http.stream(
                    "GET",
                    r.EVENTS.url(id=id),
                    headers=follower.headers(),
                    timeout=httpx.Timeout(self._timeout, read=read),
                ) as resp:
                    if not resp.is_success:
                        await resp.aread()
                        raise error_of(resp)
                    parser = Parser()
                    async for line in resp.aiter_lines():
                        msg = parser.feed(line)
                        if msg is None:
                            continue
                        outcome = follower.take(msg)
                        if outcome.event is not None:
                            yield outcome.event
                        elif outcome.final_state is not None:
                            return
                        elif outcome.shutdown:
                            break
            except httpx.TransportError as e:
                error = e
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"execution {id}: no end within {timeout} s")
            await asyncio.sleep(follower.next_delay(error))

    async def workspace_events(self) -> AsyncIterator[Event]:
        """Every event of the workspace's executions as it happens (live only, no replay)."""
        async with self._http.stream(
            "GET",
            r.WORKSPACE_EVENTS.path,
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(self._timeout, read=None),
        ) as resp:
            if not resp.is_success:
                await resp.aread()
                raise error_of(resp)
            parser = Parser()
            async for line in resp.aiter_lines():
                msg = parser.feed(line)
                if msg is not None and msg.event == "message" and msg.data:
                    yield Event.from_json(json.loads(msg.data))
                elif msg is not None and msg.event in ("shutdown", "revoked"):
                    return

    async def history(self, **filters: Any) -> Page[ExecutionView]:
        """Past executions, as ``quantd history``."""
        return await self.executions.history(**filters)  # type: ignore[misc]

    async def summary(self, name: str | None = None) -> dict[str, Any]:
        """Totals over the workspace's executions, as ``quantd summary``."""
        return await self._send(Call(r.SUMMARY, query={"name": name}))


class AsyncExecution:
    """One execution, for asyncio code (see :class:`~quantd.client.Execution`)."""

    def __init__(
        self,
        client: AsyncClient,
        id: str,
        view: ExecutionView | None = None,
        submitted: Submitted | None = None,
    ) -> None:
        self.client = client
        self.id = id
        self.view = view
        self.submitted = submitted

    def __repr__(self) -> str:
        return f"<AsyncExecution {self.id} {self.view.state if self.view else '?'}>"

    async def refresh(self) -> ExecutionView:
        """Fetches the execution again."""
        self.view = await self.client.executions.get(self.id)  # type: ignore[misc]
        return self.view

    def events(self, *, after: int = 0, timeout: float | None = None) -> AsyncIterator[Event]:
        """Its events, stored then live, until it ends."""
        return self.client.events(self.id, after=after, timeout=timeout)

    async def wait(
        self,
        progress: bool = True,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        on_event: Callable[[Event], None] | None = None,
    ) -> ExecutionView:
        """Follows its events until it ends, with a progress bar (see ``Execution.wait``)."""
        bar = ProgressBar(self.view, self.id, enabled=progress)
        view: ExecutionView | None = None
        try:
            async for event in self.events(timeout=timeout):
                bar.update(event)
                if on_event is not None:
                    on_event(event)
            view = await self.refresh()
        finally:
            bar.close(view)
        if view.state == "failed" and raise_on_failure:
            raise ExecutionFailed(view)
        return view

    async def pause(self) -> ExecutionView:
        """Pauses it."""
        self.view = await self.client.executions.pause(self.id)  # type: ignore[misc]
        return self.view

    async def resume(self) -> ExecutionView:
        """Resumes it."""
        self.view = await self.client.executions.resume(self.id)  # type: ignore[misc]
        return self.view

    async def cancel(self) -> ExecutionView:
        """Cancels it."""
        self.view = await self.client.executions.cancel(self.id)  # type: ignore[misc]
        return self.view

    async def retry(self, from_steps: list[str] | None = None) -> AsyncExecution:
        """A finished pattern, run again from ``from_steps``: the new execution."""
        s = await self.client.executions.retry(self.id, from_steps)  # type: ignore[misc]
        return AsyncExecution(self.client, s.execution.id, s.execution, s)

    async def results(self, **kwargs: Any) -> pd.DataFrame:
        """Its results as a DataFrame."""
        return await self.client.results(self.id, **kwargs)

    def iter_results(self, **kwargs: Any) -> AsyncIterator[pd.DataFrame]:
        """Its results in bounded memory."""
        return self.client.iter_results(self.id, **kwargs)

    async def report(self, format: Literal["json", "md"] = "json") -> Any:
        """Its A+ or look-ahead report."""
        return await self.client.executions.report(self.id, format)

    async def orders(self) -> pd.DataFrame:
        """Its record so far (paper sessions)."""
        return await self.client.orders(self.id)

    async def summary(self) -> Any:
        """Its stored summary."""
        return (await self.client.executions.summary(self.id))["summary"]  # type: ignore[index]

    async def trades(self) -> pd.DataFrame:
        """Its trades."""
        return await self.client.trades(self.id)

    async def equity(self) -> pd.DataFrame:
        """Its equity curves."""
        return await self.client.equity(self.id)
