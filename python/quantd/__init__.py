"""The quantd Python SDK.

User code imports it as ``import quantd as qd`` and marks its entry points::

    @qd.scanner(params={"rsi_max": 30})
    def oversold(bars, rsi_max): ...          # -> bool Series, or DataFrame with 'signal'

    @qd.strategy(params={"fast": 10, "slow": 20})
    def sma_cross(bars, fast, slow): ...       # -> qd.Signals(entries=..., exits=...)

Bot scripts report metrics with ``qd.result(**metrics)``. The worker side lives in
:mod:`quantd.harness` (running an entry point over Arrow IPC bars) and :mod:`quantd.validate`.
"""

from quantd._sdk import (
    ContractError,
    EntryPoint,
    Signals,
    entry_points,
    result,
    scanner,
    strategy,
)

__all__ = [
    "ContractError",
    "EntryPoint",
    "Signals",
    "entry_points",
    "result",
    "scanner",
    "strategy",
]
__version__ = "0.1.0"
