"""Bodies and queries that the sync and async clients build the same way: execution requests,
upload options, and the media types of uploads."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from quantd.client.models import LookaheadRequest, SubmitRequest, json_fields, to_json

#: The media type of each upload format.
UPLOAD_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
#: Bytes read and sent at a time by uploads and written at a time by downloads.
CHUNK = 1 << 20


def request_body(
    request: SubmitRequest | LookaheadRequest | dict[str, Any] | None,
    fields: dict[str, Any],
    model: type[SubmitRequest] | type[LookaheadRequest] = SubmitRequest,
) -> dict[str, Any]:
    """The JSON body of ``request`` (a model or a dict as the API takes it) with ``fields``
    (keyword arguments named as the model's fields: ``from_``, not ``from``) set over it."""
    if isinstance(request, dict):
        names = {f.name: json for json, f in json_fields(model).items()}
        unknown = set(fields) - set(names)
        if unknown:
            raise TypeError(f"{model.__name__} has no field {sorted(unknown)}")
        return {**request, **{names[k]: to_json(v) for k, v in fields.items()}}
    if request is None:
        request = model(**fields)  # type: ignore[arg-type]
    elif fields:
        request = dataclasses.replace(request, **fields)  # type: ignore[type-var]
    return to_json(request)


def upload_format(path: Path, format: str | None) -> str:
    """``csv`` or ``parquet``: as given, else from the file's suffix."""
    fmt = format or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if fmt not in UPLOAD_TYPES:
        raise ValueError(f"format {fmt!r}: use csv or parquet")
    return fmt


def upload_query(name: str, fmt: str, options: dict[str, Any]) -> dict[str, str]:
    """The query of ``POST /v1/packs``: the name, the format and the import options
    (``ticker``, ``lenient``, ``source``, ``license``, ``attribution``, ``provider``,
    ``export``, ``no_export``, ``tz``, ``epoch``, ``interval``)."""
    query = {"name": name, "format": fmt}
    for k, v in options.items():
        if v is not None:
            query[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return query
