"""Sentence wording of the design engine: several ways to say each part, chosen per claim, so notes vary across
claims the way real notes do (the share of sentences repeated verbatim in more than 5% of notes stays low)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from synth_ehr_assets.core.narratives import decision, exam_rules
from synth_ehr_assets.core.narratives.clinical import profile
from synth_ehr_assets.core.narratives.vitals import HYPOXEMIA_SPO2, Vitals, hypotension_sbp, norms

Item = TypeVar("Item")

ABOVE_GOAL = ("above goal today", "not at goal today", "reading elevated today", "above target on today's reading")
ORDERED = ("{} ordered", "{} sent, results to follow", "{} collected today", "{} pending at the end of the visit")
RESULTS = ("Results: {}.", "Today's results: {}.", "Studies: {}.", "Data reviewed: {}.")
MECHANISM = ("This followed a {}.", "The injury happened with a {}.", "Mechanism: {} at home.")
HISTORY = ("Past history includes {}.", "Other active problems: {}.", "Known history of {}.",
           "Medical history is notable for {}.", "Background problems include {}.")
HISTORIAN_CHILD = ("History obtained from the parent.", "The mother gives the history.",
                   "History is from the father and the chart.", "Parent at bedside provides the history.")
HISTORIAN_TEEN = ("History from the patient and a parent.", "The patient gives the history, with a parent present.")
ONSET = {
    "acute": ("for {d}", "that began {d} ago", "over the past {d}", "starting {d} ago"),
    "emergency": ("that started {d} ago", "beginning {d} ago", "for the past {d}"),
    "chronic": ("for {d}", "on and off for {d}", "gradually over {d}", "intermittently for {d}"),
}
DURATIONS = {
    "sudden": ("a few hours", "several hours", "this morning", "last night", "six hours"),
    "acute": ("two days", "three days", "four days", "several days", "about five days", "one day"),
    "chronic": ("several weeks", "a few months", "two months", "several months", "the past year"),
}
APPEARANCE_WELL = ("no acute distress", "well-appearing and comfortable", "alert, in no distress",
                   "comfortable, conversant", "pleasant and in no apparent distress", "well-nourished, not toxic")
APPEARANCE_INFANT = ("alert and consolable, in no distress", "vigorous with good tone, no distress",
                     "content in the parent's arms, no distress", "well-appearing, active and alert")
APPEARANCE_TODDLER = ("playful and interactive, no distress", "alert, interactive, in no distress",
                      "well-appearing and active")
APPEARANCE_ILL = ("ill-appearing", "uncomfortable and tired-looking", "in moderate distress",
                  "appears unwell", "in mild respiratory distress")
NORMAL_EXAM = (("lungs clear bilaterally", "clear breath sounds throughout", "normal work of breathing, lungs clear"),
               ("regular rate and rhythm", "heart regular without gallop", "S1 and S2 normal"),
               ("abdomen soft and non-tender", "abdomen benign", "soft abdomen without tenderness"),
               ("skin warm and dry", "no rash", "skin without lesions"))
SPECIALTY_WORDS = {
    "cardiology": "cardiolog", "nephrology": "nephrolog", "endocrinology": "endocrin", "pulmonology": "pulmon",
    "neurology": "neurolog", "oncology": "oncolog", "urology": "urolog", "orthopedics": "orthop",
    "rheumatology": "rheumatolog", "psychiatry": "psychiatr", "gastroenterology": "gastroenterolog",
    "infectious_disease": "infectious disease", "ophthalmology": "ophthalmolog", "dermatology": "dermatolog",
    "hematology": "hematolog", "obstetrics_gynecology": "obstetric|gynecolog",
}


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def distinct(items: Iterable[Item], key: Callable[[Item], str] = str, said: Iterable[str] = ()) -> list[Item]:
    """`items` in first-seen order without one whose `key` (case-insensitive) was already said, in `items` or
    in `said`: two codes a note names alike (N18.30 and N18.9, "chronic kidney disease") are named once."""
    seen = {text.casefold() for text in said}
    kept = []
    for item in items:
        name = key(item).casefold()
        if name not in seen:
            seen.add(name)
            kept.append(item)
    return kept


SIDE_WORDS = frozenset({"bilateral", "bilaterally", "both", "the"})  # a finding's words that add no other finding


def _words(text: str) -> str:
    return " " + " ".join(w for w in re.findall(r"[\w-]+", text.casefold()) if w not in SIDE_WORDS) + " "


def within(general: str, specific: str) -> bool:
    """Whether `specific` says all `general` says, in its words and their order ("trace ankle edema" within
    "trace bilateral ankle edema", "type 2 diabetes" within "type 2 diabetes with hyperglycemia")."""
    return _words(general) in _words(specific)


def specific_findings(findings: Sequence[str]) -> list[str]:
    """`findings` in first-seen order without one another finding says more fully (`within`); of two that say
    the same, the longer (or the first) stays: heart failure's "trace bilateral ankle edema" beside CKD's
    "trace ankle edema" is written once."""
    def said_by(i: int, j: int) -> bool:
        a, b = findings[i], findings[j]
        if i == j or not within(a, b):
            return False
        return _words(a) != _words(b) or len(b) > len(a) or len(b) == len(a) and j < i
    return [f for i, f in enumerate(findings) if not any(said_by(i, j) for j in range(len(findings)))]


def _names_more(specific: str, general: str, title: Callable[[str], str]) -> bool:
    """Whether `specific`, of `general`'s ICD-10-CM category, says all `general`'s title says and more."""
    return (specific[:3] == general[:3] and _words(title(general)) != _words(title(specific))
            and within(title(general), title(specific)))


def same_condition(code: str, other: str, title: Callable[[str], str]) -> bool:
    """Whether two codes of one ICD-10-CM category name one condition, one title within the other's."""
    return code[:3] == other[:3] and (within(title(code), title(other)) or within(title(other), title(code)))


