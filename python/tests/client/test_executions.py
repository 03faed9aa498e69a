"""Executions: start (every kind the client speaks), wait with progress, results as
DataFrames, list with cursors, lifecycle, reports, trades, equity, orders, history, summary."""

from __future__ import annotations

import io
import json
import uuid
from typing import Iterator

import httpx
import pandas as pd
import pytest

from quantd.client import (
    Client,
    Conflict,
    Example,
    ExecutionFailed,
    Executed,
    Execution,
    NotFound,
    SubmitRequest,
    Unauthorized,
)

from conftest import Server

SCANNER = "close < sma(close, 20) and rsi(close, 14) < 45"
CROSS = {"entry": "close > sma(close, 10)", "exit": "close < sma(close, 10)"}

SMA_CROSS = '''
import quantd as qd

class SmaCross(qd.Strategy):
    params = {"fast": 5, "slow": 15}

    def init(self):
        self.a = self.I(qd.ta.sma, self.data.Close, self.fast)
        self.b = self.I(qd.ta.sma, self.data.Close, self.slow)

    def next(self):
        if qd.crossover(self.a, self.b):
            self.position.close()
            self.buy()
        elif qd.crossover(self.b, self.a):
            self.position.close()
'''


def raw(server: Server, path: str, **params: str) -> httpx.Response:
    """The server's own answer, without the client."""
    r = httpx.get(server.url + path, params=params, headers={"Authorization": f"Bearer {server.admin_token}"})
    r.raise_for_status()
    return r


@pytest.fixture(scope="module")
def scan(server: Server) -> Iterator[Execution]:
    """A completed scan of ``demo`` (its handle's client stays open for the module)."""
    with server.client() as c:
        ex = c.start(kind="scan", expr=SCANNER, pack="demo")
        ex.wait(progress=False)
        yield ex


def test_scan_results_as_a_dataframe_match_the_servers_csv(client: Client, server: Server, scan: Execution) -> None:
    df = client.results(scan.id)
    csv = pd.read_csv(io.StringIO(raw(server, f"/v1/executions/{scan.id}/results", format="csv").text))
    assert len(df) == len(csv) > 0
    assert list(df.columns[:2]) == ["ticker", "date"]
    assert pd.api.types.is_datetime64_any_dtype(df["date"])
    assert df["ticker"].tolist() == csv["ticker"].tolist()
    assert df["date"].dt.strftime("%Y-%m-%d").tolist() == csv["date"].tolist()
    view = client.executions.get(scan.id)
    assert view.rows == len(df) and view.state == "completed" and view.health is not None


def test_signals_only_and_the_arrow_table(client: Client, scan: Execution) -> None:
    table = client.results_table(scan.id, columns="signals")
    assert table.column_names == ["ticker", "date"]
    assert table.num_rows == scan.refresh().rows


