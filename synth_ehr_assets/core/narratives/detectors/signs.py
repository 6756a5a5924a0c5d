"""Signs against the note's own vitals and exam: `symptom_vitals` (fever at 37.0 C, a murmur reported beside
'no murmurs', crackles beside 'lungs clear') and `distress_vitals` ('no acute distress' at vitals that mean
distress). Blood pressure control is `bp.bp_control`."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives.detectors.reading import CODE_IN_TEXT, Case, Finding, asserted, compiled
from synth_ehr_assets.core.narratives.vitals import FEVER_C, HYPOXEMIA_SPO2, hypotension_sbp, norms

WELL = re.compile(r"no acute distress|\bNAD\b|in no (?:apparent )?distress|\bno distress\b|\bcomfortable\b|"
                  r"well-appearing|not toxic", re.I)


def symptom_vitals(case: Case) -> list[Finding]:
    note, vitals, found, age = case.note, case.vitals, [], case.age
    _, hr_high, _, rr_high, _, _ = norms(age)
    told = note.of("subjective", "objective", "assessment", "")
    checks = (
        (r"\bfevers?\b|\bfebrile\b", "temp", lambda v: v >= FEVER_C, "fever with temperature {v:.1f} C"),
        (r"\bafebrile\b", "temp", lambda v: v < FEVER_C, "afebrile with temperature {v:.1f} C"),
        (r"tachycardi|fast heartbeat|racing heart|heart racing", "hr", lambda v: v > hr_high,
         "tachycardia with HR {v:.0f}"),
        (r"hypox|low oxygen|desaturat", "spo2", lambda v: v < HYPOXEMIA_SPO2, "hypoxemia with SpO2 {v:.0f}%"),
        (r"tachypn|rapid breathing|fast breathing", "rr", lambda v: v > rr_high, "tachypnea with RR {v:.0f}"),
        (r"hypotensi|low blood pressure", "sbp", lambda v: v < hypotension_sbp(age), "hypotension with SBP {v:.0f}"),
    )
    joined = " ".join(told)
    for pattern, name, holds, reason in checks:
        if name not in vitals or not compiled(pattern).search(joined):
            continue
        for sentence in told:
            body = CODE_IN_TEXT.sub("", sentence)
            if asserted(pattern, body) and not holds(vitals[name]):
                found.append(Finding("symptom_vitals", sentence, reason.format(v=vitals[name])))
                break
    exam = note.joined("objective").lower()
    if re.search(r"\b(?:bibasilar |scattered |diffuse |coarse )?(?:crackles|wheezes|rhonchi)\b", exam) and re.search(
            r"lungs clear|clear breath sounds", exam):
        where = next(s for s in note.of("objective") if re.search(r"lungs clear|clear breath sounds", s.lower()))
        found.append(Finding("symptom_vitals", where, "lung findings and 'lungs clear' in one exam"))
    for word, negated in (("murmur", r"no murmurs?|without murmurs?"), ("rash", r"no rash"),
                          ("edema", r"no (?:peripheral )?edema")):
        for sentence in note.of("subjective", "assessment"):
            if asserted(word if word != "edema" else r"edema|swelling of the (?:ankles|legs)|leg swelling", sentence) \
                    and re.search(negated, exam):
                found.append(Finding("symptom_vitals", sentence, f"{word} reported, exam says {negated}"))
                break
    return found


def distress_vitals(case: Case) -> list[Finding]:
    vitals, age = case.vitals, case.age
    _, _, _, rr_high, _, _ = norms(age)
    bad = []
    if vitals.get("spo2", 100) < HYPOXEMIA_SPO2:
        bad.append(f"SpO2 {vitals['spo2']:.0f}%")
    if vitals.get("rr", 0) >= rr_high + 4:
        bad.append(f"RR {vitals['rr']:.0f}")
    if vitals.get("sbp", 120) < hypotension_sbp(age):
        bad.append(f"SBP {vitals['sbp']:.0f}")
    if not bad:
        return []
    return [Finding("distress_vitals", s, f"no distress at {', '.join(bad)}") for s in case.note.of("objective")
            if asserted(WELL, s)][:1]
