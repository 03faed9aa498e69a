"""The client's version: the server's (Cargo workspace ``version``), as python/pyproject.toml."""

__version__ = "0.1.0"
