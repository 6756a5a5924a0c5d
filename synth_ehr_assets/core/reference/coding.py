"""Diagnosis lists as a coder writes them: sized and chosen by setting and specialty, ICD-10-CM conventions applied.

Sources of the rules:
- Secondary diagnoses: ICD-10-CM Official Guidelines for Coding and Reporting FY2026, section IV.J (outpatient:
  code all documented conditions that coexist and affect the care at that visit) and section III (inpatient:
  other diagnoses that affect the stay). List sizes follow NAMCS 2019 (office visits list 1-3 diagnoses, median
  2) and the 9 secondary slots an inpatient claim can hold here; a specialist codes the conditions of their
  field (`RELEVANT`), a screening, vaccination or routine postpartum visit codes none.
- "With" and combination codes (guidelines I.A.15 and I.C.4.a / I.C.9.a): hypertension with heart failure / CKD
  (I11.0, I12.9, I13.0, each with its I50 / N18 code), diabetes with CKD (E11.22 + N18) and with peripheral
  angiopathy (E11.51 / E10.51, which replaces I73.9), COPD with an acute lower respiratory infection (J44.0,
  sequenced before the infection code it is coded with), unspecified dementia with mood disturbance or anxiety
  (F03.93 / F03.94), Alzheimer's disease with its dementia code (G30.9 + F02.80 / F02.83 / F02.84, "use
  additional code").
- Pregnancy (guideline I.C.15.a-b): chapter 15 codes take precedence; a pre-existing condition in a pregnant
  patient is coded with its O10 / O24 / O98 / O99 code (by trimester, at childbirth) followed by the condition's
  own code, and Z34 (normal pregnancy) or O80 (uncomplicated delivery) is then not used.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from synth_ehr_assets.core.reference.conditions import CONDITION_KEYS

_CARDIOMETABOLIC = ("hypertension", "diabetes_t2", "diabetes_t1", "hyperlipidaemia", "obesity", "ckd")
RELEVANT: dict[str, tuple[str, ...]] = {
    "cardiology": _CARDIOMETABOLIC + ("heart_failure", "ischemic_heart", "atrial_fibrillation", "peripheral_vascular",
                                      "stroke_history", "sleep_apnea", "nicotine_dependence", "pulmonary_hypertension"),
    "nephrology": _CARDIOMETABOLIC + ("heart_failure", "gout", "iron_deficiency_anaemia"),
    "endocrinology": _CARDIOMETABOLIC + ("hypothyroidism", "peripheral_vascular", "osteoporosis"),
    "pulmonology": ("copd", "asthma", "sleep_apnea", "obesity", "nicotine_dependence", "heart_failure", "cystic_fibrosis",
                    "sarcoidosis", "pulmonary_hypertension", "gerd", "lung_cancer"),
    "neurology": ("dementia", "stroke_history", "epilepsy", "migraine", "multiple_sclerosis", "als", "myasthenia_gravis",
                  "huntington", "duchenne", "hypertension", "atrial_fibrillation", "depression", "sleep_apnea"),
    "oncology": ("breast_cancer", "colorectal_cancer", "lung_cancer", "prostate_cancer", "iron_deficiency_anaemia",
                 "nicotine_dependence", "depression"),
    "urology": ("prostate_cancer", "bph", "ckd"),
    "orthopedics": ("osteoarthritis", "osteoporosis", "rheumatoid_arthritis", "gout", "obesity"),
    "rheumatology": ("rheumatoid_arthritis", "lupus", "osteoarthritis", "osteoporosis", "gout", "psoriasis", "sarcoidosis"),
    "psychiatry": ("depression", "anxiety", "serious_mental_illness", "adhd", "autism", "alcohol_dependence",
                   "nicotine_dependence", "dementia"),
    "gastroenterology": ("gerd", "crohns", "ulcerative_colitis", "hepatitis_c", "colorectal_cancer", "obesity",
                         "alcohol_dependence", "iron_deficiency_anaemia"),
    "infectious_disease": ("hiv", "hepatitis_c", "nicotine_dependence", "alcohol_dependence", "depression"),
    "ophthalmology": ("glaucoma", "diabetes_t2", "diabetes_t1", "hypertension"),
    "dermatology": ("psoriasis", "lupus"),
    "hematology": ("sickle_cell", "hemophilia_a", "gaucher", "iron_deficiency_anaemia", "ckd"),
    "radiology": (),
    "neonatology": (),
}
# most secondary diagnoses a claim lists, by setting (the draw below picks 1..cap, weighted to the cap)
CAPS = {"inpatient": 9, "ed": 3, "primary_care": 4, "preventive": 3, "specialist": 3, "outpatient": 2,
        "screening": 0, "obstetric": 3, "newborn": 2}
SCREENING_PRINCIPALS = ("Z23", "Z1211", "Z1231", "Z124", "Z00110", "Z00111", "Z392", "Z13220", "Z131", "Z1331")
LOWER_RESPIRATORY_INFECTIONS = ("J209", "J189")
# code that needs another condition's code on the same claim (guideline "use additional code")
NEEDS = {"I110": ("heart_failure",), "I129": ("ckd",), "I130": ("heart_failure", "ckd"), "E1122": ("ckd",)}
# code → the code that must follow it: without / with mood disturbance (depression) / with anxiety
COMPANION = {"G309": ("F0280", "F0283", "F0284")}
# pregnancy codes per condition code: (trimester prefix + 1/2/3, childbirth, puerperium)
_MENTAL, _NERVOUS, _ENDOCRINE = ("O9934", "O99344", "O99345"), ("O9935", "O99354", "O99355"), ("O9928", "O99284", "O99285")
OBSTETRIC: dict[str, tuple[str, str, str]] = {
    "I10": ("O1001", "O1002", "O1003"), "I110": ("O1011", "O1012", "O1013"), "I129": ("O1021", "O1022", "O1023"),
    "I130": ("O1031", "O1032", "O1033"),
    **{code: ("O2411", "O2412", "O2413") for code in ("E119", "E1165", "E1140", "E1122", "E1151")},
    **{code: ("O2401", "O2402", "O2403") for code in ("E109", "E1051")},
    **{code: ("O9951", "O9952", "O9953") for code in ("J4520", "J45909")},
    **{code: _MENTAL for code in ("F329", "F331", "F419", "F411", "F319", "F209", "F909")},
    **{code: _NERVOUS for code in ("G40909", "G43909", "G35A")},
    **{code: ("O9921", "O99214", "O99215") for code in ("E669", "E6601")},
    "E039": _ENDOCRINE, "D509": ("O9901", "O9902", "O9903"), "F17210": ("O9933", "O99334", "O99335"),
    "F1020": ("O9931", "O99314", "O99315"), "B20": ("O9871", "O9872", "O9873"), "B182": ("O9841", "O9842", "O9843"),
    "K219": ("O9961", "O9962", "O9963"), "K5090": ("O9961", "O9962", "O9963"), "K5190": ("O9961", "O9962", "O9963"),
}
PREGNANCY_STAGES = ("first", "second", "third", "childbirth", "puerperium")


def obstetric_code(code: str, stage: int) -> str:
    prefix, birth, puerperium = OBSTETRIC[code]
    return f"{prefix}{stage + 1}" if stage < 3 else (birth, puerperium)[stage - 3]


def obstetric_codes() -> list[str]:
    return sorted({obstetric_code(code, s) for code in OBSTETRIC for s in range(len(PREGNANCY_STAGES))})


@lru_cache(maxsize=4)
def code_tables(vocab: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Vocabulary-level lookups: obstetric code per stage, companion code, the conditions a code needs."""
    index = {code: i for i, code in enumerate(vocab)}
    obstetric = np.full((len(vocab) + 1, len(PREGNANCY_STAGES)), -1, np.int32)  # last row: -1 (absent) maps to -1
    for code in OBSTETRIC:
        for stage in range(len(PREGNANCY_STAGES)):
            obstetric[index[code], stage] = index[obstetric_code(code, stage)]
    companion = np.full((len(vocab) + 1, 3), -1, np.int32)
    for code, others in COMPANION.items():
        companion[index[code]] = [index[other] for other in others]
    needs = np.zeros((len(vocab) + 1, len(CONDITION_KEYS)), bool)
    for code, keys in NEEDS.items():
        for key in keys:
            needs[index[code], CONDITION_KEYS.index(key)] = True
    return {"obstetric": obstetric, "companion": companion, "needs": needs}


@lru_cache(maxsize=4)
def relevance_matrix(specialties: tuple[str, ...]) -> np.ndarray:
    """(specialty, condition) bool: which chronic conditions a claim from that specialty lists."""
    out = np.ones((len(specialties), len(CONDITION_KEYS)), bool)
    for s, name in enumerate(specialties):
        if name in RELEVANT:
            out[s] = np.isin(CONDITION_KEYS, RELEVANT[name])
    return out
