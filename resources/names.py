"""How a person's name is shown to people (patient pickers, review lists)."""
from __future__ import annotations


def display_name(resource: dict) -> str:
    """`HumanName.text` of the first name that has one, else given names + family; "" if none."""
    for name in resource.get("name") or []:
        if name.get("text"):
            return name["text"]
        parts = [*(name.get("given") or []), name.get("family") or ""]
        if any(parts):
            return " ".join(p for p in parts if p)
    return ""
