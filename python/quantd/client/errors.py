"""The client's exceptions. Every error the server answers is an :class:`ApiError` carrying its
RFC 9457 problem document (``type``, ``title``, ``status``, ``detail``, the ``errors`` with
line and column for code, ``trace_id``); its subclass says which kind of problem it is.

::

    try:
        client.code.validate(expr="close >")
    except InvalidCode as e:
        print(e.errors[0].line, e.errors[0].column, e.rendered)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantd.client.models import Diagnostic, ExecutionView, Problem

#: Problem types are ``urn:quantd:problem:<slug>`` (docs/api.md lists them).
PROBLEM_PREFIX = "urn:quantd:problem:"


class QuantdError(Exception):
    """Anything the client raises on purpose."""


class ApiError(QuantdError):
    """The server answered with a problem document."""

    def __init__(self, problem: Problem, *, retry_after: float | None = None) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail}")
        #: The whole problem document.
        self.problem = problem
        #: Seconds to wait before trying again (``Retry-After``; 503s).
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.problem.status

    @property
    def type(self) -> str:
        """The problem type (``urn:quantd:problem:not-found``)."""
        return self.problem.type

    @property
    def slug(self) -> str:
        """The problem type without its prefix (``not-found``)."""
        return self.problem.type.removeprefix(PROBLEM_PREFIX)

    @property
    def title(self) -> str:
        """The short summary of the problem type."""
        return self.problem.title

    @property
    def detail(self) -> str:
        """What happened, and how to fix it."""
        return self.problem.detail

    @property
    def errors(self) -> list[Diagnostic]:
        """Code diagnostics with line and column (``invalid-code``), or JSON paths (patterns)."""
        return self.problem.errors

    @property
    def rendered(self) -> str | None:
        """The diagnostics drawn under the source lines (``invalid-code``)."""
        return self.problem.rendered

    @property
    def trace_id(self) -> str | None:
        """The request's trace id: quote it when reporting a problem."""
        return self.problem.trace_id


class BadRequest(ApiError):
    """400: malformed body or query, unknown field, bad cursor or ``Last-Event-ID``."""


class Unauthorized(ApiError):
    """401: no token, a wrong one, or one that was revoked."""


class Forbidden(ApiError):
    """403: not allowed (an upload without an admin token; a ``policy`` refusal of the data's
    rights)."""


class NotFound(ApiError):
    """404: no such id or name in this workspace (or no such route)."""


class Conflict(ApiError):
    """409: not allowed in the current state (pausing a finished execution, ...)."""


class PayloadTooLarge(ApiError):
    """413: the body is over the server's limit."""


class InvalidRequest(ApiError):
    """422: a well-formed request the engine refuses (unknown ticker, a limit, bad data)."""


class InvalidCode(InvalidRequest):
    """422 ``invalid-code``: the code does not check; see :attr:`errors` and :attr:`rendered`."""


class Unavailable(ApiError):
    """503: a warming pack, a full upload budget, a store that cannot be reached, or a server
    shutting down; :attr:`retry_after` says when to try again."""


class ServerError(ApiError):
    """5xx: a bug on the server (its log has the details, found by :attr:`trace_id`)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    503: Unavailable,
}


def error_for(problem: Problem, retry_after: float | None = None) -> ApiError:
    """The exception for ``problem``: by its type first, then by its status."""
    if problem.type == PROBLEM_PREFIX + "invalid-code":
        cls: type[ApiError] = InvalidCode
    else:
        cls = _BY_STATUS.get(problem.status) or (
            ServerError if problem.status >= 500 else ApiError
        )
    return cls(problem, retry_after=retry_after)


class ExecutionFailed(QuantdError):
    """An execution that :meth:`~quantd.client.Execution.wait` followed ended ``failed``."""

    def __init__(self, execution: ExecutionView) -> None:
        super().__init__(
            f"execution {execution.id} failed ({execution.error_class}): {execution.error_message}"
        )
        #: The execution as it ended.
        self.execution = execution


class StreamError(QuantdError):
    """An event stream could not be followed: it kept failing without progress, or its token
    was revoked (``event: revoked``)."""

    def __init__(self, message: str, *, last_event_id: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        #: The sequence number of the last event received (resume from it).
        self.last_event_id = last_event_id
        #: The stream's final message, if it sent one.
        self.data = data
