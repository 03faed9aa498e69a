"""The look-ahead check of a scanner or strategy, many cut points per sandbox job.

    python -m quantd.lookahead --code /job/main.py --bars /job/bars.arrow --out /out/lookahead.json \\
        [--entry NAME] [--params JSON] [--cuts 200] [--min-bars 50] [--seed 0]

The bars are a batch (a ``ticker`` column, each ticker's rows contiguous, dates ascending), as
``quantd.harness --batch`` takes them. For each ticker the entry point runs on the whole history
(twice: code whose two runs differ is not deterministic, and its check is inconclusive), then:

- **prefix invariance**: on the bars cut just after bar ``c`` (``bars[:c+1]``) for ~``cuts`` cut
  points: every bar where a signal (``signal``, ``entries``, ``exits``) fired, and sampled bars where
  none did (so a signal that look-ahead *suppressed* is caught too), plus the first and last
  possible cut. Every output row up to ``c`` — the cut's last bar included, so a one-bar
  look-ahead shows — must equal the full run's, in every column (signals exactly, indicators to
  1e-9 relative; NaN equals NaN). Cuts leave at least ``min_bars`` bars: code may refuse shorter
  histories.
- at the first cut point that differs, the cuts just before it (as many as the cut points) are run
  one by one for the first that differs; its first differing row is the first offending bar. How far ahead that bar looks is found by bisection: the fewest
  bars after it that make its output equal the full run's.
- **perturbation**: when no cut differs, the bars after a few points are multiplied by a large
  factor, and a few extreme bars are appended after the last; every output row before the change
  must stay the same.

Output: a JSON list with one object per ticker (row numbers index the ticker's bars; the host turns
them into dates). Printed diagnostics never include bar values of other tickers.

This finds mistakes, not malice: the check runs in the code's own interpreter, and code written to
notice that it is being cut can hide its look-ahead.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zlib
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from quantd._sdk import EntryPoint
from quantd.harness import Batch, entry_columns, load_module, pick_entry

#: Bars a cut leaves at least, unless the job says otherwise.
MIN_BARS = 50
#: Cut points per ticker, unless the job says otherwise.
CUTS = 200
#: Cuts before the first differing cut point searched one by one, at least.
LINEAR_GAP = 64
#: What the bars after a perturbation point are multiplied by (prices; volume by its square).
FACTOR = 50.0
#: Points per ticker after which the bars are perturbed, as fractions of its history.
PERTURB_AT = (0.25, 0.5, 0.75)
#: Extreme bars appended after the last.
APPENDED = 3
SIGNAL_COLUMNS = ("signal", "entries", "exits")
#: Longest error message kept per ticker.
MAX_ERROR = 2000

Outputs = dict[str, np.ndarray]


def first_difference(full: Outputs, part: Outputs, upto: int) -> tuple[int, str] | None:
    """The first row below ``upto`` where ``part`` differs from ``full``, and its first differing
    column (in output order); a column missing from either side differs at row 0."""
    best: tuple[int, str] | None = None
    for name in list(full) + [n for n in part if n not in full]:
        f, p = full.get(name), part.get(name)
        if f is None or p is None or len(p) < upto:
            row = 0
        else:
            a, b = f[:upto], p[:upto]
            if a.dtype == bool or b.dtype == bool:
                bad = a != b
            else:
                bad = ~np.isclose(b, a, rtol=1e-9, atol=1e-12, equal_nan=True)
            i = int(np.argmax(bad)) if len(bad) else 0
            if not len(bad) or not bad[i]:
                continue
            row = i
        if best is None or row < best[0]:
            best = (row, name)
    return best


def row_equal(full: Outputs, part: Outputs, row: int) -> bool:
    """Whether every column of ``part`` equals ``full``'s at ``row``."""
    d = first_difference({k: v[row : row + 1] for k, v in full.items()}, {k: v[row : row + 1] for k, v in part.items() if len(v) > row}, 1)
    return d is None


def value(outputs: Outputs, name: str, row: int) -> Any:
    """A cell as JSON: bool, a finite number, or the strings ``NaN``, ``inf``, ``-inf``; ``None``
    when the column or row is missing."""
    col = outputs.get(name)
    if col is None or row >= len(col):
        return None
    v = col[row].item()
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


