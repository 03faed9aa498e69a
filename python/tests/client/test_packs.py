"""Packs: list, show, health, upload (CSV and Parquet, with progress), refused files, rights."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from quantd.client import Client, Forbidden, InvalidRequest, NotFound
from quantd.client.models import PackView, UploadAccepted

from conftest import Server


def bars(tickers: int = 2, days: int = 30) -> pd.DataFrame:
    """A small long-format universe: ticker, date, open, high, low, close, volume."""
    dates = pd.bdate_range("2024-01-02", periods=days)
    rows = []
    for t in range(tickers):
        for i, d in enumerate(dates):
            c = 100 + t + i * 0.5
            rows.append((f"UP{t}", d.date().isoformat(), c - 0.2, c + 1, c - 1, c, 1000 + i))
    return pd.DataFrame(rows, columns=["ticker", "date", "open", "high", "low", "close", "volume"])


def test_list_and_show(client: Client) -> None:
    names = {p.name for p in client.packs.iter()}
    assert {"demo", "wide"} <= names
    page = client.packs.list(limit=1)
    assert len(page.items) == 1 and page.next is not None
    demo = client.packs.show("demo")
    assert isinstance(demo, PackView)
    assert demo.tickers == 20 and demo.state == "fresh" and demo.interval == "1d"
    assert demo.rights.export == "allow"
    assert client.packs.show(demo.id[:12]).id == demo.id
    assert client.packs.health("demo").state == "fresh"


def test_unknown_pack(client: Client) -> None:
    with pytest.raises(NotFound):
        client.packs.show("no-such-pack")


def test_upload_csv_with_progress(client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bars.csv"
    bars().to_csv(path, index=False)
    name = f"up-{uuid.uuid4().hex[:6]}"
    pack = client.packs.upload(path, name, source="tests", progress=True)
    assert isinstance(pack, PackView)
    assert pack.name == name and pack.tickers == 2 and pack.bars == 60 and pack.state == "fresh"
    err = capsys.readouterr().err
    assert f"upload {name}" in err and "100%" in err


def test_upload_parquet(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    bars(3, 20).to_parquet(path, index=False)
    name = f"pq-{uuid.uuid4().hex[:6]}"
    pack = client.packs.upload(path, name, progress=False, wait=False)
    if isinstance(pack, UploadAccepted):  # the import outlasted the server's short wait
        client.execution(pack.execution).wait(progress=False)
        pack = client.packs.show(name)
    assert pack.tickers == 3 and pack.bars == 60


def test_a_refused_file_names_the_row(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    lines = bars(1, 5).to_csv(index=False).splitlines()
    cells = lines[4].split(",")
    cells[5] = "oops"  # the close of the file's fifth line
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidRequest) as info:
        client.packs.upload(path, "bad", progress=False)
    assert info.value.status == 422 and info.value.slug == "invalid-data"
    assert "oops" in info.value.detail or "5" in info.value.detail, info.value.detail


def test_upload_needs_an_admin_token(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    bars().to_csv(path, index=False)
    with server.client(server.token) as plain, pytest.raises(Forbidden) as info:
        plain.packs.upload(path, "nope", progress=False)
    assert info.value.status == 403 and "admin" in info.value.detail


def test_rights_providers_and_pack_provider(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    bars().to_csv(path, index=False)
    name = f"licensed-{uuid.uuid4().hex[:6]}"
    client.packs.upload(path, name, progress=False)
    provider = f"vendor-{uuid.uuid4().hex[:6]}"
    added = client.rights.add(provider, export="watermark", license="tests", attribution="Vendor Inc.")
    assert added["name"] == provider if "name" in added else provider in str(added)
    assert provider in str(client.rights.list())
    client.packs.set_provider(name, provider)
    shown = client.packs.show(name)
    assert shown.rights.provider == provider and shown.rights.export == "watermark"
    client.packs.set_provider(name, None)
    assert client.packs.show(name).rights.provider is None
    client.rights.remove(provider)
    assert provider not in str(client.rights.list())
    log = client.rights.log(exports=False, limit=5)
    assert "items" in log
