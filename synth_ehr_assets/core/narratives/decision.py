"""How the design engine words decision making: a problem's status cites the evidence that shows it (the raised
BP, worsening the history reports, an acute problem's abnormal vital, today's LDL or A1c), high fever at the
extremes of age, hypoxemia and hypotension are never called benign, a high office level on several problems
documents its total time, and an ED visit's decision-making line follows its E/M level."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from synth_ehr_assets.core.narratives.orders import ED_LEVELS
from synth_ehr_assets.core.narratives.vitals import HYPOXEMIA_SPO2, Vitals, hypotension_sbp, norms

WORSE_CHRONIC = ("worse since the last visit per the patient, treatment adjusted", "progressing per the patient's "
                 "report, therapy intensified", "not controlled on the current regimen per the history, regimen "
                 "adjusted")
ABOVE_GOAL_AT = ("above goal at {bp}, regimen adjusted", "not at goal ({bp} today), therapy intensified",
                 "uncontrolled at {bp}, treatment adjusted")
SYSTEMIC = ("acute illness with systemic symptoms ({v})", "acute, with systemic signs ({v}); prescription "
            "treatment started")


def intensified(items: list[str], worse: bool) -> list[str]:
    """A worse problem's plan changes treatment: 'continue X' becomes 'adjust X'."""
    return [re.sub(r"^continue ", "adjust ", item) for item in items] if worse else items


# How soon a treatment change is rechecked, by the problem changed (ICD-10-CM prefixes): a statin change with a
# lipid panel in 6-12 weeks (ACC/AHA 2018 cholesterol guideline), a levothyroxine dose with a TSH in 6-8 weeks
# (ATA), a diabetes regimen with an A1c in about 3 months (ADA Standards of Care), an antihypertensive in 2-4
# weeks (ACC/AHA 2017: monthly until at goal) and any other change in 2-4 weeks.
LAB_RECHECKS = (
    (("E78",), ("recheck lipids in {}", "repeat lipid panel and follow up in {}",
                "follow up with a fasting lipid panel in {}"), ("six weeks", "eight weeks", "twelve weeks")),
    (("E03",), ("recheck TSH in {}", "follow up with a repeat TSH in {}"), ("six weeks", "eight weeks")),
    (("E08", "E09", "E10", "E11", "E13"), ("recheck A1c in {}", "follow up with a repeat A1c in {}"),
     ("three months",)),
)
BP_PROBLEMS = ("I10", "I11", "I12", "I13", "I15", "I16")
SOON = ("two weeks", "three weeks", "four weeks")


def recheck(changed: Sequence[str], rng) -> str:
    """The follow-up after the treatment of the `changed` problems (claim order) changed: timed by the first one
    rechecked by a lab (`LAB_RECHECKS`), with a blood pressure recheck in 2-4 weeks when an antihypertensive
    changed too; otherwise in 2-4 weeks."""
    lab = next((rule for code in changed for rule in LAB_RECHECKS if code.startswith(rule[0])), None)
    if lab is None:
        return rng.choice(("recheck in {}", "follow up in {}")).format(rng.choice(SOON))
    said = rng.choice(lab[1]).format(rng.choice(lab[2]))
    if any(code.startswith(BP_PROBLEMS) for code in changed):
        said = f"blood pressure recheck in {rng.choice(SOON)}; {said}"
    return said


def systemic_sign(vitals: Vitals, age: int | None) -> str | None:
    """The first vital sign outside the age's range, as the note writes it, or None."""
    _, hr_high, _, rr_high, _, _ = norms(age)
    return next((text for bad, text in (
        (vitals.temp >= 38.0, f"T {vitals.temp:.1f} C"), (vitals.spo2 < HYPOXEMIA_SPO2, f"SpO2 {vitals.spo2}%"),
        (vitals.hr > hr_high, f"HR {vitals.hr}"), (vitals.rr > rr_high, f"RR {vitals.rr}"),
        (vitals.sbp < hypotension_sbp(age), f"BP {vitals.sbp}/{vitals.dbp}")) if bad), None)


