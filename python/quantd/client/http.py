"""What every request shares: the headers, and turning an error response into the exception
that carries its problem document."""

from __future__ import annotations

import json
from typing import Any

import httpx

from quantd.client.config import Settings
from quantd.client.errors import ApiError, error_for
from quantd.client.models import Problem, decode
from quantd.client.version import __version__

#: Seconds to wait for a connection and for each read of an ordinary request.
DEFAULT_TIMEOUT = 30.0


def headers(settings: Settings) -> dict[str, str]:
    """The bearer token (when there is one) and who is asking."""
    out = {"User-Agent": f"quantd-python/{__version__}"}
    if settings.token:
        out["Authorization"] = f"Bearer {settings.token}"
    return out


def problem_of(resp: httpx.Response) -> Problem:
    """The problem document of an error response whose body has been read; a body that is not
    one (a proxy's error page) becomes a problem with the text as its detail."""
    try:
        data: Any = resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict) and {"type", "status"} <= data.keys():
        data.setdefault("title", resp.reason_phrase)
        data.setdefault("detail", "")
        return decode(Problem, data)
    return Problem(
        type="about:blank",
        title=resp.reason_phrase or "error",
        status=resp.status_code,
        detail=resp.text[:2000],
    )


def retry_after(resp: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds, when it is a number."""
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def error_of(resp: httpx.Response) -> ApiError:
    """The exception of an error response whose body has been read."""
    return error_for(problem_of(resp), retry_after(resp))


def check(resp: httpx.Response) -> httpx.Response:
    """``resp`` when it succeeded; raises its :class:`~quantd.client.ApiError` otherwise (the
    body must have been read)."""
    if resp.is_success:
        return resp
    raise error_of(resp)
