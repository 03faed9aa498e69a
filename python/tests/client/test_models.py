"""The models on their own: requests to JSON as the API takes them, responses decoded
tolerantly, problem documents to the right exception."""

from __future__ import annotations

import datetime as dt

import pytest

from quantd.client import InvalidCode, NotFound, ServerError, Unavailable
from quantd.client.bodies import request_body
from quantd.client.errors import error_for
from quantd.client.models import (
    Example,
    ExecutionView,
    Page,
    Problem,
    RequestOptions,
    SandboxLimits,
    SubmitRequest,
    decode,
    to_json,
)


def test_requests_leave_out_what_is_unset() -> None:
    req = SubmitRequest(
        kind="test",
        expr="close > open",
        from_="2024-01-02",
        examples=[Example("SYN0001", "2024-01-05")],
        options=RequestOptions(max_attempts=2, sandbox=SandboxLimits(memory_mib=256)),
    )
    assert to_json(req) == {
        "kind": "test",
        "expr": "close > open",
        "from": "2024-01-02",
        "examples": [{"ticker": "SYN0001", "date": "2024-01-05", "expected": True}],
        "options": {"max_attempts": 2, "sandbox": {"memory_mib": 256}},
    }
    assert to_json(SubmitRequest(kind="paper", follow=True, reuse=True)) == {"kind": "paper", "reuse": True, "follow": True}


def test_request_bodies_from_keywords_models_and_dicts() -> None:
    assert request_body(None, {"kind": "scan", "to": dt.date(2024, 3, 1)}) == {"kind": "scan", "to": "2024-03-01"}
    assert request_body(SubmitRequest(kind="scan"), {"pack": "demo"}) == {"kind": "scan", "pack": "demo"}
    assert request_body({"kind": "scan", "x": 1}, {"from_": "2024-01-01"}) == {"kind": "scan", "x": 1, "from": "2024-01-01"}
    with pytest.raises(TypeError):
        request_body(None, {"kind": "scan", "no_such_field": 1})


def test_responses_keep_unknown_fields_and_parse_times() -> None:
    view = {
        "id": "ex_1", "kind": "scan", "state": "running", "fingerprint": "f", "pack_id": "p",
        "progress": {"done": 1, "total": 4, "fraction": 0.25}, "shards_done": 1, "shards_failed": 0,
        "bars": 10, "rows": 2, "attempts": 1, "failed_attempts": 0,
        "created_at": "2026-12-05T11:22:00.141637123Z", "finished_at": None, "from_the_future": 1,
    }
    page = decode(Page[ExecutionView], {"items": [view], "next": "c1"})
    ex = page.items[0]
    assert page.next == "c1" and ex.progress.total == 4 and not ex.is_final
    assert ex.created_at == dt.datetime(2026, 12, 5, 11, 22, 0, 141637, tzinfo=dt.timezone.utc)
    assert ex.finished_at is None and ex.extra == {"from_the_future": 1}


@pytest.mark.parametrize(
    ("slug", "status", "cls"),
    [("invalid-code", 422, InvalidCode), ("not-found", 404, NotFound), ("pack-warming", 503, Unavailable), ("internal", 500, ServerError)],
)
def test_problems_become_their_exception(slug: str, status: int, cls: type) -> None:
    p = Problem(type=f"urn:quantd:problem:{slug}", title="t", status=status, detail="d")
    e = error_for(p, retry_after=3.0)
    assert type(e) is cls and e.slug == slug and e.retry_after == 3.0 and e.problem is p
