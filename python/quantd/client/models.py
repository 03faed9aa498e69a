"""Typed models of what the client sends and receives, mirroring the server's OpenAPI schemas
(``GET /v1/openapi.json``; ``python/tests/client/test_schema.py`` fails when they drift).

Requests (:class:`SubmitRequest`, :class:`LookaheadRequest`, :class:`CodeBody`, ...) turn into
JSON with :func:`to_json`, which leaves out what is unset. Responses are decoded with
:func:`decode`, which tolerates fields a newer server adds (they land in ``extra``) so that an old
client keeps working; the drift test is what notices them.

Field names are the JSON names, except where Python forbids them: ``from_`` is ``from``, and a
problem's ``type`` is kept as ``type``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, Union

T = TypeVar("T")

#: The kinds of execution ``POST /v1/executions`` starts (``import`` starts from an upload).
Kind = Literal[
    "scan", "test", "backtest", "sweep", "run", "pattern", "paper", "live", "check", "evaluate"
]
#: The states of an execution; the last three are final.
State = Literal["pending", "running", "paused", "completed", "failed", "cancelled"]
#: States an execution never leaves.
FINAL_STATES = frozenset({"completed", "failed", "cancelled"})


def _json_name(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("json", f.name)


def json_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The fields of model ``cls`` by JSON name (``extra`` excluded)."""
    return {_json_name(f): f for f in dataclasses.fields(cls) if f.name != "extra"}


