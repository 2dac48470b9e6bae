"""The R4 definitions this server reads, extracted from the FHIR package (scripts/extract_definitions.py)
into compact JSON beside this file. Everything reads them through `load`, parsed once per process.

    search_parameters.json, compartments.json, choice_elements.json, summary_elements.json,
    required_bindings.json, xml_elements.json
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def load(name: str):
    """The parsed content of `name` (callers must not change it: it is shared)."""
    return json.loads((HERE / name).read_text())
