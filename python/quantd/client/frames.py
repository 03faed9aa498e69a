"""pandas DataFrames of results: from the Parquet the server streams (results of every kind),
and from the JSON of trades, equity curves and a paper session's record.

pandas and pyarrow are imported on first use, so ``import quantd.client`` stays quick.
Derived data of a ``watermark`` pack keeps its watermark in ``df.attrs["watermark"]``, and the
data's attribution (header ``quantd-attribution``) in ``df.attrs["attribution"]``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Parquet key-value metadata the server writes on watermarked results.
WATERMARK_KEY = b"quantd.watermark"


def _marks(schema: pa.Schema, attribution: str | None) -> dict[str, Any]:
    meta = schema.metadata or {}
    attrs: dict[str, Any] = {}
    if WATERMARK_KEY in meta:
        attrs["watermark"] = json.loads(meta[WATERMARK_KEY])
    if attribution:
        attrs["attribution"] = attribution
    return attrs


def table_of_parquet(data: bytes) -> pa.Table:
    """A Parquet file in memory as an Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data))


def frame_of_table(table: pa.Table, attribution: str | None = None) -> pd.DataFrame:
    """An Arrow table of results as a DataFrame: dates as ``datetime64``, the watermark and
    attribution in ``attrs``."""
    df = table.to_pandas(date_as_object=False)
    df.attrs.update(_marks(table.schema, attribution))
    return df


def iter_parquet_batches(path: str, batch_size: int, attribution: str | None = None) -> Iterator[pd.DataFrame]:
    """A Parquet file on disk as DataFrames of at most ``batch_size`` rows, read one record
    batch at a time (memory stays bounded by a batch and one column chunk being decoded)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False) as f:
        attrs = _marks(f.schema_arrow, attribution)
        for batch in f.iter_batches(batch_size=batch_size):
            df = batch.to_pandas(date_as_object=False)
            df.attrs.update(attrs)
            yield df


def _dates(values: pd.Series) -> pd.Series:
    import pandas as pd

    # Daily bars are `YYYY-MM-DD`; intraday ones RFC 3339 with the pack's offsets, which change
    # with daylight saving time: read those as UTC.
    intraday = values.astype(str).str.contains("T").any()
    return pd.to_datetime(values, format="ISO8601", utc=bool(intraday))


def trades_frame(rows: list[dict[str, Any]], watermark: Any = None) -> pd.DataFrame:
    """``[{ticker, trades: [...], open_trade}]`` as one row per trade with its ``ticker`` first
    (backtesting.py's trade columns) and ``open`` (the trade still open at the end)."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for r in rows:
        for t in r.get("trades") or []:
            records.append({"ticker": r["ticker"], **t, "open": False})
        if r.get("open_trade"):
            records.append({"ticker": r["ticker"], **r["open_trade"], "open": True})
    df = pd.DataFrame.from_records(records)
    if df.empty:
        df = pd.DataFrame(columns=["ticker", "open"])
    for col in ("EntryTime", "ExitTime"):
        if col in df.columns:
            df[col] = _dates(df[col])
    if watermark is not None:
        df.attrs["watermark"] = watermark
    return df


def equity_frame(rows: list[dict[str, Any]], watermark: Any = None) -> pd.DataFrame:
    """``[{ticker, points: [{date, equity, drawdown}]}]`` as one row per (ticker, date)."""
    import pandas as pd

    records = [
        {"ticker": r["ticker"], **p} for r in rows for p in (r.get("points") or [])
    ]
    df = pd.DataFrame.from_records(records, columns=["ticker", "date", "equity", "drawdown"])
    if not df.empty:
        df["date"] = _dates(df["date"])
    if watermark is not None:
        df.attrs["watermark"] = watermark
    return df


def orders_frame(events: list[dict[str, Any]], watermark: Any = None) -> pd.DataFrame:
    """A paper session's record (order and session-day events) as one row per event, in order."""
    import pandas as pd

    df = pd.DataFrame.from_records(events)
    if df.empty:
        df = pd.DataFrame(columns=["seq", "at", "type"])
    if watermark is not None:
        df.attrs["watermark"] = watermark
    return df
