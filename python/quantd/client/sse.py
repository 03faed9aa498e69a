"""Server-sent events: parsing the ``text/event-stream`` of ``GET /v1/executions/{id}/events``
and the state of a follower that reconnects without losing or repeating an event.

The server numbers an execution's events from 1 and gives each message ``id: <seq>``; a
client that reconnects with ``Last-Event-ID: N`` gets every stored event after N, then the
live ones, each once and in order. The stream ends with ``event: done`` (the final state),
``event: shutdown`` (the server stops: reconnect later) or ``event: revoked`` (the token was
revoked). :class:`Follower` keeps the last sequence number seen and drops anything at or
below it, so even a server that sent an event twice could not make the client repeat it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from quantd.client.errors import StreamError
from quantd.client.models import Event

#: Backoff between reconnects that made no progress: first, then doubled up to the last.
RECONNECT_DELAYS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
#: Reconnects in a row without a new event before the follower gives up.
MAX_FRUITLESS_RECONNECTS = 12


@dataclass
class Message:
    """One dispatched SSE message."""

    event: str = "message"
    data: str = ""
    id: str | None = None


@dataclass
class Parser:
    """Turns lines of an event stream into messages (the WHATWG rules quantd needs: ``id``,
    ``event``, multi-line ``data``, comments, a blank line dispatches)."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> Message | None:
        """Takes one line (without its end); returns a message when the line completes one."""
        if line == "":
            if not self._data and not self._event:
                self._id = None
                return None
            msg = Message(event=self._event or "message", data="\n".join(self._data), id=self._id)
            self._event, self._data, self._id = "", [], None
            return msg
        if line.startswith(":"):
            return None  # a keep-alive comment
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def feed_all(self, lines: Iterable[str]) -> list[Message]:
        """Every message the lines complete."""
        return [m for m in (self.feed(line) for line in lines) if m is not None]


@dataclass
class Outcome:
    """What a message means to the follower."""

    #: A new event to hand out.
    event: Event | None = None
    #: The stream is over: the final state (``done``).
    final_state: str | None = None
    #: The server is shutting down: reconnect after a pause.
    shutdown: bool = False


@dataclass
class Follower:
    """Follows one execution's events across connections: the ``Last-Event-ID`` to send, which
    events are new, when to stop, and when to give up."""

    execution: str
    #: The sequence number of the last event handed out (0: none yet).
    last: int = 0
    #: Reconnects in a row that brought no new event.
    fruitless: int = 0

    def headers(self) -> dict[str, str]:
        """The headers of the next connection."""
        return {"Accept": "text/event-stream", "Last-Event-ID": str(self.last)}

    def take(self, msg: Message) -> Outcome:
        """What ``msg`` means; advances :attr:`last` past a new event."""
        if msg.event == "done":
            return Outcome(final_state=_json(msg.data).get("state", "completed"))
        if msg.event == "shutdown":
            return Outcome(shutdown=True)
        if msg.event == "revoked":
            raise StreamError(
                f"the event stream of {self.execution} closed: its token was revoked",
                last_event_id=self.last,
                data=_json(msg.data),
            )
        if msg.event != "message" or not msg.data:
            return Outcome()
        event = Event.from_json(_json(msg.data))
        if event.seq <= self.last:
            return Outcome()  # already handed out
        self.last = event.seq
        self.fruitless = 0
        return Outcome(event=event)

    def next_delay(self, error: BaseException | None) -> float:
        """The pause before reconnecting after a connection ended early; raises
        :class:`~quantd.client.StreamError` after too many reconnects without progress."""
        self.fruitless += 1
        if self.fruitless > MAX_FRUITLESS_RECONNECTS:
            raise StreamError(
                f"the event stream of {self.execution} failed {self.fruitless - 1} times in a row "
                f"after event {self.last}: {error}",
                last_event_id=self.last,
            ) from error
        return RECONNECT_DELAYS[min(self.fruitless - 1, len(RECONNECT_DELAYS) - 1)]


def _json(text: str) -> dict[str, Any]:
    """The JSON object of a message's data (``{}`` when it is not one)."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
