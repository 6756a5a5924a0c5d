"""`symptom_diagnosis`: reported symptoms that none of the claim's diagnoses explains, or that the age or sex
rules out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, anchor_index, matches, prefix_value


def systems(dx: Sequence[str]) -> set[str]:
    """Body systems the diagnoses involve (`lexicon.DX_SYSTEMS`, longest prefix)."""
    out: set[str] = set()
    for code in dx:
        out.update((prefix_value(lx.DX_SYSTEMS, code, "general") or "").split())
    return out


@lru_cache(maxsize=1)
def _symptom_anchors() -> dict[str, list[tuple[str, int]]]:
    return anchor_index([p.pattern for p, _ in lx.SYMPTOMS])


def symptom_diagnosis(case: Case) -> list[Finding]:
    found, age, sex = [], case.age, case.claim.get("sex")
    covered = systems(case.dx)
    titles = " ".join(case.describe(c) or "" for c in case.dx).lower()  # a word of a claim title fits it
    for sentence in case.note.of("subjective"):
        for match, (_, where) in matches(sentence, lx.SYMPTOMS, _symptom_anchors()):
            start = max(sentence.rfind(c, 0, match.start()) for c in ",;:")
            if lx.NEGATION.search(sentence[start + 1:match.start()]) or match.group(0).lower() in titles:
                continue
            if "infant" in where and age is not None and age >= 2 and not where & covered - {"infant"}:
                found.append(Finding("symptom_diagnosis", sentence, f"infant symptom at age {age}"))
            elif where != lx.GENERAL_OK and not where & covered:
                found.append(Finding("symptom_diagnosis", sentence,
                                     f"symptom '{match.group(0)}' fits none of {list(case.dx)}"))
        if sex == "F" and re.search(r"urine stream|prostat|testic|erectile", sentence, re.I):
            found.append(Finding("symptom_diagnosis", sentence, "male-only symptom for a female patient"))
        if sex == "M" and re.search(r"menstrua|vaginal|pelvic pain|breast lump", sentence, re.I):
            found.append(Finding("symptom_diagnosis", sentence, "female-only symptom for a male patient"))
    return found
