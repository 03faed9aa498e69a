"""The progress bar of ``execution.wait(progress=True)``: tqdm's ``auto`` bar, a text bar in a
terminal and a widget in Jupyter, moved by the execution's events.

The bar counts shards (``progress`` events' ``done`` of ``total``); an import's ``phase`` events
(bytes read, tickers written) show in its description, and the rows found so far in its postfix.
"""

from __future__ import annotations

from typing import Any

from quantd.client.models import Event, ExecutionView


class ProgressBar:
    """A bar over one execution; every method is a no-op when ``enabled`` is false."""

    def __init__(self, view: ExecutionView | None, execution: str, enabled: bool = True, **tqdm_args: Any) -> None:
        self._bar: Any = None
        if not enabled:
            return
        from tqdm.auto import tqdm

        kind = view.kind if view else "execution"
        total = view.progress.total if view and view.progress.total else None
        self._bar = tqdm(
            total=total,
            desc=f"{kind} {execution}",
            unit="shard",
            initial=view.progress.done if view else 0,
            **tqdm_args,
        )

    def update(self, event: Event) -> None:
        """Moves the bar for ``event``."""
        bar = self._bar
        if bar is None:
            return
        d = event.data
        if event.type == "execution-created" and d.get("shards"):
            bar.total = d["shards"]
            bar.refresh()
        elif event.type == "progress":
            if d.get("total"):
                bar.total = d["total"]
            bar.n = d.get("done", bar.n)
            bar.set_postfix(rows=d.get("rows", 0), refresh=False)
            bar.refresh()
        elif event.type == "phase":
            done, total = d.get("done", 0), d.get("total", 0)
            shown = f"{done}/{total}" if total else str(done)
            bar.set_postfix(phase=f"{d.get('phase')} {shown}")

    def close(self, view: ExecutionView | None = None) -> None:
        """Fills the bar to its end when the execution completed, and closes it."""
        bar = self._bar
        if bar is None:
            return
        if view is not None:
            if view.progress.total:
                bar.total = view.progress.total
                bar.n = view.progress.done
            bar.set_postfix(state=view.state, rows=view.rows, refresh=False)
            bar.refresh()
        bar.close()
        self._bar = None
