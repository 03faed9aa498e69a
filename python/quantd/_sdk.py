"""Decorators, the Signals type and the result line: what user code touches."""

from __future__ import annotations

import inspect
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, TypeVar, overload

Kind = Literal["scanner", "strategy"]
F = TypeVar("F", bound=Callable[..., Any])

RESULT_PREFIX = "QUANTD_RESULT "


class ContractError(Exception):
    """User code broke the SDK contract (wrong return type, unknown parameter, ...)."""


@dataclass(frozen=True)
class EntryPoint:
    """A function marked with ``@qd.scanner`` or ``@qd.strategy``."""

    kind: Kind
    name: str
    func: Callable[..., Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    #: ``"signals"`` (a decorated function) or ``"class"`` (a :class:`quantd.Strategy`
    #: subclass, which places orders itself).
    style: str = "signals"

    def resolve_params(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """The decorator's defaults overridden by ``given``; unknown names are an error (a
        class strategy also takes its plain class attributes, as backtesting.py does)."""
        given = dict(given or {})
        known = set(self.params)
        if self.style == "class":
            known |= {k for k in given if hasattr(self.func, k) and not callable(getattr(self.func, k))}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ContractError(
                f"{self.kind} {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                f"declared: {', '.join(sorted(self.params)) or '(none)'}"
            )
        return {**self.params, **given}


_REGISTRY: dict[str, EntryPoint] = {}


def entry_points() -> dict[str, EntryPoint]:
    """Entry points registered so far, by function name."""
    return dict(_REGISTRY)


def _register(kind: Kind, func: F, params: Mapping[str, Any] | None) -> F:
    params = dict(params or {})
    sig = inspect.signature(func)
    names = list(sig.parameters)
    if not names:
        raise ContractError(f"{kind} {func.__name__!r} must take the bars as its first argument")
    accepts_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    missing = [p for p in params if p not in names[1:] and not accepts_kwargs]
    if missing:
        raise ContractError(
            f"{kind} {func.__name__!r} declares params {missing} that its signature does not accept"
        )
    ep = EntryPoint(kind=kind, name=func.__name__, func=func, params=params)
    _REGISTRY[func.__name__] = ep
    func.__quantd__ = ep  # type: ignore[attr-defined]
    return func


def _register_class(cls: type) -> None:
    """Registers a :class:`quantd.Strategy` subclass as a class-style strategy entry point."""
    params = getattr(cls, "params", {})
    if not isinstance(params, Mapping):
        raise ContractError(f"strategy {cls.__name__!r}: params must be a dict, not {type(params).__name__}")
    _REGISTRY[cls.__name__] = EntryPoint(kind="strategy", name=cls.__name__, func=cls, params=dict(params), style="class")


@overload
def scanner(func: F, /) -> F: ...
@overload
def scanner(*, params: Mapping[str, Any] | None = None) -> Callable[[F], F]: ...
def scanner(func: Any = None, /, *, params: Mapping[str, Any] | None = None) -> Any:
    """Marks a scanner: ``f(bars, **params)`` returning a bool Series on ``bars.index``, or a
    DataFrame with a bool ``signal`` column plus indicator columns."""
    if func is not None:
        return _register("scanner", func, params)
    return lambda f: _register("scanner", f, params)


@overload
def strategy(func: F, /) -> F: ...
@overload
def strategy(*, params: Mapping[str, Any] | None = None) -> Callable[[F], F]: ...
def strategy(func: Any = None, /, *, params: Mapping[str, Any] | None = None) -> Any:
    """Marks a strategy: ``f(bars, **params)`` returning :class:`Signals`."""
    if func is not None:
        return _register("strategy", func, params)
    return lambda f: _register("strategy", f, params)


@dataclass(frozen=True)
class Signals:
    """Entry and exit signals for the backtester: bool Series on ``bars.index``."""

    entries: Any
    exits: Any


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return str(v)


def result(**metrics: Any) -> None:
    """Prints the one ``QUANTD_RESULT {json}`` line that a ``run`` stores as its metrics.
    Non-finite floats become null; numpy scalars become plain numbers."""
    line = json.dumps(_jsonable(metrics), sort_keys=True, allow_nan=False)
    sys.stdout.write(RESULT_PREFIX + line + "\n")
    sys.stdout.flush()