def required_fields(cls: type) -> set[str]:
    """JSON names of the fields of ``cls`` that have no default."""
    return {
        name
        for name, f in json_fields(cls).items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


# --- encoding -------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (list, dict)) and not value)


def to_json(value: Any) -> Any:
    """``value`` as JSON data: models become objects without their unset (``None``) or empty
    fields; lists and dicts are converted item by item."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.name == "extra":
                out.update(v)
            elif not _is_empty(v) and not (v is False and f.default is False):
                out[_json_name(f)] = to_json(v)
        return out
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- decoding -------------------------------------------------------------------------------


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _parse_datetime(text: str) -> dt.datetime:
    # Python 3.10's fromisoformat reads neither a trailing `Z` nor more than 6 fractional digits.
    text = _FRACTION.sub(r"\1", text[:-1] + "+00:00" if text.endswith("Z") else text)
    return dt.datetime.fromisoformat(text)


def decode(tp: Any, value: Any) -> Any:
    """JSON ``value`` as type ``tp``: models from objects (unknown keys kept in ``extra``),
    datetimes and dates from their ISO text, lists and optionals element by element; anything
    else as it is."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return decode(inner[0], value) if len(inner) == 1 else value
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return [decode(item, v) for v in value]
    if origin is not None and dataclasses.is_dataclass(origin):
        return _decode_model(origin, value, typing.get_args(tp))
    if tp is dt.datetime:
        return _parse_datetime(value)
    if tp is dt.date:
        return dt.date.fromisoformat(value)
    if dataclasses.is_dataclass(tp):
        return _decode_model(tp, value, ())
    return value


def _decode_model(cls: Any, data: dict[str, Any], args: tuple[Any, ...]) -> Any:
    hints = typing.get_type_hints(cls)
    params = getattr(cls, "__parameters__", ())
    bound = dict(zip(params, args))
    known = json_fields(cls)
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name in data:
            tp = hints[f.name]
            tp = bound.get(tp, tp)
            if typing.get_origin(tp) is list and typing.get_args(tp)[0] in bound:
                tp = list[bound[typing.get_args(tp)[0]]]  # type: ignore[valid-type]
            kwargs[f.name] = decode(tp, data[name])
    if "extra" in {f.name for f in dataclasses.fields(cls)}:
        kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
    return cls(**kwargs)


# --- requests -------------------------------------------------------------------------------


@dataclass
class StrategyExprs:
    """A strategy of expressions: long entry and exit, optionally short ones."""

    entry: str
    exit: str
    short_entry: str | None = None
    short_exit: str | None = None


@dataclass
class Example:
    """An A+ test example: where the scanner should (or should not) fire (``ExampleRequest``)."""

    ticker: str
    #: A session date (``2024-01-02``) or a bar's time with its offset.
    date: str
    expected: bool = True

    def __post_init__(self) -> None:
        self.date = str(self.date)


@dataclass
class SandboxLimits:
    """Limits of each sandboxed Python job, within the server's maxima (``SandboxRequest``)."""

    memory_mib: int | None = None
    cpu_secs: int | None = None
    wall_secs: int | None = None
    pids: int | None = None
    output_mib: int | None = None


@dataclass
class RequestOptions:
    """Retries and the failure policy of an execution."""

    #: Attempts per shard, the first included (1–10; default 3).
    max_attempts: int | None = None
    #: ``fail`` (default) or ``continue``.
    on_shard_failure: Literal["fail", "continue"] | None = None
    #: Retries per error class: ``{"network": {"maximum_attempts": 5}}``.
    retry: dict[str, Any] = field(default_factory=dict)
    #: Sandbox limits of Python jobs.
    sandbox: SandboxLimits | None = None


@dataclass
class SubmitRequest:
    """What to run: the body of ``POST /v1/executions`` (the engine's one request type). Set the
    fields the kind takes; docs/api.md lists them."""

    kind: Kind
    #: Stored code, ``NAME`` or ``NAME@N``.
    code: str | None = None
    #: An inline scanner expression (scan, test).
    expr: str | None = None
    #: Inline Python source: a ``@qd.scanner`` or a ``@qd.strategy``.
    python: str | None = None
    #: An inline strategy of expressions (backtest, sweep).
    strategy: StrategyExprs | dict[str, str] | None = None
    #: Pack name, id or id prefix (default: the newest fresh pack).
    pack: str | None = None
    #: ``$name`` parameter values.
    params: dict[str, float] = field(default_factory=dict)
    #: Only these tickers.
    tickers: list[str] | None = None
    #: Start of the window: a date (``2024-03-11``) or a time with its offset.
    from_: str | dt.date | None = field(default=None, metadata={"json": "from"})
    #: End of the window, included.
    to: str | dt.date | None = None
    #: A+ test examples.
    examples: list[Example] = field(default_factory=list)
    #: A+ test: bars a signal may be away from an example date (default 2).
    tolerance: int | None = None
    #: Sweep grid: ``name=start..end:step`` or ``name=v1,v2``.
    grid: list[str] = field(default_factory=list)
    #: Sweep: a condition on the parameters, e.g. ``fast < slow``.
    constraint: str | None = None
    #: Backtest settings (cash, commission, fill, sizing, stops; docs/backtesting.md).
    config: dict[str, Any] | None = None
    #: Retries, failure policy and sandbox limits.
    options: RequestOptions | None = None
    #: Return a completed execution with the same fingerprint instead of running again.
    reuse: bool = False
    #: -10 to 10 (default 0): higher is claimed first.
    priority: int | None = None
    #: Run: the Python script's source.
    script: str | None = None
    #: Run: the name it is listed under (default ``run``).
    name: str | None = None
    #: Run: the script's arguments.
    args: list[str] = field(default_factory=list)
    #: Run: wall-clock limit in seconds.
    timeout: int | None = None
    #: Pattern: the values of its inputs.
    inputs: dict[str, Any] | None = None
    #: Check: cut points per ticker (2–2,000).
    cuts: int | None = None
    #: Paper: replay speed, ``60x``, ``1x`` or ``max``.
    speed: str | None = None
    #: Paper: keep trading newer versions of the pack.
    follow: bool = False
    #: Live: the caller's confirmation that the session places real orders at the broker.
    confirm_live: bool = False


@dataclass
class LookaheadRequest:
    """A look-ahead check (``POST /v1/checks/lookahead``): a :class:`SubmitRequest` of kind
    ``check`` without the fields checks do not take."""

    code: str | None = None
    expr: str | None = None
    python: str | None = None
    strategy: StrategyExprs | dict[str, str] | None = None
    pack: str | None = None
    params: dict[str, float] = field(default_factory=dict)
    #: 1 to 500 tickers (default: 50 spread over the pack).
    tickers: list[str] | None = None
    cuts: int | None = None
    options: RequestOptions | None = None
    reuse: bool = False
    priority: int | None = None


@dataclass
class CodeBody:
    """Code to store or validate: exactly one of ``expr``, ``python``, ``strategy``,
    ``pattern``."""

    expr: str | None = None
    python: str | None = None
    strategy: StrategyExprs | dict[str, str] | None = None
    #: A pattern document (docs/patterns.md), as an object or its JSON/YAML text.
    pattern: dict[str, Any] | str | None = None


# --- responses ------------------------------------------------------------------------------


@dataclass
class Diagnostic:
    """One diagnostic of code: what, where (1-based line and column) and how to fix it
    (``CodeDiagnostic``)."""

    message: str
    line: int | None = None
    column: int | None = None
    help: str | None = None
    #: Which expression of a strategy (``entry``, ``exit``, ...).
    expression: str | None = None
    #: Where in a pattern document (``steps[2].needs[0]``).
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Problem:
    """An RFC 9457 problem document: every error the server answers."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[Diagnostic] = field(default_factory=list)
    rendered: str | None = None
    estimated_ready: dt.datetime | None = None
    provider: str | None = None
    trace_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Page(Generic[T]):
    """One page of a list; pass :attr:`next` as ``after`` for the next one (``None``: last)."""

    items: list[T]
    next: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProgressView:
    """Shard counters of an execution."""

    done: int
    total: int
    fraction: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class HealthView:
    """An execution's health: completion and error rates, a 0–100 score and its band."""

    completion_rate: float
    error_rate: float
    score: int
    band: str
    avg_shard_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExecutionView:
    """An execution: state, progress, health, fingerprint, timings, spec."""

    id: str
    kind: str
    state: str
    fingerprint: str
    pack_id: str
    progress: ProgressView
    shards_done: int
    shards_failed: int
    bars: int
    rows: int
    attempts: int
    failed_attempts: int
    created_at: dt.datetime
    spec: Any = None
    options: Any = None
    name: str | None = None
    code_version: str | None = None
    health: HealthView | None = None
    error_class: str | None = None
    error_message: str | None = None
    summary: Any = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_ms: int | None = None
    parent_id: str | None = None
    parent_step: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        """Whether the execution has ended (completed, failed or cancelled)."""
        return self.state in FINAL_STATES


@dataclass
class Submitted:
    """What starting an execution did: the execution (new, reused or idempotent)."""

    execution: ExecutionView
    reused: bool = False
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Executed:
    """``POST /v1/execute`` when the execution ended within the wait: it, and its result."""

    execution: ExecutionView
    pack_id: str
    fingerprint: str
    result: Any = None
    code_version: str | None = None
    reused: bool = False
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RightsView:
    """The terms that apply to a pack (docs/rights.md)."""

    export: str
    export_allowed: bool
    provider: str | None = None
    source: str | None = None
    license: str | None = None
    attribution: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PackView:
    """A pack: an immutable, content-addressed snapshot of bars, shared by every workspace."""

    name: str
    id: str
    state: str
    created_at: dt.datetime
    tickers: int
    bars: int
    first_date: dt.date
    last_date: dt.date
    interval: str
    zone: str
    first_bar: str
    last_bar: str
    columns: list[str]
    rows_dropped: int
    origin: str
    rights: RightsView
    error: str | None = None
    estimated_ready: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class UploadAccepted:
    """An upload whose import still runs (202): follow :attr:`execution`."""

    name: str
    execution: str
    events_url: str
    status_url: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PackHealth:
    """A pack's freshness: ``fresh``, ``warming`` (with ``estimated_ready``), ``stale``,
    ``error``."""

    name: str
    id: str
    state: str
    estimated_ready: dt.datetime | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CodeVersionView:
    """A stored, immutable code version."""

    name: str
    version: int
    id: str
    language: str
    source: str
    params: list[str]
    created_at: dt.datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CodeAdded:
    """What storing code did: the version the name resolves to, and whether it is new."""

    version: CodeVersionView
    unchanged: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CodeNameView:
    """A code name and the version it points at."""

    name: str
    current: int
    versions: int
    language: str
    updated_at: dt.datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Validated:
    """Valid code: its language, parameters and the content id it would be stored under."""

    valid: bool
    language: str
    params: list[str]
    id: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Live:
    """``GET /health``: alive, the server's version, agents' breakers by state."""

    status: str
    version: str
    breakers: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ready:
    """``GET /health/ready``: store reachable and workers running."""

    status: str
    store: bool
    workers: int
    workers_configured: int
    shutting_down: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Event:
    """One numbered event of an execution (``seq`` from 1, no gaps); ``data`` is the whole
    event, e.g. ``data["done"]`` of a ``progress`` event."""

    execution: str
    seq: int
    at: str
    type: str
    data: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        """The event of an SSE message's JSON data."""
        return cls(
            execution=data.get("execution", ""),
            seq=int(data["seq"]),
            at=data.get("at", ""),
            type=data.get("type", ""),
            data=data,
        )

    @property
    def is_final(self) -> bool:
        """Whether this event ends its execution (completed, failed, cancelled)."""
        return self.type in ("execution-completed", "execution-failed", "execution-cancelled")


@dataclass
class OrdersPage:
    """A page of a paper session's record: order and session-day events; :attr:`next` is the
    ``after`` of the next page (``None`` on the last so far)."""

    events: list[dict[str, Any]]
    next: int | None = None
    watermark: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
