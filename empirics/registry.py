"""Registry of the public input files (CEADs inventories and the validation data sets).

Files are fetched for users from their public addresses with SHA-256 checksums (pooch), or read
from a local mirror: the folder named by the environment variable ``ROBOCARBON_DATA`` (laid out as
``<mirror>/<name>``, e.g. ``<mirror>/ceads/provinces/Emission_Inventories_for_30_Provinces_2019.xlsx``).
The mirror is always tried first; the network is used only when the file is absent from it and
``allow_download`` is true. None of these files is ever part of the repository.

The checksums are those of the copies the project validated against (the mirror at
``../shared/data``). Where a public address serves different bytes (a re-published workbook, say),
the checksum check fails loudly rather than silently using other data. The addresses were taken
from the data's SOURCE-README files and the repositories they cite; the download path itself was
not exercised here (the tests never use the network).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError
from .provenance import file_sha256

__all__ = ["REGISTRY", "SOURCES", "mirror_dir", "fetch", "fetch_group", "verify_mirror", "url_of"]

_OPENCLIMATE = "https://github.com/Open-Earth-Foundation/OpenClimate/raw/{commit}/harmonize/data/raw/"
_OC_A = "69328b0a18e7521ac80f8e6a7de865c44c6f1fb8"
_OC_B = "0ed33d53f13ad661cc358bbaa4a2abc4ea3e331c"
_OC_COMMIT = {2004: _OC_A, 2005: _OC_A, 2006: _OC_B, 2007: _OC_B, 2008: _OC_A, 2009: _OC_A,
              2010: _OC_B, 2011: _OC_A, 2012: _OC_B, 2013: _OC_B, 2014: _OC_B, 2015: _OC_A,
              2016: _OC_A, 2017: _OC_A, 2018: _OC_B, 2019: _OC_A}

#: name (path inside the mirror) -> SHA-256
REGISTRY: dict[str, str] = {
    "adh/ADH_shares.csv.gz": "a5847b7dfd2164b36689b1f5b2697cb7d89df1f740279cd64caed32f239def7a",
    "adh/ADHdata_AKM.csv": "8210bf7ca35b92ac2e3f8d2d4045bf903dfb5762266d5071280902ae9c7c7bef",
    "bacon/math_reform.csv": "a03bfff5d1d2975207fe2e2d0ed999283c9d3f2391db26f30a39f332051da06b",
    "ceads/cities/The_Emission_Inventories_for_290_Chinese_Cities_from_1997_to_2019.xlsx": "5794f4b3e7f4a9be6badd8e91b498ea2ab90069126e31e2491648f74867f89d0",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2004.xlsx": "2b2e55326473f03ec406232abb3be849aa703d464ef04f71db710403e22d1d03",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2005.xlsx": "441f083ce0396bb9c0ca868e7d8baacca42bddc0d99e38561b85fd68a9f6cd69",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2006.xlsx": "76c3d43b5202e12b26be0b4f94a5190421e3e83c1b2e899f7d627b10ba1ec199",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2007.xlsx": "c728f41ed984273a43e62b8fe6ed7feff7eb3507cbe948e185849580b0c57f8a",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2008.xlsx": "0dfe061b14facfbcfcff60d0a5467d25d4a7b40766fe1bc39552e913bb2abf90",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2009.xlsx": "84d9d1fa227644b251ced362cc7986ddfce3bad6ebfd0f6ca83e4f9a2d24d8c2",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2010.xlsx": "ff548443377d491eb090b67c4891b2a6680c53b011721d3ab4cafeeb54cd3934",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2011.xlsx": "f643f994051397c4dc35c50eea96c1df915127a6667706f36b07de0c66cf04bf",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2012.xlsx": "3b34f85eb82fb7169ac48dc86ceeae9aba91d1e210532febdbc518fffd0eb338",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2013.xlsx": "722ef5fbfdbd41af7837b19994d55a110be731bfce3703da60f333fb11c05c5d",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2014.xlsx": "fa91bcbff5c06db5eb75341a46e4361d2fe57a5015761937424e39d41b7d9230",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2015.xlsx": "0bcf34929d09d1cb4211302169f6bffc487214ed67196220b13f520970511f3f",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2016.xlsx": "dc8209ac08708cd77133b23a5eb782b9d1d8238c22beeab6ae300778bf66db03",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2017.xlsx": "c69579634a2663fccc6a9258cd576f9f5c6729d6cad9f2a348848efdd3b5faf5",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2018.xlsx": "ba2c0a6c642cb7355dd046091f90c96c56c488bfad06775ae520c2e935c38eee",
    "ceads/provinces/Emission_Inventories_for_30_Provinces_2019.xlsx": "22843c4e376b990245f551227d829f0e819fbfa7736c2d4cbc19394f15cb89bc",
    "hansen1999/hansen1999.dta": "5cdb70bed516dd51e16ab101f252e14539473a3b19737d3e2bc50ccd9b5621c3",
    "mpdta/mpdta.csv": "e2df82571350b82b4b51bba10445d44f9a792a536af8263178b1545197e83bee",
}


def url_of(name: str) -> str | None:
    """The public address of a registry file, or None when it has no direct public copy."""
    if name.startswith("ceads/provinces/Emission_Inventories_for_30_Provinces_"):
        year = int(name[-9:-5])
        return (_OPENCLIMATE.format(commit=_OC_COMMIT[year])
                + "CEADS_china_provinces/" + name.rsplit("/", 1)[1])
    if name.startswith("ceads/cities/"):
        return _OPENCLIMATE.format(commit=_OC_B) + "CEADS_china_cities/" + name.rsplit("/", 1)[1]
    return {
        "adh/ADHdata_AKM.csv": "https://github.com/paulgp/bartik-weight/raw/"
                               "2089bbb74b7e4982816d3248418dafe63f7b7c47/data/ADHdata_AKM.csv",
        "mpdta/mpdta.csv": "https://github.com/d2cml-ai/csdid/raw/"
                           "f78f4d79cb682b18d2b0ef65e394c3a13e773ccb/data/mpdta.csv",
    }.get(name)


#: folder -> source, licence and citation
SOURCES = {
    "ceads/provinces": "CEADs provincial CO2 inventories (IPCC sectoral approach), ceads.net; free "
                       "with citation (Shan et al. 2016 Applied Energy 184; 2018 Sci Data 5:170201; "
                       "2020 Sci Data 7:54; Guan et al. 2021 Earth's Future 9). Public copy: the "
                       "OpenClimate repository (Open-Earth-Foundation/OpenClimate, harmonize/data/raw).",
    "ceads/cities": "CEADs emission inventories for 290 Chinese cities 1997-2019 (Shan et al. 2022 "
                    "Sci Bull 67(18); 2019 Sci Data 6; 2018 Sci Adv 4; 2017 J Clean Prod 161); public "
                    "copy in the OpenClimate repository.",
    "adh": "Autor, Dorn and Hanson (2013) as prepared by Adao, Kolesar and Morales (2019): "
           "ADHdata_AKM.csv from paulgp/bartik-weight (MIT); ADH_shares.csv.gz is the share matrix "
           "ADH$W of the ShiftShareSE R package (GPL-3) in long form (no direct public copy: "
           "export it from ShiftShareSE's data).",
    "mpdta": "Callaway and Sant'Anna (2021), R package did (GPL-3), data mpdta.",
    "bacon": "Goodman-Bacon (2021) example data math_reform, R package bacondecomp (MIT).",
    "hansen1999": "Hansen (1999) threshold data (Hall and Hall 1993), as shipped with Stata's "
                  "xthreg (Wang 2015, Stata Journal 15(1)).",
}


def mirror_dir() -> Path | None:
    """The local mirror named by ROBOCARBON_DATA, or None."""
    env = os.environ.get("ROBOCARBON_DATA")
    return Path(env) if env else None


def _check(path: Path, name: str) -> Path:
    got = file_sha256(path)
    if got != REGISTRY[name]:
        raise InputError(f"checksum mismatch for {name}: expected sha256 {REGISTRY[name]}, "
                         f"got {got}", file=str(path))
    return path


def fetch(name: str, *, mirror=None, allow_download: bool = True, verify: bool = True,
          cache=None) -> Path:
    """Path to a registry file: from the mirror if present there, else downloaded and cached.

    Parameters
    ----------
    name
        Registry name, e.g. ``"adh/ADHdata_AKM.csv"``.
    mirror
        Local mirror folder; default ``ROBOCARBON_DATA``.
    allow_download
        If false, a file absent from the mirror raises instead of being downloaded.
    verify
        Check the SHA-256 of a mirror file (downloads are always checked by pooch).
    cache
        Download cache (default pooch's OS cache for "robocarbon").

    Raises
    ------
    InputError
        Unknown name, checksum mismatch, or a file that is neither in the mirror nor downloadable.
    """
    if name not in REGISTRY:
        raise InputError(f"unknown data file {name!r}; known: {sorted(REGISTRY)[:5]} ...")
    m = Path(mirror) if mirror is not None else mirror_dir()
    if m is not None and (m / name).is_file():
        return _check(m / name, name) if verify else m / name
    url = url_of(name)
    where = f" (mirror {m})" if m is not None else " (ROBOCARBON_DATA is not set)"
    if not allow_download:
        raise InputError(f"{name} is not in the local mirror{where} and downloading is off")
    if url is None:
        raise InputError(f"{name} has no public download address; place it in the mirror{where}. "
                         f"Source: {SOURCES.get(name.rsplit('/', 1)[0], '')}")
    import pooch

    try:
        return Path(pooch.retrieve(url, known_hash=f"sha256:{REGISTRY[name]}",
                                   fname=name.replace("/", "__"),
                                   path=cache or pooch.os_cache("robocarbon")))
    except ValueError as exc:  # pooch's hash mismatch
        raise InputError(f"downloaded {name} from {url} but its checksum differs: {exc}") from exc
    except Exception as exc:  # network errors
        raise InputError(f"cannot download {name} from {url}: {exc}") from exc


def fetch_group(prefix: str, **kwargs) -> Path:
    """Fetch every registry file under ``prefix`` (e.g. ``"ceads/provinces"``) and return their
    common folder (the mirror folder, or the download cache)."""
    names = [n for n in REGISTRY if n.startswith(prefix.rstrip("/") + "/")]
    if not names:
        raise InputError(f"no registry files under {prefix!r}")
    paths = [fetch(n, **kwargs) for n in names]
    parents = {p.parent for p in paths}
    if len(parents) == 1:
        return parents.pop()
    # downloads are cached flat: link them into one folder named after the prefix
    folder = paths[0].parent / prefix.replace("/", "__")
    folder.mkdir(exist_ok=True)
    for n, p in zip(names, paths):
        target = folder / n.rsplit("/", 1)[1]
        if not target.exists():
            try:
                target.symlink_to(p)
            except OSError:
                target.write_bytes(p.read_bytes())
    return folder


def verify_mirror(mirror=None) -> dict[str, str]:
    """Status of every registry file in the mirror: "ok", "missing" or "checksum mismatch"."""
    m = Path(mirror) if mirror is not None else mirror_dir()
    if m is None:
        raise InputError("no mirror: set ROBOCARBON_DATA or pass mirror=")
    out = {}
    for name, sha in REGISTRY.items():
        p = m / name
        out[name] = "missing" if not p.is_file() else ("ok" if file_sha256(p) == sha else "checksum mismatch")
    return out
