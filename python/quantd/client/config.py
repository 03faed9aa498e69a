"""Where the client finds its server and token: arguments first, then the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

#: The server's base URL, e.g. ``http://127.0.0.1:8000`` (the same variable the CLI's docs use).
URL_ENV = "QUANTD_URL"
#: A workspace token (``qdt_<id>_<secret>``, from ``quantd tokens create``).
TOKEN_ENV = "QUANTD_TOKEN"
#: Where ``quantd serve`` listens when nothing says otherwise.
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Settings:
    """The resolved connection settings of a client."""

    url: str
    #: ``None`` talks to a ``quantd serve --no-auth`` server (the ``default`` workspace).
    token: str | None


def resolve(url: str | None = None, token: str | None = None) -> Settings:
    """``url`` and ``token`` when given, else ``$QUANTD_URL`` and ``$QUANTD_TOKEN``, else the
    local default server without a token."""
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    return Settings(url=url.rstrip("/"), token=token)
