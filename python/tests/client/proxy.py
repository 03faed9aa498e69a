"""A TCP proxy for the reconnect tests: forwards connections to the server and cuts the first
few of them in the middle of an event stream, after a given number of events."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Connection:
    """What the proxy saw of one connection."""

    #: The request's ``Last-Event-ID`` header (``None`` when absent).
    last_event_id: int | None = None
    #: Whether the proxy cut it.
    cut: bool = False
    #: When it was cut (``time.time()``).
    cut_at: float | None = None


@dataclass
class CuttingProxy:
    """Listens on a loopback port; connection k (from 0) of the first ``cuts`` is cut in the
    middle of the data line of event ``cut_after + 1`` it carries (after ``cut_after`` whole
    events): the client holds a partial message when the socket closes."""

    upstream: tuple[str, int]
    cut_after: int
    cuts: int
    connections: list[Connection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            with self._lock:
                conn = Connection()
                index = len(self.connections)
                self.connections.append(conn)
            threading.Thread(target=self._requests, args=(down, up, conn), daemon=True).start()
            cut = index < self.cuts
            threading.Thread(target=self._responses, args=(up, down, conn, cut), daemon=True).start()

    def _requests(self, down: socket.socket, up: socket.socket, conn: Connection) -> None:
        head = b""
        while True:
            try:
                chunk = down.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                _close(up)
                return
            if conn.last_event_id is None and b"\r\n\r\n" not in head:
                head += chunk
                m = re.search(rb"(?im)^last-event-id:\s*(\d+)", head)
                if m:
                    conn.last_event_id = int(m.group(1))
            try:
                up.sendall(chunk)
            except OSError:
                _close(down)
                return

    def _responses(self, up: socket.socket, down: socket.socket, conn: Connection, cut: bool) -> None:
        seen = b""
        sent = 0
        while True:
            try:
                chunk = up.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                _close(down)
                return
            seen += chunk
            end = len(seen)
            if cut:
                # The data line of event cut_after + 1: send a few bytes of it, then hang up.
                starts = [m.start() for m in re.finditer(rb"data: \{", seen)]
                if len(starts) > self.cut_after:
                    end = starts[self.cut_after] + 12
            try:
                down.sendall(seen[sent:end])
            except OSError:
                _close(up)
                return
            sent = end
            if end < len(seen):
                conn.cut = True
                conn.cut_at = time.time()
                _close(down)
                _close(up)
                return


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