# A combination code that names a condition of another category: hypertensive CKD (I12, I13) and diabetic CKD
# (E08-E13 with .22) name the chronic kidney disease N18 codes, which the note calls "chronic kidney disease" at
# every stage; the combination's title as the note writes it must say so (third item).
COMBINATIONS = (("N18", ("I12", "I13", "E0822", "E0922", "E1022", "E1122", "E1322"), "kidney disease"),)


def _combined_in(combination: str, code: str, title: Callable[[str], str]) -> bool:
    """Whether `combination` is a combination code (`COMBINATIONS`) whose title names `code`'s condition."""
    return any(code.startswith(part) and combination.startswith(wholes) and words in title(combination)
               for part, wholes, words in COMBINATIONS)


def specific_problems(codes: Sequence[str], title: Callable[[str], str]) -> list[str]:
    """`codes` without one a more specific code of its category names within its own title (E11.9 "type 2
    diabetes" beside E11.65 "type 2 diabetes with hyperglycemia": one problem) or a combination code names
    (N18.9 beside I12.9 "hypertensive chronic kidney disease"), each title once (`distinct`)."""
    kept = [c for c in codes if not any(_names_more(o, c, title) or _combined_in(o, c, title) for o in codes)]
    return distinct(kept, key=title)


def join(items: Sequence[str]) -> str:
    """'a, b and c', each item once (`distinct`)."""
    items = distinct(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def self_referral(text: str, specialty: str | None) -> bool:
    """True when `text` sends the patient to the specialty that bills the claim."""
    words = SPECIALTY_WORDS.get(specialty or "")
    return bool(words) and re.search(words, text, re.I) is not None


DELIVERY = ("O80", "O82")  # encounter for full-term uncomplicated delivery, cesarean delivery


def delivering(principal: str) -> bool:
    """Whether the principal diagnosis is a delivery: the note is a labor and delivery admission, not a visit."""
    return principal.startswith(DELIVERY)


def who(age: int | None, sex: str | None) -> str:
    female = sex == "F"
    if age is None:
        return "The patient"
    if age < 1:
        return f"This infant {'girl' if female else 'boy'}"
    noun = ("girl" if female else "boy") if age < 13 else ("young woman" if female else "young man") if age < 18 \
        else ("woman" if female else "man")
    return f"A {age}-year-old {noun}" if not str(age).startswith("8") and age not in (11, 18) else \
        f"An {age}-year-old {noun}"


def opening(claim: Mapping, principal: str, level: str, place: str, rng) -> str:
    person = who(claim.get("age"), claim.get("sex"))
    if level == "preventive":
        forms = ("{p} comes in for {l}.", "{p} is here for {l}.", "{p} presents for {l}.")
    elif level == "prenatal" and delivering(str(claim.get("dx_1") or "")):
        forms = ("{p} is admitted to labor and delivery at term ({l}).", "{p} is admitted in labor: {l}.")
    elif level == "prenatal":
        forms = ("{p} is seen for a prenatal visit ({l}).", "{p} presents for routine prenatal care: {l}.")
    elif place == "ed":
        forms = ("{p} presents to the emergency department with {l}.", "{p} comes to the ED for {l}.",
                 "{p} is evaluated in the emergency department for {l}.")
    elif place == "inpatient":
        forms = ("{p} is admitted with {l}.", "{p} presents and is admitted for {l}.",
                 "{p} is admitted to the medicine service for {l}.")
    elif place == "procedure":
        forms = ("{p} is seen in the hospital outpatient department for {l}.",
                 "{p} presents as an outpatient for care related to {l}.")
    elif level == "chronic" and any(str(claim.get(f"px_{i}") or "").startswith("9920") for i in range(1, 7)):
        forms = ("{p} is seen as a new patient for {l}.", "{p} comes in to establish care for {l}.",
                 "{p} is referred for evaluation of {l}.")
    elif level == "chronic":
        forms = ("{p} returns for follow-up of {l}.", "{p} is seen for ongoing care of {l}.",
                 "{p} comes in to follow up on {l}.", "{p} presents for a scheduled {l} visit.")
    else:
        forms = ("{p} comes in with {l}.", "{p} is seen today for {l}.", "{p} presents to the office with {l}.")
    return rng.choice(forms).format(p=person, l=principal)


WORSE_COMPLAINT = ("{p} reports the problem has been harder to control since the last visit.",
                   "{p} notes things have been worse over the past few weeks.",
                   "{p} says the usual treatment is no longer keeping it in check.")


def complaint(symptoms: list[str], level: str, onset: str, age: int | None, sex: str | None, rng,
              worse: bool = False) -> list[str]:
    pronoun = "She" if sex == "F" else "He"
    reporter = "The parent reports" if age is not None and age < 12 else rng.choice(
        (f"{pronoun} reports", f"{pronoun} describes", f"{pronoun} notes", f"{pronoun} endorses"))
    if not symptoms:
        if level in ("preventive", "prenatal"):
            return [rng.choice((f"{pronoun} has no concerns today.", "No new concerns today.",
                                f"{pronoun} feels well.", f"{pronoun} has been feeling well."))]
        if worse:
            return [rng.choice(WORSE_COMPLAINT).format(p=pronoun if age is None or age >= 12 else "The parent")]
        return [rng.choice((f"{pronoun} has been doing well on the current plan.", "No new complaints today.",
                            f"{pronoun} reports feeling about the same.", "Symptoms are stable."))]
    kind = "emergency" if level == "emergency" or onset == "sudden" and level == "prenatal" else \
        "chronic" if level in ("chronic", "prenatal") else "acute"
    duration = rng.choice(DURATIONS["sudden" if onset == "sudden" else "chronic" if kind == "chronic" else "acute"])
    when = rng.choice(ONSET[kind]).format(d=duration).replace(" ago ago", " ago")
    if duration in ("this morning", "last night"):
        when = f"since {duration}"
    said = [f"{reporter} {join(symptoms)} {when}."]
    if worse:
        said.append(rng.choice(WORSE_COMPLAINT).format(p=pronoun if age is None or age >= 12 else "The parent"))
    return said


def exam(vitals: Vitals, age: int | None, signs: set[str], findings: list[str], symptoms: Sequence[str], rng,
         codes: Sequence[str] = ()) -> str:
    """The exam line: appearance, the `findings`, and normal statements that neither a finding or symptom nor
    one of the claim's diagnosis `codes` contradicts (`exam_rules`)."""
    _, hr_high, _, rr_high, _, _ = norms(age)
    ill = vitals.spo2 < HYPOXEMIA_SPO2 or vitals.rr > rr_high or vitals.sbp < hypotension_sbp(age) or "F" in signs
    well = APPEARANCE_WELL if age is None or age >= 4 else APPEARANCE_INFANT if age < 1 else APPEARANCE_TODDLER
    appearance = rng.choice(APPEARANCE_ILL if ill else well)  # no "conversant" before children talk
    if ill and "distress" in appearance and vitals.spo2 >= HYPOXEMIA_SPO2 and vitals.rr <= rr_high:
        appearance = "appears unwell"
    told = (" ".join(findings) + " " + " ".join(symptoms)).lower()
    refuted = exam_rules.refuted(findings, symptoms, codes)
    findings = [f for f in findings if not refuted(f)]
    groups = [[g for g in group if not refuted(g)] for group in NORMAL_EXAM
              if not exam_rules.overlaps(group, told)]
    normal = [rng.choice(group) for group in groups if group]
    picked = findings + rng.sample(normal, min(len(normal), 2 if findings else 3))
    return f"Exam: {appearance}; " + "; ".join(picked) + "."


def impression(level: str, place: str, rng, flags: str | None = None) -> str:
    if place == "inpatient":
        return rng.choice(("requiring admission", "needing inpatient treatment", "the reason for admission"))
    if flags and level in ("acute", "emergency") and place != "ed":
        return rng.choice(("acute, with {f}; close follow-up needed", "acute illness with {f}, watched "
                           "closely")).format(f=flags)
    return rng.choice({
        "emergency": ("evaluated emergently", "acute presentation", "work-up as below"),
        "acute": ("acute, uncomplicated", "new problem, clinically mild", "acute and self-limited",
                  "acute, no red flags"),
        "chronic": ("chronic, stable", "chronic, at goal", "ongoing, managed as below", "stable on current therapy"),
        "preventive": ("visit completed", "routine, no abnormal findings", "done today"),
        "prenatal": ("progressing normally", "routine prenatal care", "on track"),
    }[level])


def status(code: str, rng) -> str:
    level = profile(code).acuity
    if code.startswith(("Y83", "Y84")):
        return "cause of the complication"
    if code[0] in "VWXY":
        return rng.choice(("mechanism of injury", "cause of the injury"))
    if code.startswith("Z3A"):
        return rng.choice(("dating by early ultrasound", "consistent with dates"))
    return rng.choice({
        "chronic": ("stable", "controlled on the current regimen", "at baseline", "no change", "monitored"),
        "acute": ("improving", "addressed today", "mild"),
        "emergency": ("treated as below", "addressed during this encounter"),
        "preventive": ("addressed today", "done"),
        "prenatal": ("routine", "monitored"),
    }[level])


def follow_up(level: str, place: str, age: int | None, principal: str, rng, sooner: str | None = None,
              tested: bool = False, changed: Sequence[str] = ()) -> str:
    """The plan's return interval by acuity and setting; a chronic problem whose treatment `changed` (sooner
    "worse") is rechecked when that change can be judged (`decision.recheck`)."""
    if place == "ed":
        return rng.choice(("follow up with primary care in {} days", "see the primary doctor within {} days",
                           "recheck with primary care in {} days")).format(rng.randint(2, 5))
    if level == "preventive":
        if principal.startswith("Z0011") or (age is not None and age < 1):
            return f"next well visit in {rng.choice(('one month', 'two months'))}"
        if age is not None and age < 3:
            return f"next well visit in {rng.choice(('three months', 'six months'))}"
        if principal.startswith(("Z0000", "Z00129")):
            return rng.choice(("return in one year for the next check-up", "next annual visit in 12 months",
                               "follow up in one year or sooner as needed"))
        return rng.choice(("results will be sent by portal; follow up as scheduled" if tested else
                           "follow up in the clinic as scheduled",
                           "follow up with primary care as scheduled", "routine follow-up as scheduled"))
    if level == "prenatal" and delivering(principal):
        return rng.choice(("postpartum visit in {} weeks", "postpartum check in {} weeks")).format(rng.choice((4, 6)))
    if level == "prenatal":
        return rng.choice(("next prenatal visit in {} weeks", "return to the prenatal clinic in {} weeks")).format(
            rng.choice((2, 4)))
    if level in ("acute", "emergency") and sooner == "red flags":
        return rng.choice(("recheck tomorrow, sooner or to the emergency department if worse",
                           "phone check tonight and recheck within 48 hours; emergency precautions reviewed"))
    if level in ("acute", "emergency"):
        return rng.choice(("return in {} days if not improving", "recheck in {} days or sooner if worse",
                           "follow up in {} days if symptoms persist")).format(rng.randint(3, 10))
    if place == "procedure":
        return rng.choice(("results to the ordering clinician; follow up in {} weeks",
                           "review results at a follow-up visit in {} weeks")).format(rng.randint(2, 6))
    if sooner == "worse":
        return decision.recheck(changed, rng)
    months = rng.choice((1, 2, 3, 3, 4, 6))
    return rng.choice(("follow up in {}", "return visit in {}", "next visit in {}", "recheck in {}")).format(
        "one month" if months == 1 else f"{months} months")
