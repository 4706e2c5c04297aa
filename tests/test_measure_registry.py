"""Data registry: the mirror is used (never the network), checksums are enforced."""

from __future__ import annotations

import pytest

from robocarbon.empirics import registry
from robocarbon.empirics.errors import InputError


def test_every_registry_file_in_the_mirror_matches(shared_data):
    status = registry.verify_mirror(shared_data)
    present = {k: v for k, v in status.items() if v != "missing"}
    if not present:
        pytest.skip("no registry file in the mirror")
    assert set(present.values()) == {"ok"}, present


def test_fetch_from_mirror_without_network(shared_data, monkeypatch):
    monkeypatch.setenv("ROBOCARBON_DATA", str(shared_data))
    name = "adh/ADHdata_AKM.csv"
    if not (shared_data / name).exists():
        pytest.skip("ADH data absent from the mirror")
    assert registry.fetch(name, allow_download=False) == shared_data / name
    folder = registry.fetch_group("ceads/provinces", allow_download=False)
    assert folder == shared_data / "ceads" / "provinces"


def test_checksum_mismatch_and_missing(tmp_path):
    name = "mpdta/mpdta.csv"
    (tmp_path / "mpdta").mkdir()
    (tmp_path / name).write_text("not the data\n")
    with pytest.raises(InputError, match="checksum mismatch"):
        registry.fetch(name, mirror=tmp_path, allow_download=False)
    assert registry.verify_mirror(tmp_path)[name] == "checksum mismatch"
    with pytest.raises(InputError, match="downloading is off"):
        registry.fetch("adh/ADHdata_AKM.csv", mirror=tmp_path, allow_download=False)
    with pytest.raises(InputError, match="no public download address"):
        registry.fetch("adh/ADH_shares.csv.gz", mirror=tmp_path, allow_download=True)
    with pytest.raises(InputError, match="unknown data file"):
        registry.fetch("nope.csv")


def test_every_ceads_year_has_an_address():
    for y in range(2004, 2020):
        url = registry.url_of(f"ceads/provinces/Emission_Inventories_for_30_Provinces_{y}.xlsx")
        assert url.startswith("https://github.com/Open-Earth-Foundation/OpenClimate/raw/")
        assert url.endswith(f"_{y}.xlsx")
