"""Age fit of a child's exam and vaccines: `exam_age` (an infant or toddler described as conversing) and
`vaccine_age` (a vaccine documented as given outside the ages it is given at, e.g. MMR before 12 months)."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, asserted


def exam_age(case: Case) -> list[Finding]:
    if case.age is None or case.age >= 2:
        return []
    return [Finding("exam_age", s, f"verbal exam finding for a {case.age}-year-old")
            for s in case.note.of("objective") if asserted(lx.VERBAL, s)][:1]


ANY_VACCINE = re.compile("|".join(p.pattern for p, _, _, _ in lx.VACCINE_AGES), re.I)


def vaccine_age(case: Case) -> list[Finding]:
    age = case.age
    if age is None or not ANY_VACCINE.search(case.note.text):
        return []
    found = []
    for sentence in case.note.of("plan", "objective", "assessment"):
        for pattern, youngest, oldest, unless in lx.VACCINE_AGES:
            if youngest <= age <= oldest or not asserted(pattern, sentence) or not lx.GIVEN.search(sentence):
                continue
            if unless is not None and unless.search(sentence):
                continue
            found.append(Finding("vaccine_age", sentence, f"{pattern.pattern.split('|')[0].strip(chr(92) + 'b')} "
                                                          f"given at age {age} (given at {youngest}-{oldest})"))
    return found[:2]