def red_flags(vitals: Vitals, age: int | None) -> str | None:
    """Vitals a clinician does not send home with a routine recheck: high fever, fever at the extremes of age,
    hypoxemia, hypotension."""
    old_or_infant = age is not None and (age >= 65 or age < 1)
    return next((text for bad, text in (
        (vitals.temp >= 39.0 or (vitals.temp >= 38.0 and old_or_infant), f"T {vitals.temp:.1f} C"),
        (vitals.spo2 < HYPOXEMIA_SPO2, f"SpO2 {vitals.spo2}%"),
        (vitals.sbp < hypotension_sbp(age), f"BP {vitals.sbp}/{vitals.dbp}")) if bad), None)


def worse(acuity: str, vitals: Vitals, age: int | None, bp_above: bool, rng) -> str | None:
    """How a worse problem is documented, citing what shows it: the raised BP, the history (the complaint says
    it is worse), or for an acute problem its systemic sign; None when an acute problem shows none."""
    if acuity in ("acute", "emergency"):
        sign = systemic_sign(vitals, age)
        return rng.choice(SYSTEMIC).format(v=sign) if sign else None
    if bp_above:
        return rng.choice(ABOVE_GOAL_AT).format(bp=f"{vitals.sbp}/{vitals.dbp}")
    return rng.choice(WORSE_CHRONIC)


def off_target(dx: Sequence[str], results: Sequence[str]) -> dict[str, str]:
    """Status of the lipid and diabetes problems whose own result today is above goal (LDL 130 or more, A1c 7%
    or more): the note says so, and the plan changes treatment."""
    text = " ".join(results)
    ldl, a1c = re.search(r"\bLDL (\d+)", text), re.search(r"\bA1c (\d+(?:\.\d)?)%", text)
    out = {}
    for code in dx:
        if code.startswith("E78") and ldl and int(ldl.group(1)) >= 130:
            out[code] = f"LDL {ldl.group(1)} mg/dL, above goal; statin therapy intensified"
        elif code.startswith(("E10", "E11")) and a1c and float(a1c.group(1)) >= 7.0:
            out[code] = f"A1c {a1c.group(1)}%, above goal; regimen adjusted"
    return out


def total_time(claim: Mapping, problems: int, rng) -> str:
    """The total-time statement of a high-level office visit (2021: 40+ minutes for 99215, 60+ for 99205)."""
    new = any(claim.get(f"px_{i}") == "99205" for i in range(1, 7))
    minutes = rng.randint(60, 74) if new else rng.randint(40, 54)
    count = {3: "three", 4: "four", 5: "five", 6: "six"}.get(problems, str(problems))
    return rng.choice(("Total time on the date of the visit: {m} minutes, spent on the {n} problems above, record "
                       "review, counseling and care coordination.",
                       "Total time today was {m} minutes, most of it reviewing the {n} problems above and "
                       "coordinating care.",
                       "I spent a total time of {m} minutes on the date of service, including record review and "
                       "counseling on {n} active problems.")).format(m=minutes, n=count)


MDM = {
    "straightforward": ("straightforward: one self-limited problem, minimal data",
                        "straightforward, with a single minor problem and little risk"),
    "low": ("low complexity: an acute uncomplicated problem with limited data review",
            "low complexity; acute uncomplicated illness, limited testing"),
    "moderate": ("moderate complexity: acute illness with systemic symptoms, {n} ordered and reviewed, "
                 "prescription drug management", "moderate complexity given {n} reviewed and the risk of "
                 "prescription treatment"),
    "high": ("high complexity: an acute problem that could threaten life or organ function, {n} "
             "reviewed, admission considered", "high complexity, with {n} reviewed and a serious "
             "differential weighed, including admission"),
}


def mdm(claim: Mapping, n_studies: int, rng) -> str:
    level = next((ED_LEVELS[p] for p in (claim.get(f"px_{i}") for i in range(1, 7)) if p in ED_LEVELS), "low")
    studies = "one study" if n_studies <= 1 else f"{n_studies} studies"
    return _cap(rng.choice(MDM[level]).format(n=studies)) + ". " + rng.choice(
        ("Discharged home in stable condition with return precautions.", "Stable for discharge home.",
         "Discharged with written return precautions."))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
