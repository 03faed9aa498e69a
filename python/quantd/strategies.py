"""Class strategies: stateful code that looks at each bar, its position and orders, and places
orders — familiar to backtesting.py users::

    import quantd as qd

    class SmaCross(qd.Strategy):
        params = {"fast": 10, "slow": 20}

        def init(self):
            self.a = self.I(qd.ta.sma, self.data.Close, self.fast)
            self.b = self.I(qd.ta.sma, self.data.Close, self.slow)

        def next(self):
            if qd.crossover(self.a, self.b):
                self.position.close()
                self.buy()
            elif qd.crossover(self.b, self.a):
                self.position.close()
                self.sell()

The orders go to a broker that quantd runs outside the sandbox (a simulated one in backtests,
a paper or live one otherwise): this process only decides. It tells the broker what the strategy
did on a bar when the broker may have something to do (orders waiting or new actions), over the
job's channel (``QUANTD_CHANNEL_FD``: 4-byte little-endian length, then JSON), and learns the
fills, trades and cash back. See docs/strategies.md for the differences from backtesting.py.
"""

from __future__ import annotations

import json
import math
import os
import sys
from numbers import Number
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from quantd._sdk import ContractError

__all__ = ["Strategy", "Order", "Trade", "Position", "crossover", "cross", "barssince"]

#: backtesting.py's default order size: all available margin, ``1 - ε``.
FULL_EQUITY = 1 - sys.float_info.epsilon

#: Largest frame either side sends.
MAX_FRAME = 16 << 20


# --------------------------------------------------------------------------------------------
# Helpers strategies use


def crossover(series1: Any, series2: Any) -> bool:
    """Whether ``series1`` just crossed over ``series2`` (above on this bar, below on the one
    before). Either may be a number."""
    a = series1 if type(series1) is np.ndarray else _pair(series1)
    b = series2 if type(series2) is np.ndarray else _pair(series2)
    try:
        return bool(a[-2] < b[-2] and a[-1] > b[-1])
    except IndexError:
        return False


def _pair(x: Any) -> Any:
    if isinstance(x, pd.Series):
        return x.values
    if isinstance(x, Number):
        return (x, x)
    return x


def cross(series1: Any, series2: Any) -> bool:
    """Whether the two series just crossed, either way."""
    return crossover(series1, series2) or crossover(series2, series1)


def barssince(condition: Any, default: float = math.inf) -> float:
    """Bars since ``condition`` was last true (0: on this bar), ``default`` if never."""
    hits = np.flatnonzero(np.asarray(condition, dtype=bool)[::-1])
    return int(hits[0]) if len(hits) else default


# --------------------------------------------------------------------------------------------
# The data a strategy sees


