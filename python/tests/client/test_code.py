"""Code: validate, deploy, versions, show, rollback, list, remove; errors with line and column."""

from __future__ import annotations

import uuid

import pytest

from quantd.client import Client, InvalidCode, NotFound, StrategyExprs


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_validate_valid_code(client: Client) -> None:
    v = client.code.validate(expr="close < sma(close, $n)")
    assert v.valid and v.language == "expr" and v.params == ["n"] and v.id


def test_a_bad_expression_raises_the_problem_with_line_and_column(client: Client) -> None:
    with pytest.raises(InvalidCode) as info:
        client.code.validate(expr="close > sma(close, 20) and\n  rsi(close, 14) <<< 30")
    e = info.value
    assert e.status == 422
    assert e.type == "urn:quantd:problem:invalid-code"
    assert e.title and e.detail
    assert e.trace_id and len(e.trace_id) == 32
    assert e.errors, e.problem
    first = e.errors[0]
    assert first.line == 2 and first.column is not None and first.column > 1
    assert first.message
    assert e.rendered and "<<<" in e.rendered


def test_deploy_versions_rollback_and_remove(client: Client) -> None:
    name = unique("dip")
    first = client.code.deploy(name, expr="rsi(close, 14) < 30")
    assert not first.unchanged and first.version.version == 1 and first.version.name == name
    again = client.code.deploy(name, expr="rsi(close, 14) < 30")
    assert again.unchanged and again.version.version == 1
    second = client.code.deploy(name, expr="rsi(close, 14) < $level")
    assert second.version.version == 2 and second.version.params == ["level"]

    assert client.code.show(name).version == 2
    assert client.code.show(f"{name}@1").source == "rsi(close, 14) < 30"
    assert client.code.version(name, 2).source == "rsi(close, 14) < $level"
    assert [v.version for v in client.code.versions(name)] == [1, 2]

    back = client.code.rollback(name)
    assert back.version == 1 and client.code.show(name).version == 1
    assert client.code.rollback(name, to=2).version == 2

    assert name in {n.name for n in client.code.iter()}
    client.code.remove(name)
    with pytest.raises(NotFound) as info:
        client.code.show(name)
    assert info.value.status == 404 and info.value.slug == "not-found"


def test_deploy_a_strategy_and_python(client: Client) -> None:
    name = unique("cross")
    added = client.code.deploy(
        name, strategy=StrategyExprs(entry="close > sma(close, 10)", exit="close < sma(close, 10)")
    )
    assert added.version.language == "strategy"
    py = client.code.deploy(
        unique("py"),
        python="import quantd as qd\n\n@qd.scanner()\ndef up(bars):\n    return bars.close > bars.open\n",
    )
    assert py.version.language == "python"


def test_code_list_pages_with_cursors(client: Client) -> None:
    names = {unique("page") for _ in range(3)}
    for n in names:
        client.code.deploy(n, expr="close > open")
    page = client.code.list(limit=1)
    assert len(page.items) == 1 and page.next
    seen = [i.name for i in client.code.iter()]
    assert names <= set(seen) and len(seen) == len(set(seen))


def test_deploy_needs_exactly_one_source(client: Client) -> None:
    with pytest.raises(TypeError):
        client.code.deploy("x", expr="close > open", python="pass")


def test_pattern_schema(client: Client) -> None:
    assert "steps" in str(client.code.pattern_schema())
