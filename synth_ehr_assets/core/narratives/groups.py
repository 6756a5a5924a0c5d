"""Hand-written design knowledge per ICD-10-CM condition group (chapter or block): vitals, findings, plans.

This is the one place where clinical wording is typed by hand, and it is per group of categories, not per
diagnosis: which R-chapter blocks hold a group's typical symptoms, typical vital-sign ranges, exam findings
and plan phrases. Everything diagnosis-specific is derived from code descriptions and embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

NORMAL_VITALS: dict[str, tuple[float, float]] = {
    "hr": (62, 88), "sbp": (112, 134), "dbp": (68, 84), "rr": (12, 18), "temp": (36.4, 37.2), "spo2": (96, 99),
}
R_BLOCKS = {
    "cardiorespiratory": ("R00", "R09"), "digestive": ("R10", "R19"), "skin": ("R20", "R23"),
    "neuromuscular": ("R25", "R29"), "urinary": ("R30", "R39"), "cognition": ("R40", "R46"),
    "speech": ("R47", "R49"), "general": ("R50", "R69"),
}


@dataclass(frozen=True)
class ConditionGroup:
    """Typical presentation of a group of ICD-10-CM categories (inclusive 3-character ranges)."""

    key: str
    ranges: tuple[tuple[str, str], ...]
    symptom_blocks: tuple[str, ...]
    findings: tuple[str, ...]
    plan: tuple[str, ...]
    vitals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def covers(self, category: str) -> bool:
        return any(low <= category <= high for low, high in self.ranges)

    def vital_range(self, name: str) -> tuple[float, float]:
        return self.vitals.get(name, NORMAL_VITALS[name])

    def block_mask(self, r_categories: np.ndarray) -> np.ndarray:
        """1.0 for R categories inside this group's symptom blocks, else 0.0."""
        mask = np.zeros(len(r_categories), dtype=np.float32)
        for block in self.symptom_blocks:
            low, high = R_BLOCKS[block]
            mask[(r_categories >= low) & (r_categories <= high)] = 1.0
        return mask


def _g(key, ranges, blocks, findings, plan, **vitals) -> ConditionGroup:
    return ConditionGroup(key, tuple(ranges), tuple(blocks), tuple(findings), tuple(plan), vitals)