class _Data:
    """One ticker's bars as numpy arrays that grow bar by bar: within ``next`` the last value
    (``data.Close[-1]``) is the current bar's. ``Open High Low Close Volume`` (also lowercase),
    ``index`` (a DatetimeIndex), ``df`` (the bars so far as a DataFrame)."""

    def __init__(self, columns: Mapping[str, np.ndarray], dates: np.ndarray, tz: str | None = None) -> None:
        """``columns``: name → values (one per bar); ``dates``: the bars' datetime64 times (UTC
        when ``tz`` names their zone). The DatetimeIndex and the DataFrame are made only when
        asked for."""
        self.__names = list(columns)
        self.__dates = dates
        self.__tz = tz
        self.__len = len(dates)
        self.__full: dict[str, np.ndarray] = {}
        for col, arr in columns.items():
            if arr.dtype.kind in "iuf":
                arr = arr.astype(float, copy=False)
            self.__full[str(col)] = arr
            self.__full.setdefault(str(col).capitalize(), arr)
            self.__full.setdefault(str(col).lower(), arr)
        self.__index: pd.DatetimeIndex | None = None
        self.__cache: dict[str, Any] = {}

    @classmethod
    def of_frame(cls, df: pd.DataFrame) -> "_Data":
        """The bars of a DataFrame with a DatetimeIndex."""
        index = df.index
        tz = None if getattr(index, "tz", None) is None else str(index.tz)
        dates = index.tz_convert("UTC").tz_localize(None).to_numpy() if tz else index.to_numpy()
        return cls({str(c): df[c].to_numpy() for c in df.columns}, dates, tz)

    def _set_length(self, n: int) -> None:
        self.__len = n
        self.__cache.clear()

    def __len__(self) -> int:
        return self.__len

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__cache[name]
        except KeyError:
            pass
        try:
            arr = self.__full[name][: self.__len]
        except KeyError:
            raise AttributeError(f"the bars have no column {name!r}; they have {', '.join(self.__names)}") from None
        self.__cache[name] = arr
        return arr

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    @property
    def index(self) -> pd.DatetimeIndex:
        if self.__index is None:
            index = pd.DatetimeIndex(self.__dates, name="date")
            if self.__tz is not None:
                index = index.tz_localize("UTC").tz_convert(self.__tz)
            self.__index = index
        return self.__index[: self.__len]

    @property
    def df(self) -> pd.DataFrame:
        n = self.__len
        return pd.DataFrame({c: self.__full[c][:n] for c in self.__names}, index=self.index)

    @property
    def pip(self) -> float:
        close = self.__full.get("Close")
        if close is None or not len(close):
            return 0.01
        decimals = max(len(f"{x:.10g}".partition(".")[2]) for x in close[-100:])
        return 10.0 ** -decimals


class _Book:
    """A portfolio's bars: every ticker on one calendar (the union of their dates), as 2-D
    arrays ``(tickers, bars)`` that grow bar by bar (``data.Close[:, -1]`` is the current bar;
    NaN where a ticker has no bar), ``data.tickers``, ``data.index``, and ``data[ticker]``, one
    ticker's bars as a :class:`_Data`-like view."""

    def __init__(self, tickers: list[str], index: pd.DatetimeIndex, columns: dict[str, np.ndarray]) -> None:
        self.tickers = tickers
        self._pos = {t: i for i, t in enumerate(tickers)}
        self.__index = index
        self.__full: dict[str, np.ndarray] = {}
        for name, arr in columns.items():
            self.__full[name] = arr
            self.__full.setdefault(name.capitalize(), arr)
        close = columns["close"]
        # The last known close of each ticker at each bar (for valuing positions).
        filled = pd.DataFrame(close.T).ffill().to_numpy().T
        self.__filled = filled
        self.__len = len(index)
        self.__cache: dict[str, Any] = {}

    def _set_length(self, n: int) -> None:
        self.__len = n
        self.__cache.clear()

    def __len__(self) -> int:
        return self.__len

    def _index_of(self, ticker: Any) -> int:
        if isinstance(ticker, (int, np.integer)) and 0 <= ticker < len(self.tickers):
            return int(ticker)
        try:
            return self._pos[ticker]
        except KeyError:
            raise ContractError(f"ticker {ticker!r} is not in this backtest") from None

    def _last(self, t: int) -> float:
        return float(self.__filled[t, self.__len - 1])

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__cache[name]
        except KeyError:
            pass
        try:
            arr = self.__full[name][:, : self.__len]
        except KeyError:
            raise AttributeError(f"the bars have no column {name!r}") from None
        self.__cache[name] = arr
        return arr

    def __getitem__(self, ticker: str) -> "_TickerView":
        return _TickerView(self, self._index_of(ticker))

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.__index[: self.__len]


class _TickerView:
    """One ticker of a :class:`_Book`: ``Open High Low Close Volume`` up to the current bar."""

    def __init__(self, book: _Book, t: int) -> None:
        self._book, self._t = book, t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)[self._t]

    def __len__(self) -> int:
        return len(self._book)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self._book.index


