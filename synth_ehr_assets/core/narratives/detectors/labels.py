"""`dx_label`: a diagnosis named as a different condition than the claim codes, e.g. pre-existing type 2
diabetes in childbirth (O24.12) written as gestational diabetes, or type 1 for a type 2 code."""

from __future__ import annotations

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import CODE_IN_TEXT, Case, Finding, prefix_value

CONTRADICTS = {"1": {"2", "gestational"}, "2": {"1", "gestational"}, "gestational": {"1", "2", "pre"}}


def _contradicts(named: str, types: set[str]) -> bool:
    if named in types:
        return False
    if named == "pre":  # "pre-existing" fits every diabetes code but gestational
        return types == {"gestational"}
    return bool(types & CONTRADICTS[named])


def dx_label(case: Case) -> list[Finding]:
    types = {t for t in (prefix_value(lx.DIABETES_TYPES, c) for c in case.dx) if t}
    if not types:
        return []
    found = []
    for sentence in case.note.of():
        plain = CODE_IN_TEXT.sub("", sentence)
        for named, pattern in lx.DIABETES_WORDS.items():
            if not _contradicts(named, types):
                continue
            for match in pattern.finditer(plain):
                before = plain[:match.start()]
                if lx.HISTORY_OF.search(before) or lx.NEGATION.search(before[-12:]):
                    continue
                found.append(Finding("dx_label", sentence, f"'{match.group(0)}' named, the claim codes "
                                                           f"{'/'.join(sorted(types))} diabetes"))
                break
    return found[:2]