def test_wait_shows_a_progress_bar(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    ex = client.start(kind="scan", expr="close > open", pack="demo")
    view = ex.wait(progress=True)
    assert view.state == "completed"
    err = capsys.readouterr().err
    assert f"scan {ex.id}" in err and "100%" in err


def test_start_takes_a_request_and_keywords(client: Client) -> None:
    req = SubmitRequest(kind="scan", expr="close > open", pack="demo", tickers=["SYN0001", "SYN0002"])
    ex = client.start(req, from_="2024-06-03")
    spec = ex.view.spec if ex.view else {}
    assert "SYN0001" in json.dumps(spec)
    ex.wait(progress=False)
    df = ex.results()
    assert set(df["ticker"]) <= {"SYN0001", "SYN0002"}


def test_idempotency_key_returns_the_same_execution(client: Client) -> None:
    key = uuid.uuid4().hex
    a = client.start(kind="scan", expr="close > open", pack="demo", idempotency_key=key)
    b = client.start(kind="scan", expr="close > open", pack="demo", idempotency_key=key)
    assert a.id == b.id
    a.wait(progress=False)


def test_reuse_returns_a_completed_execution(client: Client, scan: Execution) -> None:
    again = client.start(kind="scan", expr=SCANNER, pack="demo", reuse=True)
    assert again.submitted is not None and again.submitted.reused and again.id == scan.id


def test_list_with_cursors(client: Client, scan: Execution) -> None:
    first = client.executions.list(limit=1)
    assert len(first.items) == 1 and first.next
    second = client.executions.list(limit=1, after=first.next)
    assert second.items[0].id != first.items[0].id
    ids = [e.id for e in client.executions.iter(kind="scan", limit=2)]
    assert scan.id in ids and len(ids) == len(set(ids))
    assert all(e.state == "completed" for e in client.executions.iter(state="completed", limit=50))


def test_history_and_summaries(client: Client, scan: Execution) -> None:
    assert scan.id in {e.id for e in client.history(kind="scan", limit=1000).items}
    totals = client.summary()
    assert totals and "runs" in json.dumps(totals)
    s = client.executions.summary(scan.id)
    assert s["state"] == "completed" and s["summary"] is not None
    assert scan.summary() == s["summary"]


def test_backtest_trades_and_equity(client: Client, server: Server) -> None:
    ex = client.start(kind="backtest", strategy=CROSS, pack="demo", tickers=["SYN0003", "SYN0004"])
    ex.wait(progress=False)
    stats = ex.results()
    assert set(stats["ticker"]) == {"SYN0003", "SYN0004"}
    trades = ex.trades()
    served = raw(server, f"/v1/executions/{ex.id}/trades").json()
    closed = sum(len(t["trades"]) for t in served) + sum(1 for t in served if t.get("open_trade"))
    assert len(trades) == closed > 0
    assert {"ticker", "open"} <= set(trades.columns)
    equity = ex.equity()
    assert list(equity.columns) == ["ticker", "date", "equity", "drawdown"]
    assert pd.api.types.is_datetime64_any_dtype(equity["date"])
    assert len(equity) == sum(len(t["points"]) for t in raw(server, f"/v1/executions/{ex.id}/equity").json())


def test_sweep_results(client: Client) -> None:
    ex = client.start(
        kind="sweep",
        strategy={"entry": "close > sma(close, $n)", "exit": "close < sma(close, $n)"},
        grid=["n=5..15:5"],
        pack="demo",
        tickers=["SYN0001", "SYN0002"],
    )
    ex.wait(progress=False)
    assert len(ex.results()) == 3


def test_a_test_and_its_report(client: Client, scan: Execution) -> None:
    hit = client.results(scan.id).iloc[0]
    ex = client.start(
        kind="test",
        expr=SCANNER,
        pack="demo",
        examples=[Example(ticker=hit["ticker"], date=hit["date"].date().isoformat())],
    )
    ex.wait(progress=False)
    report = ex.report()
    assert report["execution"] == ex.id and "report" in report
    assert isinstance(ex.report("md"), str)
    verdicts = ex.results()
    assert "verdict" in verdicts.columns


def test_execute_waits_for_the_result(client: Client) -> None:
    done = client.execute(kind="scan", expr="close > open", pack="demo", wait_seconds=60)
    assert isinstance(done, Executed)
    assert done.execution.state == "completed" and done.fingerprint and done.pack_id


def test_lookahead_check(client: Client) -> None:
    ex = client.check_lookahead(expr="close > sma(close, 5)", pack="demo", tickers=["SYN0001"], cuts=5)
    view = ex.wait(progress=False)
    assert view.kind == "check" and view.state == "completed"
    assert "report" in ex.report()


def test_run_script_log(client: Client) -> None:
    ex = client.start(kind="run", script="print('hello from quantd')\nprint('Return: 1.5%')\n", name="hello")
    ex.wait(progress=False)
    log = ex.results()
    assert "hello from quantd" in log["text"].tolist()


def test_pattern_and_retry(client: Client) -> None:
    name = f"routine-{uuid.uuid4().hex[:6]}"
    client.code.deploy(
        name,
        # An expression no other test runs, so the step is not a cached earlier run.
        pattern={"steps": [{"id": "scan", "kind": "scan", "expr": f"close > open - {uuid.uuid4().int % 10**6}", "pack": "demo"}]},
    )
    ex = client.start(kind="pattern", code=name)
    assert ex.wait(progress=False).state == "completed"
    (step,) = client.executions.list(parent=ex.id).items
    assert step.parent_step == "scan@1" and step.parent_id == ex.id
    again = ex.retry(["scan"])
    assert again.id != ex.id
    assert again.wait(progress=False).state == "completed"
    # The step ran again as its next attempt (or was reused from the step cache).
    assert [e.data["step"] for e in again.events() if e.type == "step-completed"] == ["scan"]


def test_paper_session_orders(client: Client) -> None:
    ex = client.start(kind="paper", python=SMA_CROSS, pack="demo", tickers=["SYN0005"], speed="max")
    ex.wait(progress=False)
    orders = ex.orders()
    assert len(orders) > 0 and {"seq", "type"} <= set(orders.columns)
    assert orders["seq"].is_monotonic_increasing
    assert {"order", "session-day"} >= set(orders["type"]) and "session-day" in set(orders["type"])
    page = client.executions.orders_page(ex.id, limit=3)
    assert len(page.events) == 3 and page.next is not None


def test_pause_resume_cancel(client: Client) -> None:
    # A sweep big enough to still run while it is paused, resumed and cancelled.
    ex = client.start(
        kind="sweep",
        strategy={"entry": "close > sma(close, $n)", "exit": "close < sma(close, $m)"},
        grid=["n=2..200:1", "m=2..200:1"],
        pack="wide",
        priority=-10,
    )
    assert ex.pause().state == "paused"
    assert ex.resume().state in ("pending", "running")
    assert ex.cancel().state == "cancelled"
    with pytest.raises(Conflict) as info:
        ex.pause()
    assert info.value.status == 409 and info.value.detail
    assert ex.wait(progress=False).state == "cancelled"


def test_a_failed_execution_raises_on_wait(client: Client) -> None:
    ex = client.start(kind="run", script="raise SystemExit(3)\n", name="fails")
    with pytest.raises(ExecutionFailed) as info:
        ex.wait(progress=False)
    assert info.value.execution.state == "failed"
    assert ex.wait(progress=False, raise_on_failure=False).state == "failed"


def test_workspaces_are_isolated(server: Server, scan: Execution) -> None:
    with server.client(server.other_token) as other, pytest.raises(NotFound):
        other.executions.get(scan.id)


def test_a_wrong_token_is_unauthorized(server: Server) -> None:
    with server.client("qdt_nope_nope") as bad, pytest.raises(Unauthorized) as info:
        bad.executions.list()
    assert info.value.status == 401 and info.value.type == "urn:quantd:problem:unauthorized"


def test_policy_webhooks_agents(client: Client) -> None:
    policy = client.policy.set({"retry": {"network": {"maximum_attempts": 4}}})
    assert client.policy.get() == policy
    client.policy.set({})

    hook = client.webhooks.add("http://127.0.0.1:9/hook", events=["completed"])
    assert hook["secret"] and hook["id"] in {h["id"] for h in client.webhooks.list()}
    assert isinstance(client.webhooks.deliveries(hook["id"], limit=5), list)
    client.webhooks.remove(hook["id"])
    assert hook["id"] not in {h["id"] for h in client.webhooks.list()}

    client.agents.add("helper", "http://127.0.0.1:9/agent", ["summarize"])
    assert "helper" in json.dumps(client.agents.list())
    client.agents.remove("helper")
    assert "helper" not in json.dumps(client.agents.list())


def test_health_ready_metrics(client: Client) -> None:
    assert client.health().status == "ok"
    assert client.ready().status == "ready"
    assert "quantd_" in client.metrics()
