"""An upload whose import outlasts the server's short wait (202): the client follows the import
execution's events to the end and returns the pack. The server's answers are replayed by a mock
transport (a real import's length cannot be chosen), made from a live server's real bodies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from quantd.client import AsyncClient, Client, ExecutionFailed

from conftest import Server


@pytest.fixture(scope="module")
def bodies(server: Server) -> dict[str, object]:
    """A real execution view and pack view to answer with."""
    with server.client() as c:
        ex = c.start(kind="scan", expr="close > open", pack="demo")
        ex.wait(progress=False)
        auth = {"Authorization": f"Bearer {server.admin_token}"}
        return {
            "execution": httpx.get(f"{server.url}/v1/executions/{ex.id}", headers=auth).json(),
            "pack": httpx.get(f"{server.url}/v1/packs/demo", headers=auth).json(),
        }


def mock(bodies: dict[str, object], state: str, seen: list[str]) -> httpx.MockTransport:
    execution = dict(bodies["execution"])  # type: ignore[arg-type]
    execution.update(id="ex_import", kind="import", state=state)
    events = [
        {"execution": "ex_import", "seq": 1, "at": "2026-01-01T00:00:00Z", "type": "execution-created", "shards": 1},
        {"execution": "ex_import", "seq": 2, "at": "2026-01-01T00:00:00Z", "type": "phase", "phase": "read", "done": 10, "total": 10},
        {"execution": "ex_import", "seq": 3, "at": "2026-01-01T00:00:01Z", "type": f"execution-{state}"},
    ]
    sse = "".join(f"id: {e['seq']}\ndata: {json.dumps(e)}\n\n" for e in events)
    sse += f"event: done\ndata: {json.dumps({'state': state})}\n\n"

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        path = request.url.path
        if request.method == "POST" and path == "/v1/packs":
            assert request.headers["content-type"] == "text/csv"
            assert request.read() == b"ticker,date\n"
            accepted = {"name": "slow", "execution": "ex_import",
                        "events_url": "/v1/executions/ex_import/events", "status_url": "/health/pack/slow"}
            return httpx.Response(202, json=accepted, headers={"Location": "/v1/executions/ex_import"})
        if path == "/v1/executions/ex_import/events":
            return httpx.Response(200, text=sse, headers={"Content-Type": "text/event-stream"})
        if path == "/v1/executions/ex_import":
            return httpx.Response(200, json=execution)
        if path == "/v1/packs/slow":
            return httpx.Response(200, json={**bodies["pack"], "name": "slow"})  # type: ignore[dict-item]
        return httpx.Response(404, json={"type": "urn:quantd:problem:no-route", "title": "No route", "status": 404, "detail": path})

    return httpx.MockTransport(handle)


def test_upload_follows_a_long_import_to_its_pack(bodies: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "slow.csv"
    path.write_text("ticker,date\n")
    seen: list[str] = []
    with Client("http://quantd.test", "t", transport=mock(bodies, "completed", seen)) as c:
        pack = c.packs.upload(path, "slow", progress=True)
    assert pack.name == "slow"
    assert seen == [
        "POST /v1/packs",
        "GET /v1/executions/ex_import/events",
        "GET /v1/executions/ex_import",
        "GET /v1/packs/slow",
    ]


def test_a_failed_long_import_raises(bodies: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "slow.csv"
    path.write_text("ticker,date\n")
    with Client("http://quantd.test", "t", transport=mock(bodies, "failed", [])) as c:
        with pytest.raises(ExecutionFailed):
            c.packs.upload(path, "slow", progress=False)


def test_async_upload_follows_a_long_import(bodies: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "slow.csv"
    path.write_text("ticker,date\n")

    async def go() -> str:
        async with AsyncClient("http://quantd.test", "t", transport=mock(bodies, "completed", [])) as c:
            pack = await c.packs.upload(path, "slow", progress=False)
            return pack.name

    assert asyncio.run(go()) == "slow"