class TickerCheck:
    """The check of one ticker's bars."""

    def __init__(self, ep: EntryPoint, bars: pd.DataFrame, params: Mapping[str, Any], name: str, cuts: int, min_bars: int, seed: int) -> None:
        self.ep, self.bars, self.params, self.name = ep, bars, params, name
        self.cuts, self.min_bars, self.seed = cuts, max(1, min_bars), seed
        self.runs = 0
        self.errors = 0
        self.error: str | None = None
        self.report: dict[str, Any] = {"ticker": name, "bars": len(bars)}

    def call(self, bars: pd.DataFrame) -> Outputs | None:
        """The outputs on ``bars``; ``None`` (counted, the first message kept) when the code raises."""
        self.runs += 1
        try:
            return entry_columns(self.ep, bars, self.params)
        except Exception as e:  # noqa: BLE001 - user code: counted and reported, not fatal
            self.errors += 1
            if self.error is None:
                self.error = f"{type(e).__name__}: {e}"[:MAX_ERROR]
            return None

    def cut(self, c: int) -> Outputs | None:
        """The outputs on the bars up to and including bar ``c``."""
        return self.call(self.bars.iloc[: c + 1])

    def cut_points(self, full: Outputs) -> tuple[list[int], int, set[int]]:
        """The cut points (ascending), the bars where a signal fired, and those of them that are
        cut points. Signal bars take up to three quarters of the cuts, the rarest signal column's
        first (a rare entry is not crowded out by frequent exits); sampled other bars the rest."""
        n = len(self.bars)
        lo, hi = self.min_bars - 1, n - 2
        columns = [full[c] for c in SIGNAL_COLUMNS if c in full]
        fired = np.zeros(n, dtype=bool)
        for col in columns:
            fired |= col
        signal_bars = int(fired.sum())
        if hi < lo:
            return [], signal_bars, set()
        budget = max(2, self.cuts)
        cap = max(1, budget * 3 // 4)
        chosen: set[int] = set()
        for col in sorted(columns, key=lambda c: int(c[lo : hi + 1].sum())):
            room = cap - len(chosen)
            bars = [b for b in (np.flatnonzero(col[lo : hi + 1]) + lo).tolist() if b not in chosen]
            if room <= 0:
                break
            if len(bars) > room:
                bars = [bars[i] for i in np.unique(np.linspace(0, len(bars) - 1, room).round().astype(int))]
            chosen.update(bars)
        signals = np.array(sorted(chosen), dtype=int)
        pool = np.setdiff1d(np.arange(lo, hi + 1), signals, assume_unique=True)
        k = min(len(pool), max(budget - len(signals) - 2, budget // 4))
        rng = np.random.default_rng([self.seed, zlib.crc32(self.name.encode())])
        others = rng.choice(pool, size=k, replace=False) if k else np.array([], dtype=int)
        points = sorted({lo, hi, *map(int, signals), *map(int, others)})
        return points, signal_bars, chosen

    def run(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            self._run()
        finally:
            self.report.update(runs=self.runs, errors=self.errors, error=self.error, seconds=round(time.perf_counter() - t0, 4))
        return self.report

    def _run(self) -> None:
        r, n = self.report, len(self.bars)
        if self.ep.style == "class":
            r["skipped"] = (
                "class strategies are not checked for look-ahead yet: next() sees only the bars up to "
                "the current one, but indicators made in init() see the whole history — check those "
                "as a scanner"
            )
            return
        full = self.call(self.bars)
        if full is None:
            r["skipped"] = "the code raised on the whole history"
            return
        again = self.call(self.bars)
        if again is None or (d := first_difference(full, again, n)) is not None:
            row, col = (0, "") if again is None else d
            r["nondeterministic"] = {"row": row, "column": col, "first": value(full, col, row), "second": value(again or {}, col, row)}
            return
        points, r["signal_bars"], signals = self.cut_points(full)
        if not points:
            r["skipped"] = f"fewer than {self.min_bars + 1} bars: no cut leaves {self.min_bars}"
            return
        r["cuts"] = r["signal_cuts"] = 0
        for c in points:
            part = self.cut(c)
            if part is None:
                continue
            r["cuts"] += 1
            r["signal_cuts"] += c in signals
            if first_difference(full, part, c + 1) is None:
                continue
            self.found(full, self.first_cut(full, c))
            return
        r["perturbations"] = 0
        for t, altered in self.perturbed():
            part = self.call(altered)
            if part is None:
                continue
            r["perturbations"] += 1
            d = first_difference(full, part, t + 1)
            if d is not None:
                row, col = d
                r["difference"] = {
                    "row": row, "column": col, "full": value(full, col, row), "cut": value(part, col, row),
                    "cut_at": t, "found_by": "perturbation" if t < n - 1 else "appended bars", "ahead": None,
                }
                return

    def first_cut(self, full: Outputs, bad: int) -> tuple[int, Outputs]:
        """The first cut that differs up to ``bad`` (which does), with its outputs: the cuts just
        before ``bad`` (as many as the check's cut points, at least ``LINEAR_GAP``) are run one
        by one, clean ones already checked included (an output may differ at an earlier cut and
        not at a later one: a rare signal read ahead)."""
        part = self.cut(bad)
        assert part is not None
        start = max(self.min_bars - 1, bad - max(LINEAR_GAP, self.cuts))
        for c in range(start, bad):
            p = self.cut(c)
            if p is not None and first_difference(full, p, c + 1) is not None:
                return c, p
        return bad, part

    def found(self, full: Outputs, first: tuple[int, Outputs]) -> None:
        c, part = first
        row, col = first_difference(full, part, c + 1) or (c, "")
        self.report["difference"] = {
            "row": row, "column": col, "full": value(full, col, row), "cut": value(part, col, row),
            "cut_at": c, "found_by": "prefix", "ahead": self.ahead(full, row, c),
        }

    def ahead(self, full: Outputs, row: int, c: int) -> int:
        """The fewest bars after ``row`` that make its outputs equal the full run's (bisection;
        the cut at ``c`` differs, the whole history does not)."""
        n = len(self.bars)
        lo, hi = c - row, n - 1 - row
        while hi - lo > 1:
            mid = (lo + hi) // 2
            p = self.cut(row + mid)
            if p is not None and row_equal(full, p, row):
                hi = mid
            else:
                lo = mid
        return hi

    def perturbed(self) -> list[tuple[int, pd.DataFrame]]:
        """Bars changed after a few points (with the point), and the bars with extreme bars
        appended (with the last row)."""
        n = len(self.bars)
        prices = [c for c in ("open", "high", "low", "close") if c in self.bars.columns]
        out = []
        for f in PERTURB_AT:
            t = int(f * n)
            if self.min_bars - 1 <= t < n - 1:
                altered = self.bars.copy()
                altered.iloc[t + 1 :, [altered.columns.get_loc(c) for c in prices]] *= FACTOR
                if "volume" in altered.columns:
                    altered.iloc[t + 1 :, altered.columns.get_loc("volume")] *= FACTOR * FACTOR
                out.append((t, altered))
        if n >= 2:
            step = self.bars.index[-1] - self.bars.index[-2]
            index = pd.DatetimeIndex([self.bars.index[-1] + step * (i + 1) for i in range(APPENDED)], name=self.bars.index.name)
            tail = self.bars.iloc[[-1] * APPENDED].copy()
            tail.index = index
            for c in prices:
                tail[c] = tail[c] * FACTOR
            out.append((n - 1, pd.concat([self.bars, tail])))
        return out


def check_batch(ep: EntryPoint, table: pa.Table, params: Mapping[str, Any], cuts: int = CUTS, min_bars: int = MIN_BARS,
                seed: int = 0) -> list[dict[str, Any]]:
    """The check of every ticker of a batch table."""
    batch = Batch(table)
    return [TickerCheck(ep, batch.frame.iloc[a:b], params, name, cuts, min_bars, seed).run() for name, a, b in batch.slices]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m quantd.lookahead")
    p.add_argument("--code", required=True)
    p.add_argument("--bars", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--entry")
    p.add_argument("--params", default="{}")
    p.add_argument("--cuts", type=int, default=CUTS)
    p.add_argument("--min-bars", type=int, default=MIN_BARS)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    load_module(a.code)
    ep = pick_entry(a.entry)
    with pa.memory_map(a.bars, "r") as source:
        table = pa.ipc.open_file(source).read_all()
    reports = check_batch(ep, table, json.loads(a.params), a.cuts, a.min_bars, a.seed)
    with open(a.out, "w") as f:
        json.dump(reports, f, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
