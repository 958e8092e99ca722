"""ICD-10-CM tabular XML -> a flat list of chapters, blocks, categories and codes.

Ids are ``ICD10CM:`` + the name the XML gives: chapters ``ICD10CM:4``, blocks (``<section
id>``) ``ICD10CM:E08-E13``, codes with their dot ``ICD10CM:E11.9``. A block that holds a
single category has the same XML id as that category (``C50``); it becomes ``C50-C50`` so
both stay addressable. Seventh-character codes (``S72.001A``) are generated from
``<sevenChrDef>`` for leaf codes, as simple-icd-10-cm does, keeping only codes present in
the packaged confirmed code list (when it exists).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

PREFIX = "ICD10CM:"
_RANGE_SUFFIX = re.compile(r"\s*\(([A-Z0-9]{3}(?:-[A-Z0-9]{3})?)\)\s*$")


@dataclass(frozen=True)
class IcdEntry:
    """One node of the ICD-10-CM hierarchy; ``parent`` is ``None`` for chapters."""

    id: str
    name: str
    kind: str  # "chapter" | "block" | "category" | "code"
    parent: str | None
    extension: bool = False  # made by a 7th-character extension


def _text(elem: ET.Element, tag: str) -> str:
    child = elem.find(tag)
    return " ".join((child.text or "").split()) if child is not None else ""


def _strip_range(desc: str) -> str:
    return _RANGE_SUFFIX.sub("", desc) or desc


def _seven_chr_def(elem: ET.Element) -> dict[str, str] | None:
    node = elem.find("sevenChrDef")
    if node is None:
        return None
    out: dict[str, str] = {}
    last: str | None = None
    for child in node:
        if child.tag == "extension":
            last = child.attrib.get("char", "")
            out[last] = " ".join((child.text or "").split())
        elif child.tag == "note" and last is not None and child.text:
            out[last] = f"{out[last]}/{child.text.strip()}"
    return out


def _confirmed_codes(path: Path | None) -> set[str] | None:
    if path is None or not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        return {line.split(" ", 1)[0].strip().replace(".", "") for line in fh if line.strip()}


def parse_icd10cm(xml_path: Path, code_list: Path | None = None) -> list[IcdEntry]:
    """Parse the tabular XML; entries come parents-first."""
    root = ET.parse(xml_path).getroot()
    confirmed = _confirmed_codes(code_list)
    out: list[IcdEntry] = []

    def add_diag(elem: ET.Element, parent: str, seven: dict[str, str] | None) -> None:
        code = _text(elem, "name")
        if not code:
            return
        desc = _text(elem, "desc")
        kind = "category" if len(code) == 3 else "code"
        out.append(IcdEntry(PREFIX + code, desc, kind, parent))
        own = _seven_chr_def(elem)
        scope = own if own is not None else seven
        children = elem.findall("diag")
        for child in children:
            add_diag(child, PREFIX + code, scope)
        if not children and scope:
            base = code + "." if len(code) == 3 else code
            base = base.ljust(7, "X")
            for char, meaning in scope.items():
                ext = base + char
                if confirmed is None or ext.replace(".", "") in confirmed:
                    out.append(
                        IcdEntry(PREFIX + ext, f"{desc}, {meaning}", "code", PREFIX + code, True)
                    )

    for chapter in root.findall("chapter"):
        number = _text(chapter, "name")
        chapter_id = PREFIX + number
        out.append(IcdEntry(chapter_id, _strip_range(_text(chapter, "desc")), "chapter", None))
        for section in chapter.findall("section"):
            sid = section.attrib.get("id", "").strip()
            if not sid:
                continue
            if "-" not in sid:
                sid = f"{sid}-{sid}"
            block_id = PREFIX + sid
            out.append(
                IcdEntry(block_id, _strip_range(_text(section, "desc")), "block", chapter_id)
            )
            for diag in section.findall("diag"):
                add_diag(diag, block_id, None)
    return out


def xml_version(xml_path: Path) -> str | None:
    """The ``<version>`` element of the tabular XML (a year, e.g. ``2026``)."""
    for _, elem in ET.iterparse(xml_path, events=("end",)):
        if elem.tag == "version":
            return (elem.text or "").strip() or None
        if elem.tag in ("introduction", "chapter"):
            return None
    return None
