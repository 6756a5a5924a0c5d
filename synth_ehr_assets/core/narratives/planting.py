"""Planted defects for judge calibration: each planter turns a clean (note, claim) pair into one that shows one
defect kind of the clinical review table, by editing the note text or the claim, never by asking the engine.
A planter returns None when the pair is not eligible (e.g. an ED defect on an office claim)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from synth_ehr_assets.core.narratives.planting_mdm import ed_mdm, em_forced, em_level, status_plan
from synth_ehr_assets.core.narratives.vitals import norms, parse_vitals

R_TITLES = ("hemorrhage from respiratory passages", "abnormal findings on microbiological examination of urine",
            "abnormalities of heart beat", "abnormal results of liver function studies",
            "localized swelling, mass and lump of neck", "disturbances of skin sensation",
            "abnormal findings on diagnostic imaging of central nervous system",
            "elevated erythrocyte sedimentation rate", "left lower quadrant abdominal tenderness",
            "abnormal histological findings in specimens from respiratory organs and thorax")
FOREIGN_SYMPTOMS = (("jaw pain", "K"), ("ear pain", "H6"), ("eye redness", "H1"), ("knee pain", "M17"),
                    ("burning with urination", "N3"), ("heartburn", "K2"), ("itchy rash", "L"),
                    ("calf cramping when walking", "I7"), ("low back pain", "M54"), ("wrist pain", "S5"))
EXTRA_DX = ("I10", "E785", "K219", "F419", "M109", "E039", "G43909", "H409", "L409", "J45909")
EXTRA_PX = ("80061", "85025", "93000", "71046", "81003", "84443", "83036")
PX_NAMES = {"80061": "lipid", "85025": "blood count", "93000": "ECG", "71046": "chest X-ray", "81003": "urinalysis",
            "84443": "TSH", "83036": "A1c"}
RESULTS = (("Chest X-ray shows no acute process.", "71046"), ("Troponin negative.", "84484"),
           ("Hemoglobin A1c 7.9%.", "83036"), ("TSH 2.4 mIU/L.", "84443"), ("Urinalysis negative.", "81003"))
SPECIALTY_NAMES = {"cardiology": "cardiology", "nephrology": "nephrology", "endocrinology": "endocrinology",
                   "pulmonology": "pulmonology", "neurology": "neurology", "oncology": "oncology",
                   "urology": "urology", "orthopedics": "orthopedics", "rheumatology": "rheumatology",
                   "psychiatry": "psychiatry", "gastroenterology": "gastroenterology",
                   "ophthalmology": "ophthalmology", "dermatology": "dermatology", "hematology": "hematology"}


def _dx(claim: Mapping) -> list[str]:
    return [claim[f"dx_{i}"] for i in range(1, 11) if claim.get(f"dx_{i}")]


def _px(claim: Mapping) -> list[str]:
    return [claim[f"px_{i}"] for i in range(1, 7) if claim.get(f"px_{i}")]


def _section(note: str, name: str, add: str, at_start: bool = False) -> str | None:
    lines = note.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{name}: "):
            head, body = line.split(": ", 1)
            lines[i] = f"{head}: {add} {body}" if at_start else f"{line.rstrip()} {add}"
            return "\n".join(lines)
    return None


def _plan(note: str, item: str) -> str | None:
    lines = note.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Plan: "):
            lines[i] = line.rstrip(".") + f"; {item}."
            return "\n".join(lines)
    return None


def _pronoun(claim: Mapping) -> str:
    return "She" if claim.get("sex") == "F" else "He"


def code_title(note, claim, rng):
    title = rng.choice(R_TITLES)
    if rng.random() < 0.5:
        return _section(note, "Subjective", f"{_pronoun(claim)} also reports {title}."), claim
    return _section(note, "Objective", f"Results notable for {title}."), claim


def plan_age(note, claim, rng):
    age = claim.get("age")
    if age is None:
        return None
    if age >= 18:
        item = rng.choice(("developmental monitoring", "growth chart reviewed with anticipatory guidance",
                           "DTaP and MMR per the childhood schedule"))
    elif age < 12:
        item = rng.choice(("smoking cessation counseling", "screening mammogram ordered", "PSA screening discussed"))
    else:
        item = rng.choice(("fall-prevention and home safety review", "advance care planning discussed"))
    return _plan(note, item), claim


def plan_acuity(note, claim, rng):
    ed = any(str(p).startswith("9928") for p in _px(claim))
    if claim.get("claim_type") != "inpatient" and not ed:
        return None
    return _plan(note, rng.choice(("stable for outpatient management in clinic", "routine follow-up in clinic",
                                   "no further work-up needed"))), claim


def plan_diagnosis(note, claim, rng):
    viral = _dx(claim)[0].startswith(("J06", "J09", "J10", "J11", "B34", "U07", "J21", "J20"))
    if viral and rng.random() < 0.7:
        return _plan(note, rng.choice(("start amoxicillin 500 mg three times daily", "azithromycin course",
                                       "empiric antibiotics for ten days"))), claim
    planted = _section(note, "Subjective", f"{_pronoun(claim)} endorses suicidal thoughts this week.")
    return (_plan(planted, "safety screening done, no acute risk identified"), claim) if planted else None


def plan_specialty(note, claim, rng):
    name = SPECIALTY_NAMES.get(claim.get("provider_specialty") or "")
    return (_plan(note, rng.choice((f"referral to {name}", f"{name} referral placed", f"consult {name}"))), claim) \
        if name else None


def symptom_diagnosis(note, claim, rng):
    from synth_ehr_assets.core.narratives.detectors.symptoms import systems as _systems
    from synth_ehr_assets.core.narratives.lexicon import SYMPTOMS

    covered = _systems(_dx(claim))
    options = [s for s, _ in FOREIGN_SYMPTOMS if s.split()[0] not in note.lower()
               and not any(p.search(s) and where & covered for p, where in SYMPTOMS)]
    if claim.get("sex") == "F":
        options.append("a weak urine stream")
    if (claim.get("age") or 0) >= 18:
        options.append("colic")
    if not options:
        return None
    return _section(note, "Subjective", f"{_pronoun(claim)} also mentions {rng.choice(options)}."), claim


def symptom_vitals(note, claim, rng):
    vitals = parse_vitals(note)
    _, hr_high, _, _, _, _ = norms(claim.get("age"))
    options = []
    if vitals.get("temp", 40) < 37.8:
        options.append(("Subjective", f"{_pronoun(claim)} reports fever since yesterday."))
    if vitals.get("hr", 999) <= hr_high:
        options.append(("Assessment", "Tachycardia noted on arrival."))
    if vitals.get("spo2", 0) >= 94:
        options.append(("Assessment", "Hypoxemia on arrival."))
    if re.search(r"no murmurs?", note):
        options.append(("Subjective", f"{_pronoun(claim)} was told of a heart murmur."))
    if not options:
        return None
    section, text = rng.choice(options)
    return _section(note, section, text), claim


def distress_vitals(note, claim, rng):
    _, _, _, rr_high, _, _ = norms(claim.get("age"))
    changed = re.sub(r"(SpO2\s*)\d{2,3}%", lambda m: f"{m.group(1)}{rng.randint(84, 89)}%", note, count=1)
    changed = re.sub(r"(\bRR\s*)\d{1,3}", lambda m: f"{m.group(1)}{rr_high + rng.randint(6, 10)}", changed, count=1)
    changed = re.sub(r"Exam: [^;.]*", "Exam: no acute distress", changed, count=1)
    return (changed, claim) if changed != note and "Exam: no acute distress" in changed else None


def followup_acuity(note, claim, rng):
    if rng.random() < 0.5:
        return _plan(note, f"recheck in 48 hours, then return in {rng.randint(10, 16)} weeks"), claim
    return _plan(note, rng.choice(("routine return visit in three years", "follow up in 30 months"))), claim


def dx_missing(note, claim, rng):
    dx = _dx(claim)
    if len(dx) >= 10:
        return None
    from synth_ehr_assets.core.narratives.lexicon import SYNONYMS

    options = [c for c in EXTRA_DX if not any(d[:3] == c[:3] for d in dx)  # truly missing: not named already
               and not re.search(SYNONYMS.get(c[:3], r"(?!)"), note, re.I)]
    return (None if not options else (note, {**claim, f"dx_{len(dx) + 1}": rng.choice(options)}))


def result_without_test(note, claim, rng):
    if claim.get("claim_type") == "inpatient":
        return _section(note, "Objective", "Colonoscopy showed scattered diverticula."), claim
    billed = set(_px(claim))
    options = [text for text, code in RESULTS if code not in billed]
    return _section(note, "Objective", rng.choice(options)), claim


def px_missing(note, claim, rng):
    px = _px(claim)
    if len(px) >= 6:
        return None
    if claim.get("claim_type") == "inpatient":
        options = [c for c in ("0DTJ4ZZ", "30233N1", "5A1D70Z") if c not in px]
    else:
        options = [c for c in EXTRA_PX if c not in px and PX_NAMES[c].lower() not in note.lower()]
    return None if not options else (note, {**claim, f"px_{len(px) + 1}": rng.choice(options)})


def inpatient_course(note, claim, rng):
    if claim.get("claim_type") != "inpatient":
        return None
    if rng.random() < 0.3:
        return "\n".join(l for l in note.splitlines() if not l.startswith(("Hospital course:", "Discharge:"))), claim
    days = max(int(claim.get("los_days") or 1), 1)
    wrong = days + rng.randint(2, 5)
    changed = re.sub(r"\b\d+-day stay|\bone-day stay", f"{wrong}-day stay", note)
    changed = re.sub(r"hospital day \d+|on day \d+", f"hospital day {wrong}", changed)
    return (changed, claim) if changed != note else None


def wrong_sex(note, claim, rng):
    if claim.get("sex") not in ("F", "M"):
        return None
    return note, {**claim, "sex": "M" if claim["sex"] == "F" else "F"}


def wrong_age(note, claim, rng):
    age = claim.get("age")
    if age is None:
        return None
    return note, {**claim, "age": rng.randint(4, 10) if age >= 18 else rng.randint(35, 75)}


def phi(note, claim, rng):
    return _section(note, "Subjective", rng.choice(("Call back at 555-867-5309.", "MRN 48213377.",
                                                    "Accompanied by her neighbor Linda Smith."))), claim


def exam_age(note, claim, rng):
    if claim.get("age") is None or claim["age"] >= 2:
        return None
    said = rng.choice(("comfortable, conversant", "alert, speaking in full sentences"))
    changed = re.sub(r"Exam: [^;.]*", f"Exam: {said}", note, count=1)
    return (changed, claim) if changed != note else None


def vaccine_age(note, claim, rng):
    age = claim.get("age")
    if age is None:
        return None
    given = "MMR vaccine given today" if age < 1 else "HPV vaccine dose given today" if age < 7 else \
        rng.choice(("DTaP dose given today", "zoster vaccine given today")) if age < 50 else "DTaP dose given today"
    return _plan(note, given), claim


def bp_control(note, claim, rng):
    from synth_ehr_assets.core.narratives.vitals import raised_bp

    raised = raised_bp(claim.get("age"))
    if raised is None or not re.search(r"\bBP \d{2,3}/\d{2,3}", note):
        return None
    reading = f"BP {raised[0] + rng.randint(4, 14)}/{raised[1] - rng.randint(2, 8)}"
    changed = re.sub(r"\bBP \d{2,3}/\d{2,3}", reading, note, count=1)
    return _section(changed, "Assessment", rng.choice(("Blood pressure controlled.", "BP at goal today."))), claim


DIABETES_SWAPS = (("type 2 diabetes", "type 1 diabetes"), ("type 1 diabetes", "type 2 diabetes"),
                  ("gestational diabetes", "pre-existing type 2 diabetes"),
                  ("pre-existing type 2 diabetes", "gestational diabetes"))


def dx_label(note, claim, rng):
    if not any(c.startswith(("E10", "E11", "O24")) for c in _dx(claim)):
        return None
    for said, wrong in DIABETES_SWAPS:
        if re.search(said, note, re.I):
            return re.sub(said, wrong, note, count=1, flags=re.I), claim
    return None


def course_complication(note, claim, rng):
    if claim.get("claim_type") != "inpatient":
        return None
    stable = rng.choice(("hyperlipidemia", "obesity", "osteoarthritis of the knee", "hypothyroidism"))
    return _section(note, "Hospital course", f"The course was complicated by {stable}."), claim


PLANTERS = {fn.__name__: fn for fn in (
    code_title, plan_age, plan_acuity, plan_diagnosis, plan_specialty, symptom_diagnosis, symptom_vitals,
    distress_vitals, followup_acuity, dx_missing, result_without_test, px_missing, ed_mdm, inpatient_course,
    wrong_sex, wrong_age, phi, exam_age, vaccine_age, bp_control, dx_label, course_complication, em_level,
    em_forced, status_plan)}
EXPECTED = {**{k: k for k in PLANTERS}, "wrong_sex": "demographics", "wrong_age": "demographics",
            "em_forced": "em_level"}
