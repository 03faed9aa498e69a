"""The synchronous client (:class:`Client`) and its handle on one execution
(:class:`Execution`)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, TypeVar

import httpx

from quantd.client import api, frames
from quantd.client import routes as r
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
    Page,
    PackView,
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

#: Seconds a quiet event stream may go without a byte (the server sends a keep-alive comment
#: every 15 s) before the client takes the connection as lost and reconnects.
STREAM_READ_TIMEOUT = 60.0

def iterate(list_page: Callable[..., Page[Item]], **filters: Any) -> Iterator[Item]:
    """Every item of a cursor-paged list, page after page."""
    after = filters.pop("after", None)
    while True:
        page = list_page(after=after, **filters)
        yield from page.items
        if not page.next:
            return
        after = page.next


class Packs(api.Packs):
    """The shared catalog of market data."""

    def __init__(self, client: Client) -> None:
        super().__init__(client._send)
        self._client = client

    def iter(self) -> Iterator[PackView]:
        """Every pack, newest first, page after page."""
        return iterate(self.list)

    def upload(
        self,
        path: str | os.PathLike[str],
        name: str,
        *,
        format: Literal["csv", "parquet"] | None = None,
        progress: bool = True,
        wait: bool = True,
        **options: Any,
    ) -> PackView | UploadAccepted:
        """Admin: uploads a long-format CSV or Parquet file (ticker, date, open, high, low,
        close, volume) as pack ``name``, with a progress bar of the bytes sent. The import
        options (``ticker``, ``lenient``, ``source``, ``license``, ``attribution``,
        ``provider``, ``export``, ``no_export``, ``tz``, ``epoch``, ``interval``) are passed
        on. Returns the pack; an import still running after the server's short wait is
        followed to its end (``wait=False``: its :class:`UploadAccepted` is returned instead).
        A file the import refuses raises :class:`~quantd.client.InvalidRequest` with the row."""
        file = Path(path)
        fmt = upload_format(file, format)
        size = file.stat().st_size
        bar = _bytes_bar(progress, size, f"upload {name}")

        def chunks() -> Iterator[bytes]:
            with open(file, "rb") as f:
                while chunk := f.read(CHUNK):
                    if bar is not None:
                        bar.update(len(chunk))
                    yield chunk

        try:
            resp = self._client._http.post(
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
        self._client.execution(accepted.execution).wait(progress=progress)
        return self.show(name)


class Code(api.Code):
    """The workspace's stored code."""

    def iter(self) -> Iterator[Any]:
        """Every code name, page after page."""
        return iterate(self.list)

    def versions(self, name: str) -> list[CodeVersionView]:
        """Every version of ``name``, oldest first."""
        current = self.show(name)
        return [self.version(name, n) for n in range(1, current.version + 1)]


class Executions(api.Executions):
    """Executions by id."""

    def iter(self, **filters: Any) -> Iterator[ExecutionView]:
        """Every execution matching ``filters`` (as :meth:`list`), page after page."""
        return iterate(self.list, **filters)


def _bytes_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc)


