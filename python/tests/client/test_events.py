"""Event streams: every event exactly once and in order, across connections cut mid-stream (by a
proxy in between), for a finished execution (replay) and a running one (live); the parser and
follower on their own."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import httpx
import pytest

from quantd.client import Client, StreamError
from quantd.client.sse import Follower, Message, Parser

from conftest import Server
from proxy import CuttingProxy

#: A sweep whose parameter sets make many shards, so its stream has many events.
SWEEP = {
    "kind": "sweep",
    "strategy": {"entry": "close > sma(close, $n)", "exit": "close < sma(close, $n)"},
    "pack": "wide",
}


def reference(server: Server, id: str) -> list[dict]:
    """Every event of a finished execution, read in one connection without the client."""
    events = []
    with httpx.stream(
        "GET",
        f"{server.url}/v1/executions/{id}/events",
        headers={"Authorization": f"Bearer {server.admin_token}"},
        timeout=60,
    ) as resp:
        kind = "message"
        for line in resp.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "message":
                events.append(json.loads(line[6:]))
            elif line == "":
                if kind == "done":
                    break
                kind = "message"
    return events


def upstream(server: Server) -> tuple[str, int]:
    u = urlparse(server.url)
    return u.hostname or "127.0.0.1", u.port or 80


def test_replay_survives_cut_connections(server: Server) -> None:
    with server.client() as c:
        ex = c.start(grid=["n=5..60:1"], **SWEEP)
        ex.wait(progress=False)
        expected = reference(server, ex.id)
        assert len(expected) >= 12, f"too few events to cut: {len(expected)}"
        assert [e["seq"] for e in expected] == list(range(1, len(expected) + 1))

    proxy = CuttingProxy(upstream(server), cut_after=3, cuts=3)
    try:
        with Client(proxy.url, server.admin_token) as through:
            got = [e.data for e in through.events(ex.id)]
    finally:
        proxy.close()
    assert got == expected
    cut = [c for c in proxy.connections if c.cut]
    assert len(cut) == 3, proxy.connections
    # Each reconnect resumed after the last whole event: 0, then 3, 6, 9.
    assert [c.last_event_id for c in proxy.connections] == [0, 3, 6, 9]


def test_live_stream_survives_cut_connections(server: Server) -> None:
    proxy = CuttingProxy(upstream(server), cut_after=2, cuts=4)
    try:
        with Client(proxy.url, server.admin_token) as through:
            ex = through.start(grid=["n=5..120:1"], **SWEEP)
            seen = []
            view = ex.wait(progress=False, on_event=lambda e: seen.append(e.data))
            assert view.state == "completed"
    finally:
        proxy.close()
    assert sum(c.cut for c in proxy.connections) == 4
    # Live: the first cut came while the execution was still running.
    first_cut = min(c.cut_at for c in proxy.connections if c.cut_at is not None)
    assert view.finished_at is not None and first_cut < view.finished_at.timestamp()
    expected = reference(server, ex.id)
    assert seen == expected
    assert expected[-1]["type"] == "execution-completed"


def test_async_events_survive_cut_connections(server: Server) -> None:
    import asyncio

    from quantd.client import AsyncClient

    with server.client() as c:
        ex = c.start(grid=["n=5..40:1"], **SWEEP)
        ex.wait(progress=False)
        expected = reference(server, ex.id)

    async def follow(url: str) -> list[dict]:
        async with AsyncClient(url, server.admin_token) as ac:
            return [e.data async for e in ac.events(ex.id)]

    proxy = CuttingProxy(upstream(server), cut_after=2, cuts=2)
    try:
        got = asyncio.run(follow(proxy.url))
    finally:
        proxy.close()
    assert got == expected and sum(c.cut for c in proxy.connections) == 2


def test_events_after_a_sequence_number(client: Client) -> None:
    ex = client.start(kind="scan", expr="close > open", pack="demo")
    all_events = list(ex.events())
    later = list(ex.events(after=2))
    assert [e.seq for e in later] == [e.seq for e in all_events][2:]


def test_parser_handles_comments_multiline_data_and_partial_messages() -> None:
    p = Parser()
    msgs = p.feed_all([": keep-alive", "", "id: 7", "data: {\"a\":", "data: 1}", "", "id: 8", "data: {"])
    assert msgs == [Message(event="message", data='{"a":\n1}', id="7")]
    # A message cut before its blank line is never dispatched.
    assert p.feed("data: more") is None


def test_follower_drops_repeats_and_stops_at_done() -> None:
    f = Follower("ex_1")
    ev = lambda seq: Message(data=json.dumps({"execution": "ex_1", "seq": seq, "at": "", "type": "progress"}), id=str(seq))  # noqa: E731
    assert f.take(ev(1)).event is not None
    assert f.take(ev(1)).event is None  # a repeat
    assert f.take(ev(2)).event is not None and f.last == 2
    assert f.headers()["Last-Event-ID"] == "2"
    assert f.take(Message(event="shutdown", data="{}")).shutdown
    assert f.take(Message(event="done", data='{"state":"cancelled"}')).final_state == "cancelled"
    with pytest.raises(StreamError):
        f.take(Message(event="revoked", data="{}"))


def test_follower_gives_up_after_fruitless_reconnects() -> None:
    f = Follower("ex_1")
    with pytest.raises(StreamError):
        for _ in range(100):
            f.next_delay(OSError("refused"))


def test_workspace_events_follow_every_execution(server: Server) -> None:
    import queue
    import threading

    seen: queue.Queue = queue.Queue()
    listener = server.client()

    def listen() -> None:
        try:
            for e in listener.workspace_events():
                seen.put(e)
        except Exception as e:  # noqa: BLE001 - the client closed under it
            seen.put(e)

    threading.Thread(target=listen, daemon=True).start()
    with server.client() as c:
        ex = c.start(grid=["n=2..200:1", "m=2..200:1"], priority=-10, **{
            **SWEEP, "strategy": {"entry": "close > sma(close, $n)", "exit": "close < sma(close, $m)"}})
        ex.pause()
        # The stream has no replay: pause and resume until one of this execution's events shows
        # that it is subscribed, then cancel and wait for the final event.
        first = None
        for _ in range(50):
            ex.resume()
            ex.pause()
            try:
                first = seen.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        assert first is not None and first.execution == ex.id, first
        ex.cancel()
        types = []
        while "execution-cancelled" not in types:
            e = seen.get(timeout=30)
            assert not isinstance(e, Exception), e
            if e.execution == ex.id:
                types.append(e.type)
    listener.close()
    assert types[-1] == "execution-cancelled"
