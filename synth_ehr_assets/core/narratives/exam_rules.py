"""Which normal exam statements a note may not write: one that an abnormal finding or symptom of the same system
contradicts (`EXAM_CONFLICTS`), and one that a diagnosis on the claim contradicts wherever it is listed
(`CODE_CONFLICTS`), and the normal-exam groups a finding already speaks for (`overlaps`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

REGULAR_RHYTHM = r"(?<!ir)regular (?:rate|rhythm)|heart regular|sinus rhythm"
NO_EDEMA = r"\bno (?:peripheral )?edema"
NO_MURMUR = r"\bno murmurs?\b|without (?:a )?murmurs?"

# A normal exam statement (second pattern) that an abnormal one of the same system (first) contradicts, said by
# an exam finding or, where the third item is True, by a symptom too: a note with "irregularly irregular rhythm"
# (atrial fibrillation) does not also say "regular rate and rhythm" (hypertension's finding or the filler).
EXAM_CONFLICTS = (
    (r"swelling|edema", NO_EDEMA, True),
    (r"crackles|wheezes|rhonchi", r"lungs clear|clear breath sounds", False),
    (r"irregular|arrhythmi|fibrillation|flutter|ectopy|skipped beats", REGULAR_RHYTHM, True),
)

# ICD-10-CM prefixes whose diagnosis contradicts a normal statement on its own, as a secondary code too: atrial
# fibrillation or flutter (I48) is not "regular rate and rhythm", a coded tachycardia or bradycardia (R00.0,
# R00.1) not a "regular rate", a murmur (R01) or a stenotic or regurgitant valve (I05-I08, I34.0, I34.2, I35) not
# "no murmurs", edema (R60) not "no peripheral edema".
CODE_CONFLICTS = (
    (("I48",), REGULAR_RHYTHM),
    (("R000", "R001"), r"(?<!ir)regular rate"),
    (("R01", "I05", "I06", "I07", "I08", "I340", "I342", "I35"), NO_MURMUR),
    (("R60",), NO_EDEMA),
)


def refuted(findings: Sequence[str], symptoms: Sequence[str], codes: Sequence[str] = ()) -> Callable[[str], bool]:
    """Whether a normal statement is contradicted by an abnormal finding or symptom (`EXAM_CONFLICTS`) or by one
    of the claim's diagnosis `codes` (`CODE_CONFLICTS`)."""
    by_code = [normal for prefixes, normal in CODE_CONFLICTS if any(c.startswith(prefixes) for c in codes)]

    def abnormal(text: str, sign: str, normal: str) -> bool:
        text = text.lower()
        return bool(re.search(sign, text)) and not re.search(normal, text) and not re.match(r"no\b", text)

    def contradicted(statement: str) -> bool:
        said = statement.lower()
        return any(re.search(normal, said) for normal in by_code) or any(re.search(normal, said) and any(
            abnormal(t, sign, normal) for t in [*findings, *(symptoms if by_symptom else ())])
            for sign, normal, by_symptom in EXAM_CONFLICTS)
    return contradicted


def overlaps(group: Sequence[str], told: str) -> bool:
    """Whether a finding or symptom already `told` speaks for the system of a normal-exam group."""
    if re.search(r"crackle|wheez|rhonch|breath sounds|consolidation", told) and any("lung" in g for g in group):
        return True
    keys = ("lung", "breath", "heart", "rhythm", "murmur", "abdom", "skin", "rash", "crackle", "wheez", "tender",
            "patch", "plaque", "erythem", "red", "lesion", "laceration", "jaundice", "yellow", "itch")
    return any(k in told and any(k in g for g in group) for k in keys)