class Client:
    """A quantd server, driven from outside: notebooks, scripts, services.

    ``url`` and ``token`` default to ``$QUANTD_URL`` and ``$QUANTD_TOKEN``. Every error the
    server answers raises an :class:`~quantd.client.ApiError` carrying its problem document.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = resolve(url, token)
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=self.settings.url,
            headers=headers(self.settings),
            timeout=timeout,
            transport=transport,
        )
        #: Packs: list, show, health, upload, set_provider.
        self.packs = Packs(self)
        #: Code: list, show, version, versions, deploy, remove, rollback, validate.
        self.code = Code(self._send)
        #: Executions by id: list, get, pause, resume, cancel, retry, summary, report, ...
        self.executions = Executions(self._send)
        #: Agents of pattern ``call`` steps.
        self.agents = api.Agents(self._send)
        #: The rights registry.
        self.rights = api.Rights(self._send)
        #: The workspace's policy.
        self.policy = api.Policy(self._send)
        #: Webhooks.
        self.webhooks = api.Webhooks(self._send)

    def __repr__(self) -> str:
        return f"Client({self.settings.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        resp = self._http.request(
            call.route.method.upper(),
            call.url,
            params=call.query_params(),
            json=call.json,
            headers=call.headers,
        )
        return call.read(check(resp))

    # --- the server -------------------------------------------------------------------------

    def health(self) -> Live:
        """Liveness and the server's version."""
        return self._send(api.health_call())

    def ready(self) -> Ready:
        """Readiness (:class:`~quantd.client.Unavailable` when not ready)."""
        return self._send(api.ready_call())

    def metrics(self) -> str:
        """Prometheus metrics (admin token)."""
        return self._send(Call(r.METRICS, read=r.read_text))

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI 3.1 document."""
        return self._send(Call(r.OPENAPI))

    # --- starting executions ----------------------------------------------------------------

    def start(
        self,
        request: SubmitRequest | dict[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Execution:
        """Starts an execution: a :class:`~quantd.client.SubmitRequest`, or its fields as
        keywords (``client.start(kind="scan", expr="rsi(close, 14) < 30", pack="demo")``).
        With ``idempotency_key``, sending the same request again returns the same execution."""
        body = request_body(request, fields)
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        submitted = self._send(Call(r.SUBMIT, json=body, headers=extra, read=api.reader(Submitted)))
        return Execution(self, submitted.execution.id, submitted.execution, submitted)

    def check_lookahead(
        self, request: LookaheadRequest | dict[str, Any] | None = None, /, **fields: Any
    ) -> Execution:
        """Starts a look-ahead check of a scanner or strategy (docs/lookahead.md)."""
        body = request_body(request, fields, LookaheadRequest)
        submitted = self._send(Call(r.CHECK_LOOKAHEAD, json=body, read=api.reader(Submitted)))
        return Execution(self, submitted.execution.id, submitted.execution, submitted)

    def execute(
        self,
        request: SubmitRequest | dict[str, Any] | None = None,
        /,
        *,
        wait_seconds: int | None = None,
        **fields: Any,
    ) -> Executed | Execution:
        """Starts an execution and waits up to ``wait_seconds`` (server default 30, at most
        300) for it: :class:`~quantd.client.Executed` (with its result) when it ended, else
        the running :class:`Execution`."""
        body = request_body(request, fields)

        def read(resp: httpx.Response) -> Executed | Execution:
            if resp.status_code == 202:
                s = decode(Submitted, resp.json())
                return Execution(self, s.execution.id, s.execution, s)
            return decode(Executed, resp.json())

        return self._send(Call(r.EXECUTE, query={"wait_seconds": wait_seconds}, json=body, read=read))

    def execution(self, id: str) -> Execution:
        """A handle on execution ``id`` (nothing is fetched until asked)."""
        return Execution(self, id)

    # --- results ------------------------------------------------------------------------------

    def results_table(self, id: str, *, columns: Literal["all", "signals"] | None = None) -> pa.Table:
        """An execution's results as an Arrow table, read from the Parquet the server streams
        (every kind: scan rows, backtest statistics per ticker, sweep sets, test verdicts, a
        run's log)."""
        resp = check(
            self._http.get(r.RESULTS.url(id=id), params=_results_query("parquet", columns))
        )
        table = frames.table_of_parquet(resp.content)
        attribution = resp.headers.get("quantd-attribution")
        if attribution:
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), b"quantd.attribution": attribution.encode()}
            )
        return table

    def results(self, id: str, *, columns: Literal["all", "signals"] | None = None) -> pd.DataFrame:
        """An execution's results as a pandas DataFrame (from Parquet, never JSON); a scan's
        ``columns="signals"`` leaves out its ``let`` columns."""
        resp = check(
            self._http.get(r.RESULTS.url(id=id), params=_results_query("parquet", columns))
        )
        return frames.frame_of_table(
            frames.table_of_parquet(resp.content), resp.headers.get("quantd-attribution")
        )

    def download(
        self,
        id: str,
        path: str | os.PathLike[str],
        *,
        format: Literal["parquet", "csv", "json", "ndjson", "md"] = "parquet",
        columns: Literal["all", "signals"] | None = None,
    ) -> Path:
        """Streams an execution's results to ``path`` in ``format``, a chunk at a time."""
        out = Path(path)
        with self._http.stream(
            "GET", r.RESULTS.url(id=id), params=_results_query(format, columns)
        ) as resp:
            if not resp.is_success:
                resp.read()
                raise error_of(resp)
            with open(out, "wb") as f:
                for chunk in resp.iter_bytes(CHUNK):
                    f.write(chunk)
        return out

    def iter_results(
        self,
        id: str,
        *,
        batch_size: int = 65_536,
        columns: Literal["all", "signals"] | None = None,
    ) -> Iterator[pd.DataFrame]:
        """An execution's results as DataFrames of at most ``batch_size`` rows, for results too
        big to hold: the Parquet is streamed to a temporary file (a chunk at a time) and read
        back one record batch at a time, so memory stays bounded whatever the result's size."""
        fd, tmp = tempfile.mkstemp(suffix=".parquet", prefix="quantd-results-")
        os.close(fd)
        try:
            self.download(id, tmp, columns=columns)
            yield from frames.iter_parquet_batches(tmp, batch_size)
        finally:
            os.unlink(tmp)

    def trades(self, id: str) -> pd.DataFrame:
        """A backtest's trades, one row per trade with its ticker (and ``open``)."""
        rows, watermark = api.unwrap_watermark(self.executions.trades_json(id))
        return frames.trades_frame(rows, watermark)

    def equity(self, id: str) -> pd.DataFrame:
        """A backtest's equity curves (universes of at most 100 tickers): ticker, date,
        equity, drawdown."""
        rows, watermark = api.unwrap_watermark(self.executions.equity_json(id))
        return frames.equity_frame(rows, watermark)

    def orders(self, id: str, *, after: int | None = None) -> pd.DataFrame:
        """A paper session's record so far (every page): one row per order or session-day
        event, in order."""
        events: list[dict[str, Any]] = []
        watermark = None
        while True:
            page = self.executions.orders_page(id, after=after)
            events.extend(page.events)
            watermark = page.watermark or watermark
            if page.next is None:
                return frames.orders_frame(events, watermark)
            after = page.next

    # --- events -----------------------------------------------------------------------------

    def events(self, id: str, *, after: int = 0, timeout: float | None = None) -> Iterator[Event]:
        """Execution ``id``'s events after sequence number ``after``: the stored ones, then
        live ones until it ends. A dropped connection is resumed with ``Last-Event-ID``, so
        every event comes once and in order. ``timeout``: seconds until
        :class:`TimeoutError`."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        follower = Follower(id, last=after)
        while True:
            error: BaseException | None = None
            try:
                with self._http.stream(
                    "GET",
                    r.EVENTS.url(id=id),
                    headers=follower.headers(),
                    timeout=_stream_timeout(self._timeout, deadline),
                ) as resp:
                    if not resp.is_success:
                        resp.read()
                        raise error_of(resp)
                    parser = Parser()
                    for line in resp.iter_lines():
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
            time.sleep(follower.next_delay(error))

    def workspace_events(self) -> Iterator[Event]:
        """Every event of the workspace's executions as it happens (live only, no replay; the
        stream ends when the server stops)."""
        with self._http.stream(
            "GET", r.WORKSPACE_EVENTS.path, headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(self._timeout, read=None),
        ) as resp:
            if not resp.is_success:
                resp.read()
                raise error_of(resp)
            parser = Parser()
            for line in resp.iter_lines():
                msg = parser.feed(line)
                if msg is not None and msg.event == "message" and msg.data:
                    yield Event.from_json(json.loads(msg.data))
                elif msg is not None and msg.event in ("shutdown", "revoked"):
                    return

    # --- history ------------------------------------------------------------------------------

    def history(self, **filters: Any) -> Page[ExecutionView]:
        """Past executions, as ``quantd history`` (filters as ``executions.list``)."""
        return self.executions.history(**filters)

    def summary(self, name: str | None = None) -> dict[str, Any]:
        """Totals over the workspace's executions, as ``quantd summary``: runs, success rate,
        signals, average return, Sharpe and drawdown, best and worst run."""
        return self._send(Call(r.SUMMARY, query={"name": name}))


def _results_query(format: str, columns: str | None) -> dict[str, str]:
    q = {"format": format}
    if columns:
        q["columns"] = columns
    return q


def _stream_timeout(timeout: float, deadline: float | None) -> httpx.Timeout:
    read = STREAM_READ_TIMEOUT
    if deadline is not None:
        read = max(0.01, min(read, deadline - time.monotonic()))
    return httpx.Timeout(timeout, read=read)


class Execution:
    """One execution: follow it, control it, read its results.

    ``view`` is the last :class:`~quantd.client.ExecutionView` fetched (:meth:`refresh`
    fetches it again)."""

    def __init__(
        self,
        client: Client,
        id: str,
        view: ExecutionView | None = None,
        submitted: Submitted | None = None,
    ) -> None:
        self.client = client
        self.id = id
        self.view = view
        #: What starting it answered (``reused``, ``warnings``), when this handle started it.
        self.submitted = submitted

    def __repr__(self) -> str:
        state = self.view.state if self.view else "?"
        return f"<Execution {self.id} {state}>"

    @property
    def state(self) -> str:
        """The state as last fetched (fetches once if never)."""
        return (self.view or self.refresh()).state

    def refresh(self) -> ExecutionView:
        """Fetches the execution again."""
        self.view = self.client.executions.get(self.id)
        return self.view

    def events(self, *, after: int = 0, timeout: float | None = None) -> Iterator[Event]:
        """Its events, stored then live, each once and in order, until it ends."""
        return self.client.events(self.id, after=after, timeout=timeout)

    def wait(
        self,
        progress: bool = True,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        on_event: Callable[[Event], None] | None = None,
    ) -> ExecutionView:
        """Follows the execution's events until it ends, with a progress bar (tqdm: a text bar
        in a terminal, a widget in Jupyter) when ``progress``; returns how it ended. A failed
        execution raises :class:`~quantd.client.ExecutionFailed` unless ``raise_on_failure``
        is false; ``timeout`` raises :class:`TimeoutError`."""
        bar = ProgressBar(self.view, self.id, enabled=progress)
        view: ExecutionView | None = None
        try:
            for event in self.events(timeout=timeout):
                bar.update(event)
                if on_event is not None:
                    on_event(event)
            view = self.refresh()
        finally:
            bar.close(view)
        if view.state == "failed" and raise_on_failure:
            raise ExecutionFailed(view)
        return view

    def pause(self) -> ExecutionView:
        """Pauses it."""
        self.view = self.client.executions.pause(self.id)
        return self.view

    def resume(self) -> ExecutionView:
        """Resumes it."""
        self.view = self.client.executions.resume(self.id)
        return self.view

    def cancel(self) -> ExecutionView:
        """Cancels it."""
        self.view = self.client.executions.cancel(self.id)
        return self.view

    def retry(self, from_steps: list[str] | None = None) -> Execution:
        """A finished pattern, run again from ``from_steps``: the new execution."""
        s = self.client.executions.retry(self.id, from_steps)
        return Execution(self.client, s.execution.id, s.execution, s)

    def results(self, **kwargs: Any) -> pd.DataFrame:
        """Its results as a DataFrame (see :meth:`Client.results`)."""
        return self.client.results(self.id, **kwargs)

    def iter_results(self, **kwargs: Any) -> Iterator[pd.DataFrame]:
        """Its results in bounded memory (see :meth:`Client.iter_results`)."""
        return self.client.iter_results(self.id, **kwargs)

    def summary(self) -> Any:
        """Its stored summary (``None`` until it completed)."""
        return self.client.executions.summary(self.id)["summary"]

    def report(self, format: Literal["json", "md"] = "json") -> Any:
        """Its A+ or look-ahead report."""
        return self.client.executions.report(self.id, format)

    def trades(self) -> pd.DataFrame:
        """Its trades (backtests)."""
        return self.client.trades(self.id)

    def equity(self) -> pd.DataFrame:
        """Its equity curves (backtests)."""
        return self.client.equity(self.id)

    def orders(self) -> pd.DataFrame:
        """Its record so far (paper sessions)."""
        return self.client.orders(self.id)
