"""The asyncio client: the same operations, awaited."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from quantd.client import AsyncClient, InvalidCode, NotFound

from conftest import Server


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_async_scan_to_dataframe(server: Server) -> None:
    async def go() -> None:
        async with AsyncClient(server.url, server.admin_token) as c:
            assert (await c.health()).status == "ok"
            ex = await c.start(kind="scan", expr="close > open", pack="demo")
            view = await ex.wait(progress=False)
            assert view.state == "completed"
            df = await ex.results()
            assert len(df) == view.rows > 0
            assert (await c.results_table(ex.id)).num_rows == view.rows
            batches = [len(b) async for b in ex.iter_results(batch_size=100)]
            assert sum(batches) == view.rows and max(batches) <= 100
            assert [e.seq async for e in ex.events()] == list(range(1, len([0 async for _ in ex.events()]) + 1))
            ids = [e.id async for e in c.executions.iter(limit=1)]
            assert ex.id in ids and len(ids) == len(set(ids))
            assert (await c.executions.get(ex.id)).id == ex.id
            assert ex.id in {e.id for e in (await c.history(limit=1000)).items}
            assert await c.summary()

    run(go())


def test_async_code_packs_and_errors(server: Server) -> None:
    async def go() -> None:
        async with AsyncClient(server.url, server.admin_token) as c:
            name = f"async-{uuid.uuid4().hex[:6]}"
            await c.code.deploy(name, expr="close > open")
            await c.code.deploy(name, expr="close < open")
            assert [v.version for v in await c.code.versions(name)] == [1, 2]
            assert "demo" in {p.name async for p in c.packs.iter()}
            with pytest.raises(InvalidCode) as info:
                await c.code.validate(expr="close >")
            assert info.value.errors[0].line == 1
            with pytest.raises(NotFound):
                await c.executions.get("ex_does_not_exist")

    run(go())


def test_async_backtest_frames(server: Server) -> None:
    async def go() -> None:
        async with AsyncClient(server.url, server.admin_token) as c:
            ex = await c.start(
                kind="backtest",
                strategy={"entry": "close > sma(close, 10)", "exit": "close < sma(close, 10)"},
                pack="demo",
                tickers=["SYN0001"],
            )
            await ex.wait(progress=False)
            assert len(await ex.trades()) > 0
            assert len(await ex.equity()) > 0
            assert await ex.summary() is not None

    run(go())