FEVER = {"temp": (37.9, 39.3), "hr": (92, 118)}
# Most specific first: the first group whose ranges cover a category wins.
CONDITION_GROUPS: tuple[ConditionGroup, ...] = (
    _g("sepsis", [("A40", "A41")], ["general", "cardiorespiratory", "cognition"],
       ["warm extremities with delayed capillary refill", "appears acutely ill", "dry mucous membranes"],
       ["blood cultures drawn before antibiotics", "broad-spectrum IV antibiotics started",
        "IV fluid resuscitation with serial lactate", "monitor urine output and mental status"],
       temp=(38.3, 39.8), hr=(102, 128), sbp=(84, 104), dbp=(48, 62), rr=(22, 30), spo2=(90, 95)),
    _g("infection", [("A00", "B99"), ("U07", "U07")], ["general", "cardiorespiratory", "digestive"],
       ["mild dehydration", "no meningismus", "no rash noted"],
       ["supportive care with oral hydration", "antimicrobial therapy as indicated by cultures",
        "return precautions for worsening fever or shortness of breath"], **FEVER),
    _g("neoplasm", [("C00", "D49")], ["general", "digestive", "cardiorespiratory"],
       ["no palpable cervical or axillary lymphadenopathy", "well-healed surgical scar", "no focal tenderness"],
       ["review staging imaging with oncology", "continue the current treatment plan",
        "symptom management and nutrition support discussed", "follow up with oncology after the next cycle"]),
    _g("hematologic", [("D50", "D89")], ["general", "skin", "cardiorespiratory"],
       ["pale conjunctivae", "no hepatosplenomegaly", "no petechiae"],
       ["complete blood count with reticulocyte count", "iron studies, B12 and folate",
        "start replacement therapy as indicated", "recheck blood counts in four weeks"], hr=(76, 100)),
    _g("thyroid", [("E00", "E07")], ["general", "neuromuscular"],
       ["thyroid non-tender without discrete nodules", "normal reflexes", "no tremor"],
       ["TSH and free T4", "adjust thyroid hormone dose to TSH", "recheck thyroid function in six weeks"]),
    _g("diabetes", [("E08", "E13")], ["general", "urinary", "neuromuscular"],
       ["monofilament sensation intact in both feet", "no foot ulcers", "pedal pulses palpable"],
       ["hemoglobin A1c and basic metabolic panel", "continue metformin and review glucose log",
        "dietary counseling and daily foot care", "annual dilated retinal exam", "urine albumin-to-creatinine ratio"]),
    _g("cystic_fibrosis", [("E84", "E84")], ["cardiorespiratory", "digestive", "general"],
       ["scattered coarse crackles", "digital clubbing", "low body mass for age"],
       ["airway clearance therapy twice daily", "pulmonary function testing", "sputum culture",
        "pancreatic enzyme replacement with meals", "follow up in the cystic fibrosis clinic"], spo2=(92, 97)),
    _g("lipids", [("E78", "E78")], ["general", "cardiorespiratory"],
       ["no xanthomas", "no carotid bruits", "regular rate and rhythm"],
       ["fasting lipid panel", "continue statin therapy", "heart-healthy diet and regular exercise",
        "estimate 10-year cardiovascular risk"]),
    _g("nutrition", [("E40", "E68")], ["general", "digestive"],
       ["body habitus consistent with the stated weight concern", "no edema"],
       ["dietitian referral", "weight and nutrition goals reviewed", "follow-up weight check in three months"]),
    _g("metabolic", [("E15", "E39"), ("E69", "E89")], ["general", "neuromuscular", "urinary"],
       ["no edema", "mucous membranes moist"],
       ["basic metabolic panel", "medication and fluid review", "endocrinology follow-up"]),
    _g("substance", [("F10", "F19")], ["cognition", "general"],
       ["alert and oriented", "no signs of intoxication or withdrawal"],
       ["cessation counseling", "pharmacotherapy options discussed", "follow up on use at the next visit"]),
    _g("mental", [("F01", "F99")], ["cognition", "general", "speech"],
       ["alert and oriented", "speech normal in rate and volume", "thought process linear", "affect congruent"],
       ["psychotherapy referral", "medication review with attention to side effects",
        "safety screening completed, no acute risk identified", "follow up in four weeks"]),
    _g("nervous", [("G00", "G99")], ["neuromuscular", "cognition", "speech", "general"],
       ["cranial nerves grossly intact", "strength symmetric", "gait steady"],
       ["neurology follow-up", "review of current neurologic medications", "fall-risk counseling"]),
    _g("eye", [("H00", "H59")], ["general", "neuromuscular"],
       ["pupils equal and reactive", "conjunctiva without injection", "extraocular movements intact"],
       ["ophthalmology referral", "lubricating or prescribed eye drops", "return if vision worsens"]),
    _g("ear", [("H60", "H95")], ["general", "neuromuscular"],
       ["tympanic membrane erythematous and bulging", "external canal clear", "no mastoid tenderness"],
       ["analgesia and antibiotic course as indicated", "recheck the ear in two weeks"], **FEVER),
    _g("hypertension", [("I10", "I1A")], ["cardiorespiratory", "general"],
       ["regular rate and rhythm", "no carotid bruits", "no peripheral edema"],
       ["continue antihypertensive therapy", "home blood pressure log", "low-sodium diet",
        "basic metabolic panel"], sbp=(138, 166), dbp=(84, 100)),
    _g("ischemic_heart", [("I20", "I25")], ["cardiorespiratory", "general"],
       ["regular rate and rhythm", "no murmurs", "lungs clear"],
       ["12-lead ECG", "troponin as indicated", "continue aspirin and statin", "cardiology follow-up"],
       hr=(60, 92), sbp=(118, 150)),
    _g("heart_failure", [("I50", "I50")], ["cardiorespiratory", "general"],
       ["bibasilar crackles", "jugular venous distension", "bilateral pitting ankle edema"],
       ["daily weights and fluid restriction", "titrate diuretic dose", "BNP and basic metabolic panel",
        "echocardiogram review"], hr=(80, 104), rr=(18, 24), spo2=(90, 95)),
    _g("heart", [("I00", "I09"), ("I26", "I5A")], ["cardiorespiratory", "general"],
       ["irregularly irregular rhythm", "no murmurs", "lungs clear"],
       ["12-lead ECG", "rate control and anticoagulation review", "echocardiogram"], hr=(78, 112)),
    _g("cerebrovascular", [("I60", "I69")], ["neuromuscular", "speech", "cognition"],
       ["mild residual weakness", "speech fluent", "no new focal deficit"],
       ["neuroimaging review", "antiplatelet therapy and statin", "physical and speech therapy"],
       sbp=(132, 160)),
    _g("vascular", [("I70", "I99")], ["cardiorespiratory", "skin", "general"],
       ["diminished distal pulses", "no ulceration", "mild dependent edema"],
       ["vascular studies", "risk-factor control", "vascular surgery referral as needed"]),
    _g("upper_respiratory", [("J00", "J06"), ("J30", "J39")], ["cardiorespiratory", "general"],
       ["oropharynx erythematous", "nasal mucosa congested", "lungs clear to auscultation"],
       ["supportive care with fluids and rest", "antipyretics as needed", "return if symptoms persist beyond ten days"],
       temp=(37.2, 38.4)),
    _g("pneumonia", [("J09", "J22")], ["cardiorespiratory", "general"],
       ["crackles over the affected lung field", "increased work of breathing", "dullness to percussion"],
       ["chest radiograph", "empiric antibiotics", "supplemental oxygen to keep saturation above 92%",
        "incentive spirometry"], temp=(37.8, 39.4), hr=(90, 116), rr=(20, 28), spo2=(89, 95)),
    _g("chronic_lung", [("J40", "J4A")], ["cardiorespiratory", "general"],
       ["expiratory wheezes", "prolonged expiratory phase", "no accessory muscle use"],
       ["continue inhaled bronchodilators", "review inhaler technique", "spirometry", "smoking cessation counseling"],
       rr=(16, 24), spo2=(90, 95)),
    _g("respiratory", [("J60", "J99")], ["cardiorespiratory", "general"],
       ["decreased breath sounds at the bases", "no wheezes"],
       ["chest imaging", "pulmonary function testing", "pulmonology follow-up"], spo2=(91, 96)),
    _g("digestive", [("K00", "K95")], ["digestive", "general"],
       ["abdomen soft with mild epigastric tenderness", "no guarding or rebound", "bowel sounds normal"],
       ["trial of acid suppression", "dietary modification", "consider endoscopy if symptoms persist"]),
    _g("skin", [("L00", "L99")], ["skin", "general"],
       ["localized erythema and warmth", "no fluctuance", "no lymphangitic streaking"],
       ["oral antibiotics as indicated", "wound care instructions", "recheck the skin in 48 hours"]),
    _g("musculoskeletal", [("M00", "M99")], ["neuromuscular", "general"],
       ["tenderness over the affected joint", "reduced range of motion", "no effusion", "neurovascularly intact"],
       ["NSAIDs as tolerated", "physical therapy referral", "weight-bearing as tolerated", "imaging if no improvement"]),
    _g("kidney", [("N00", "N29")], ["urinary", "general"],
       ["no edema", "no costovertebral angle tenderness"],
       ["basic metabolic panel and eGFR", "urine albumin-to-creatinine ratio", "avoid nephrotoxic medications",
        "nephrology follow-up"], sbp=(128, 152)),
    _g("urinary", [("N30", "N39")], ["urinary", "general", "digestive"],
       ["suprapubic tenderness", "no costovertebral angle tenderness"],
       ["urinalysis and urine culture", "oral antibiotics", "increase fluid intake"], temp=(36.8, 38.2)),
    _g("genital", [("N40", "N99")], ["urinary", "digestive", "general"],
       ["no masses", "no tenderness"],
       ["pelvic or genital examination findings reviewed", "urology or gynecology follow-up", "imaging as indicated"]),
    _g("pregnancy", [("O00", "O9A")], ["digestive", "general"],
       ["fundal height appropriate for dates", "fetal heart tones present", "no edema"],
       ["prenatal vitamins", "routine prenatal labs", "obstetric follow-up"]),
    _g("perinatal", [("P00", "P96")], ["general", "digestive", "cardiorespiratory"],
       ["anterior fontanelle soft", "good tone", "feeding well"],
       ["weight check", "feeding support", "newborn follow-up"], hr=(110, 150), rr=(30, 50), sbp=(62, 80)),
    _g("congenital", [("Q00", "Q99")], ["general", "neuromuscular"],
       ["features consistent with the known congenital condition"],
       ["specialist follow-up", "developmental monitoring"]),
    _g("symptom", [("R00", "R99")], ["general", "cardiorespiratory", "digestive"],
       ["no acute distress", "exam otherwise unremarkable"],
       ["targeted laboratory work-up", "symptomatic treatment", "follow up if symptoms persist"]),
    _g("injury", [("S00", "T88")], ["neuromuscular", "skin", "general"],
       ["swelling and tenderness at the injury site", "distal neurovascular status intact"],
       ["radiographs of the injured area", "immobilization and analgesia", "orthopedic follow-up"], hr=(76, 100)),
    _g("encounter", [("V00", "Z99")], ["general"],
       ["no acute distress", "heart and lungs normal", "exam unremarkable"],
       ["age-appropriate screening reviewed", "immunizations updated", "routine follow-up"]),
)
GENERAL = _g("general", [], ["general"], ["no acute distress"], ["follow up as needed"])


def condition_group(code: str) -> ConditionGroup:
    """The most specific condition group covering the code's 3-character category."""
    return _group_of_category(code[:3].upper())


@lru_cache(maxsize=4096)
def _group_of_category(category: str) -> ConditionGroup:
    for group in CONDITION_GROUPS:
        if group.covers(category):
            return group
    return GENERAL
