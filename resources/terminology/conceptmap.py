"""ConceptMap/$translate over R4 ConceptMaps: `group.element.target` with its `equivalence`, forward
or (with `reverse`) from target back to source; `group.unmapped` for codes with no element."""

from __future__ import annotations

NO_MATCH = ("unmatched", "disjoint")


def translate(
    conceptmap: dict, *, system: str | None, code: str, target_system: str | None = None, reverse: bool = False
) -> list[dict]:
    """The `match` parameters' parts for one source coding, in map order."""
    matches: list[dict] = []
    source_url = conceptmap.get("url")
    for group in conceptmap.get("group") or []:
        source, target = (
            (group.get("target"), group.get("source")) if reverse else (group.get("source"), group.get("target"))
        )
        if system and source and source != system:
            continue
        if target_system and target and target != target_system:
            continue
        found = False
        for element in group.get("element") or []:
            for target_item in element.get("target") or []:
                src_code, dst_code = (
                    (target_item.get("code"), element.get("code"))
                    if reverse
                    else (element.get("code"), target_item.get("code"))
                )
                dst_display = element.get("display") if reverse else target_item.get("display")
                if src_code != code:
                    continue
                found = True
                equivalence = target_item.get("equivalence") or "equivalent"
                match = {"equivalence": _reverse_equivalence(equivalence) if reverse else equivalence}
                if dst_code:
                    coding = {"system": target, "code": dst_code}
                    if dst_display:
                        coding["display"] = dst_display
                    match["concept"] = coding
                if source_url:
                    match["source"] = source_url
                if target_item.get("comment"):
                    match["comment"] = target_item["comment"]
                matches.append(match)
        if not found and not reverse and group.get("unmapped"):
            unmapped = group["unmapped"]
            if unmapped.get("mode") == "fixed" and unmapped.get("code"):
                concept = {"system": target, "code": unmapped["code"]}
                if unmapped.get("display"):
                    concept["display"] = unmapped["display"]
                matches.append(
                    {"equivalence": "inexact", "concept": concept, "source": source_url}
                    if source_url
                    else {"equivalence": "inexact", "concept": concept}
                )
            elif unmapped.get("mode") == "provided":
                matches.append({"equivalence": "equal", "concept": {"system": target, "code": code}})
    return matches


def _reverse_equivalence(equivalence: str) -> str:
    """Read backwards, 'wider' becomes 'narrower' and 'subsumes' becomes 'specializes' (and back)."""
    return {"wider": "narrower", "narrower": "wider", "subsumes": "specializes", "specializes": "subsumes"}.get(
        equivalence, equivalence
    )


def is_match(match: dict) -> bool:
    return match.get("equivalence") not in NO_MATCH
