"""The terminology tables as typed, immutable data, loaded once from the CSV files beside this module."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
LOINC_SYSTEM = "http://loinc.org"


@dataclass(frozen=True)
class LabTest:
    loinc: str
    display: str  # LOINC long common name
    component: str
    property: str  # MCnc, SCnc, NCnc, ACnc, CCnc, MFr, PrThr, ...
    system: str  # Ser/Plas, Bld, Urine, ...
    scale: str  # Qn, Ord, Nom
    units: tuple[str, ...]  # UCUM codes, preferred first
    names: tuple[str, ...]  # printed names and synonyms
    source: str
    rank: int  # row order: earlier rows win ties

    @property
    def qualitative(self) -> bool:
        return self.scale in ("Ord", "Nom")


@dataclass(frozen=True)
class Panel:
    loinc: str
    display: str
    headings: tuple[str, ...]
    core: tuple[frozenset[str], ...]  # each group is satisfied by any one of its variants
    optional: frozenset[str]
    source: str

    @property
    def members(self) -> frozenset[str]:
        return frozenset().union(*self.core) | self.optional


@dataclass(frozen=True)
class Answer:
    system: str
    code: str
    display: str


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split("|") if part.strip())


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def lab_tests() -> tuple[LabTest, ...]:
    return tuple(
        LabTest(
            loinc=r["loinc"], display=r["long_common_name"], component=r["component"], property=r["property"],
            system=r["system"], scale=r["scale"], units=_split(r["units"]), names=_split(r["names"]),
            source=r["source"], rank=i,
        )
        for i, r in enumerate(_rows("lab_tests.csv"))
    )


@cache
def tests_by_loinc() -> dict[str, LabTest]:
    return {t.loinc: t for t in lab_tests()}


@cache
def panels() -> tuple[Panel, ...]:
    return tuple(
        Panel(
            loinc=r["loinc"], display=r["long_common_name"], headings=_split(r["headings"]),
            core=tuple(frozenset(group.split("/")) for group in _split(r["core"])),
            optional=frozenset(_split(r["optional"])), source=r["source"],
        )
        for r in _rows("panels.csv")
    )


@cache
def answers() -> dict[str, Answer]:
    return {r["printed"]: Answer(r["system"], r["code"], r["display"]) for r in _rows("answers.csv")}