def book_of(frame: pd.DataFrame, slices: list[tuple[str, int, int]]) -> _Book:
    """The book of a batch frame (each ticker's rows ``a:b``), aligned on the union of dates."""
    dates = frame.index.to_numpy()
    union = np.unique(dates)
    n, k = len(union), len(slices)
    columns: dict[str, np.ndarray] = {}
    numeric = [c for c in frame.columns if frame[c].dtype.kind in "iuf"]
    values = {c: frame[c].to_numpy(dtype=float) for c in numeric}
    for c in numeric:
        columns[str(c)] = np.full((k, n), np.nan)
    for row, (_, a, b) in enumerate(slices):
        at = np.searchsorted(union, dates[a:b])
        for c in numeric:
            columns[str(c)][row, at] = values[c][a:b]
    for arr in columns.values():
        arr.flags.writeable = False
    return _Book([name for name, _, _ in slices], pd.DatetimeIndex(union, name=frame.index.name), columns)


# --------------------------------------------------------------------------------------------
# Orders, trades, position: what the broker said at the last step, plus this bar's own actions


class Order:
    """An order waiting at the broker (or placed on this bar). ``size`` is negative for sells;
    between 0 and 1 it is a fraction of the available margin."""

    __slots__ = ("_s", "id", "client_id", "size", "limit", "stop", "sl", "tp", "tag", "parent_trade", "bracket")

    def __init__(self, strategy: "Strategy", d: Mapping[str, Any]) -> None:
        self._s = strategy
        self.id = d.get("id")
        self.client_id = d.get("client_id")
        self.size = d["size"]
        self.limit = d.get("limit")
        self.stop = d.get("stop")
        self.sl = d.get("sl")
        self.tp = d.get("tp")
        self.tag = d.get("tag")
        self.parent_trade = d.get("parent_trade")
        self.bracket = d.get("bracket")

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    @property
    def is_contingent(self) -> bool:
        """Whether it is a trade's stop-loss or take-profit."""
        return self.bracket is not None

    def cancel(self) -> None:
        """Cancels the order (at the broker's next step)."""
        if self.id is not None:
            self._s._act({"op": "cancel", "id": self.id})
        else:
            self._s._act({"op": "cancel", "client_id": self.client_id})
        self._s._orders = [o for o in self._s._orders if o is not self]

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("size", "limit", "stop", "sl", "tp", "tag") if getattr(self, k) is not None)
        return f"<Order {fields}>"


class Trade:
    """An open trade (or a closed one, in ``closed_trades``). ``sl`` and ``tp`` can be set."""

    def __init__(self, strategy: "Strategy", d: Mapping[str, Any]) -> None:
        self._s = strategy
        self.id: int = d["id"]
        self.ticker: int = d.get("ticker", 0)
        self.size: float = d.get("size", d.get("Size"))
        self.entry_price: float = d.get("entry_price", d.get("EntryPrice"))
        self.entry_bar: int = d.get("entry_bar", d.get("EntryBar"))
        self.exit_price: float | None = d.get("ExitPrice")
        self.exit_bar: int | None = d.get("ExitBar")
        self._sl: float | None = d.get("sl", d.get("SL"))
        self._tp: float | None = d.get("tp", d.get("TP"))
        self.tag = d.get("tag")
        self._pnl: float | None = d.get("PnL")
        self._return: float | None = d.get("ReturnPct")

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    def _price(self) -> float:
        return self.exit_price if self.exit_price is not None else self._s._last(self.ticker)

    @property
    def pl(self) -> float:
        """Profit in cash (a closed trade's after commissions; an open one's before)."""
        if self._pnl is not None:
            return self._pnl
        return self.size * (self._price() - self.entry_price)

    @property
    def pl_pct(self) -> float:
        """Profit as a fraction of the entry value."""
        if self._return is not None:
            return self._return
        return math.copysign(1, self.size) * (self._price() / self.entry_price - 1)

    @property
    def value(self) -> float:
        return abs(self.size) * self._price()

    @property
    def entry_time(self) -> pd.Timestamp:
        return self._s._times(self.ticker)[self.entry_bar]

    @property
    def exit_time(self) -> pd.Timestamp | None:
        return None if self.exit_bar is None else self._s._times(self.ticker)[self.exit_bar]

    @property
    def sl(self) -> float | None:
        return self._sl

    @sl.setter
    def sl(self, price: float | None) -> None:
        self._bracket("sl", price)
        self._sl = price

    @property
    def tp(self) -> float | None:
        return self._tp

    @tp.setter
    def tp(self, price: float | None) -> None:
        self._bracket("tp", price)
        self._tp = price

    def _bracket(self, which: str, price: float | None) -> None:
        if price is not None and not (0 < price < math.inf):
            raise ValueError(f"Make sure 0 < price < inf! price: {price}")
        self._s._act({"op": "set_bracket", "trade": self.id, "bracket": which, "price": None if price is None else float(price)})

    def close(self, portion: float = 1.0) -> None:
        """Closes ``portion`` of the trade at the next market price."""
        if not 0 < portion <= 1:
            raise ValueError("portion must be a fraction between 0 and 1")
        self._s._act({"op": "close_trade", "trade": self.id, "portion": float(portion)})

    def __repr__(self) -> str:
        return f"<Trade size={self.size} entry_bar={self.entry_bar} price={self.entry_price}>"


class Position:
    """The units held in one ticker over its open trades; false when flat."""

    def __init__(self, strategy: "Strategy", ticker: int = 0) -> None:
        self._s = strategy
        self._t = ticker

    def _trades(self) -> list[Trade]:
        return [t for t in self._s._trades if t.ticker == self._t]

    @property
    def size(self) -> float:
        return sum(t.size for t in self._trades())

    def __bool__(self) -> bool:
        return self.size != 0

    @property
    def pl(self) -> float:
        return sum(t.pl for t in self._trades())

    @property
    def pl_pct(self) -> float:
        invested = sum(abs(t.size) * t.entry_price for t in self._trades())
        return self.pl / invested * 100 if invested else 0.0

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0

    def close(self, portion: float = 1.0) -> None:
        """Closes ``portion`` of every open trade."""
        for t in self._trades():
            t.close(portion)

    def __repr__(self) -> str:
        return f"<Position: {self.size} ({len(self._trades())} trades)>"


# --------------------------------------------------------------------------------------------
# The strategy


class Strategy:
    """Base class of class strategies. Subclasses declare ``params`` (a dict of defaults,
    readable as attributes: ``self.fast``) — or, as in backtesting.py, plain class attributes —
    and implement ``init`` (indicators, through :meth:`I`) and ``next`` (one call per bar)."""

    params: Mapping[str, Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from quantd._sdk import _register_class

        _register_class(cls)

    def __init__(self, data: _Data, params: Mapping[str, Any], link: "_Link") -> None:
        self._data = data
        self._link = link
        for k, v in params.items():
            setattr(self, k, v)
        self._made: list[np.ndarray] = []
        self._actions: list[dict[str, Any]] = []
        self._orders: list[Order] = []
        self._trades: list[Trade] = []
        self._closed: list[Trade] = []
        self._cash = link.cash
        self._next_client = 1
        self._position = Position(self)

    # What user code calls -------------------------------------------------------------------

    def init(self) -> None:
        """Compute indicators here (over the whole history: they must not look ahead)."""

    def next(self) -> None:
        """Called once per bar, after the broker has filled what it could at this bar."""

    def I(self, func: Callable[..., Any], *args: Any, name: str | None = None, **kwargs: Any) -> np.ndarray:  # noqa: E743
        """Computes an indicator once over the whole history and returns it; inside ``next``
        the attribute it was stored in holds only the values up to the current bar."""
        value = func(*args, **kwargs)
        if isinstance(value, (pd.Series, pd.DataFrame)):
            value = value.to_numpy().T
        arr = np.asarray(value, dtype=float)
        n = len(self._data)
        if arr.ndim == 0 or arr.shape[-1] != n:
            raise ContractError(
                f"indicator {name or getattr(func, '__name__', func)!r} has {arr.shape[-1] if arr.ndim else 0} values for {n} bars; "
                "an indicator needs one value per bar"
            )
        arr.flags.writeable = False
        self._made.append(arr)
        return arr

    @property
    def data(self) -> _Data:
        return self._data

    @property
    def position(self) -> Position:
        """The position (one-ticker runs; a portfolio has :attr:`positions`)."""
        if isinstance(self._data, _Book):
            raise ContractError("a portfolio strategy has self.positions[ticker], not self.position")
        return self._position

    @property
    def orders(self) -> tuple[Order, ...]:
        return tuple(self._orders)

    @property
    def trades(self) -> tuple[Trade, ...]:
        return tuple(self._trades)

    @property
    def closed_trades(self) -> tuple[Trade, ...]:
        return tuple(self._closed)

    @property
    def equity(self) -> float:
        """Cash plus the open trades' profit at the current close."""
        return self._cash + sum(t.size * (self._last(t.ticker) - t.entry_price) for t in self._trades)

    def buy(self, *, size: float = FULL_EQUITY, limit: float | None = None, stop: float | None = None,
            sl: float | None = None, tp: float | None = None, tag: object = None, ticker: Any = None) -> Order:
        """Places a long order: ``size`` a fraction of the available margin (default all of
        it) or whole units; ``limit``/``stop`` prices; ``sl``/``tp`` for the trade it opens."""
        return self._order(size, limit, stop, sl, tp, tag, ticker)

    def sell(self, *, size: float = FULL_EQUITY, limit: float | None = None, stop: float | None = None,
             sl: float | None = None, tp: float | None = None, tag: object = None, ticker: Any = None) -> Order:
        """Places a short order (see :meth:`buy`). To exit a long position use
        ``self.position.close()``."""
        return self._order(-size, limit, stop, sl, tp, tag, ticker)

    # Plumbing ---------------------------------------------------------------------------------

    def _ticker_index(self, ticker: Any) -> int:
        if isinstance(self._data, _Book):
            if ticker is None:
                raise ContractError("a portfolio strategy names the ticker of each order: self.buy(ticker='AAPL')")
            return self._data._index_of(ticker)
        return 0

    def _last(self, ticker: int) -> float:
        if isinstance(self._data, _Book):
            return self._data._last(ticker)
        return float(self._data.Close[-1])

    def _times(self, ticker: int) -> pd.DatetimeIndex:
        return self._data.index

    # Portfolios ---------------------------------------------------------------------------

    @property
    def positions(self) -> dict[str, Position]:
        """A portfolio's positions by ticker (only the tickers held)."""
        book = self._book()
        held = sorted({t.ticker for t in self._trades})
        return {book.tickers[t]: Position(self, t) for t in held}

    def weight_of(self, ticker: str) -> float:
        """The fraction of the equity held in ``ticker`` at the current close."""
        book = self._book()
        t = book._index_of(ticker)
        value = sum(tr.size for tr in self._trades if tr.ticker == t) * book._last(t)
        equity = self.equity
        return value / equity if equity else 0.0

    def rebalance(self, weights: Mapping[str, float], tag: object = None) -> None:
        """Moves the book towards ``weights`` (ticker → fraction of the equity at the current
        close; tickers left out go to zero): sells first, then buys, in whole units, as market
        orders for the next bar. Cash is what the weights leave (their sum must be ≤ 1)."""
        book = self._book()
        total = sum(weights.values())
        if any(w < 0 for w in weights.values()) or total > 1 + 1e-9:
            raise ValueError(f"weights must be ≥ 0 and sum to at most 1 (they sum to {total})")
        equity = self.equity
        held: dict[int, float] = {}
        for tr in self._trades:
            held[tr.ticker] = held.get(tr.ticker, 0.0) + tr.size
        targets = {book._index_of(k): w for k, w in weights.items()}
        sells, buys = [], []
        for t in sorted(set(held) | set(targets)):
            price = book._last(t)
            if not price > 0:
                continue
            want = math.floor(targets.get(t, 0.0) * equity / price)
            delta = want - held.get(t, 0.0)
            if delta < 0:
                if want == 0:
                    sells.append(("close", t, delta))
                else:
                    sells.append(("sell", t, delta))
            elif delta > 0:
                buys.append(("buy", t, delta))
        for what, t, delta in sells:
            if what == "close":
                for tr in self._trades:
                    if tr.ticker == t:
                        tr.close()
            else:
                self.sell(size=abs(delta), ticker=book.tickers[t], tag=tag)
        for _, t, delta in buys:
            self.buy(size=delta, ticker=book.tickers[t], tag=tag)

    def _book(self) -> "_Book":
        if not isinstance(self._data, _Book):
            raise ContractError("positions, weights and rebalance are for portfolio backtests (--portfolio)")
        return self._data

    def _order(self, size: float, limit: Any, stop: Any, sl: Any, tp: Any, tag: object, ticker: Any) -> Order:
        a = abs(size)
        if not (0 < a < 1 or (round(a) == a and a >= 1)):
            raise ValueError("size must be a positive fraction of equity, or a positive whole number of units")
        t = self._ticker_index(ticker)
        limit, stop, sl, tp = (None if v is None else float(v) for v in (limit, stop, sl, tp))
        price = limit or stop or self._last(t) * (1 + math.copysign(self._link.spread, size))
        if size > 0 and not ((sl or -math.inf) < price < (tp or math.inf)):
            raise ValueError(f"Long orders require: SL ({sl}) < LIMIT ({price}) < TP ({tp})")
        if size < 0 and not ((tp or -math.inf) < price < (sl or math.inf)):
            raise ValueError(f"Short orders require: TP ({tp}) < LIMIT ({price}) < SL ({sl})")
        client_id = self._next_client
        self._next_client += 1
        d = {"ticker": t, "size": float(size), "limit": limit, "stop": stop, "sl": sl, "tp": tp,
             "tag": None if tag is None else str(tag), "client_id": client_id}
        self._act({"op": "submit", "order": d})
        order = Order(self, d)
        order.tag = tag
        self._orders.append(order)
        return order

    def _act(self, action: dict[str, Any]) -> None:
        self._actions.append(action)

    def _take_actions(self) -> list[dict[str, Any]]:
        a, self._actions = self._actions, []
        return a

    def _update(self, reply: Mapping[str, Any]) -> None:
        """Takes the broker's state after a step."""
        self._cash = reply["account"]["cash"]
        tags = {o.client_id: o.tag for o in self._orders if o.client_id is not None}
        self._orders = [Order(self, o) for o in reply["orders"]]
        for o in self._orders:
            if o.client_id in tags:
                o.tag = tags[o.client_id]
        self._trades = [Trade(self, t) for t in reply["trades"]]
        self._closed.extend(Trade(self, t) for t in reply["closed"])


# --------------------------------------------------------------------------------------------
# The channel to the broker


class _Link:
    """The job's channel to the host's broker: length-prefixed JSON requests and replies."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.cash = 0.0
        self.spread = 0.0
        # A paper session paces and records every bar: the strategy steps on each one.
        self.every_bar = False

    def call(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
        if len(body) > MAX_FRAME:
            raise ContractError(f"one bar's actions are {len(body)} bytes of JSON, more than {MAX_FRAME}")
        data = len(body).to_bytes(4, "little") + body
        while data:
            n = os.write(self.fd, data)
            data = data[n:]
        n = int.from_bytes(self._read(4), "little")
        if n > MAX_FRAME:
            raise ContractError(f"the broker's reply is {n} bytes")
        reply = json.loads(self._read(n))
        if "error" in reply:
            raise ContractError(f"the broker refused: {reply['error']}")
        return reply

    def _read(self, n: int) -> bytes:
        parts = []
        while n:
            chunk = os.read(self.fd, n)
            if not chunk:
                raise ContractError("the broker closed the channel")
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)

    @classmethod
    def from_env(cls) -> "_Link":
        fd = os.environ.get("QUANTD_CHANNEL_FD")
        if fd is None:
            raise ContractError("a class strategy needs the broker channel (QUANTD_CHANNEL_FD), which this job was not given")
        return cls(int(fd))


def _warmup(indicators: list[tuple[str, np.ndarray]]) -> int:
    """backtesting.py's warm-up: the bar by which every indicator has a value."""
    nbars = 0
    for _, arr in indicators:
        if not arr.size:
            continue
        nbars = max(nbars, int(np.isnan(arr).argmin(axis=-1).max()))
    return nbars


def ticker_bars(table: Any) -> list[tuple[str, _Data]]:
    """Each ticker's bars of a batch table (a ``ticker`` column, each ticker's rows contiguous,
    a ``date`` column, then the bar columns) as :class:`_Data`, straight from Arrow: no
    DataFrame is made unless the strategy asks for one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    tickers = table.column("ticker").combine_chunks()
    if not pa.types.is_dictionary(tickers.type):
        tickers = pc.dictionary_encode(tickers)
    codes = tickers.indices.to_numpy(zero_copy_only=False)
    names = tickers.dictionary.to_pylist()
    starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1, [len(codes)]))
    dates = table.column("date").combine_chunks()
    if pa.types.is_date32(dates.type):
        dates = dates.cast(pa.timestamp("s"))
    tz = getattr(dates.type, "tz", None)
    dates = dates.to_numpy(zero_copy_only=False)
    columns = {
        name: table.column(name).combine_chunks().to_numpy(zero_copy_only=False)
        for name in table.column_names
        if name not in ("ticker", "date")
    }
    return [
        (names[codes[a]], _Data({k: v[a:b] for k, v in columns.items()}, dates[a:b], tz))
        for a, b in zip(starts[:-1], starts[1:])
        if b > a
    ]


def run_portfolio(cls: type[Strategy], frame: pd.DataFrame, slices: list[tuple[str, int, int]], params: Mapping[str, Any], link: _Link) -> None:
    """Runs ``cls`` once over every ticker of the batch with shared cash (a portfolio)."""
    book = book_of(frame, slices)
    hello = link.call({"t": "begin_portfolio", "tickers": book.tickers, "bars": len(book)})
    _greet(link, hello)
    _loop(cls(book, params, link), book, link, portfolio=True)


def run(cls: type[Strategy], data: _Data, params: Mapping[str, Any], link: _Link, ticker: str) -> None:
    """Runs ``cls`` over one ticker's bars, talking to the broker over ``link``."""
    hello = link.call({"t": "begin", "ticker": ticker, "bars": len(data)})
    if "skip" in hello:
        return  # the host reports why this ticker has no backtest
    _greet(link, hello)
    _loop(cls(data, params, link), data, link, portfolio=False)


def _greet(link: _Link, hello: Mapping[str, Any]) -> None:
    """What the broker said when the run began: the account and how to step."""
    link.cash, link.spread = float(hello["cash"]), float(hello["spread"])
    link.every_bar = bool(hello.get("every_bar", False))


def _loop(s: Strategy, data: Any, link: _Link, portfolio: bool) -> None:
    """``init``, then ``next`` on every bar after the warm-up, stepping the broker on the bars
    where it may have something to do."""
    s.init()
    made = {id(a) for a in s._made}
    indicators = [(k, v) for k, v in vars(s).items() if id(v) in made]
    n = len(data)
    # A portfolio's tickers come and go: its strategy starts on the second bar and handles NaN.
    start = 1 if portfolio else 1 + _warmup(indicators)
    link.call({"t": "start", "start": min(start, n)})
    waiting = False
    with np.errstate(invalid="ignore"):
        for i in range(start, n):
            data._set_length(i + 1)
            for attr, full in indicators:
                setattr(s, attr, full[..., : i + 1])
            if waiting or s._actions or link.every_bar:
                reply = link.call({"t": "step", "bar": i, "actions": s._take_actions()})
                s._update(reply)
                if reply["stopped"]:
                    break
                waiting = bool(reply["orders"])
            s.next()
    link.call({"t": "end", "actions": s._take_actions()})
