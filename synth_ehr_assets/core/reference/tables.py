"""The design tables compiled to numpy arrays over one code vocabulary, validated once on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synth_ehr_assets.core import codes
from synth_ehr_assets.core.reference import encounters as enc
from synth_ehr_assets.core.reference.calendar import SEASON_NAMES, season_factors
from synth_ehr_assets.core.reference.coding import COMPANION, obstetric_codes
from synth_ehr_assets.core.reference.conditions import COMBINATION_CODES, CONDITION_KEYS, CONDITION_TARGETS
from synth_ehr_assets.core.reference.procedures import PCS_CODES, PROCEDURE_CHARGES, REFERENCE_PROCEDURES

SPECIALTIES = (
    "family_medicine", "internal_medicine", "pediatrics", "emergency_medicine", "hospitalist", "cardiology",
    "nephrology", "endocrinology", "pulmonology", "neurology", "oncology", "urology", "orthopedics", "rheumatology",
    "psychiatry", "gastroenterology", "infectious_disease", "ophthalmology", "dermatology", "hematology",
    "obstetrics_gynecology", "radiology", "neonatology",
)
MAX_PX_OPTIONS = 4
MAX_EXTRA_DX = 2


def diagnosis_codes() -> list[str]:
    """Every ICD-10-CM code the design tables can emit."""
    found = [code for cond in CONDITION_TARGETS for code, _ in cond.codes]
    found += [code for rules in COMBINATION_CODES.values() for _, code in rules]
    for visit in enc.PREVENTIVE + enc.ACUTE:
        found += [visit.code, *(code for code, _ in visit.extra_dx)]
    for adm in enc.ADMISSIONS:
        found += [code for code in (adm.code,) if code] + list(adm.code_map.values())
        found += [code for code, _ in adm.extra_dx]
    found += [*enc.PRENATAL_FIRST, *enc.PRENATAL_OTHER, *enc.PRENATAL_COMPLICATION, *enc.DELIVERY_COMPLICATION,
              *enc.CESAREAN_INDICATIONS, *enc.WEEKS_CODES.values(), enc.POSTPARTUM, enc.LIVE_BIRTH,
              *enc.NEWBORN.values(), enc.NEWBORN_JAUNDICE[0], *(code for _, code in enc.NEWBORN_WELL)]
    found += [*obstetric_codes(), *(code for codes_ in COMPANION.values() for code in codes_), "J440"]
    return sorted(set(found))


def procedure_codes_used() -> list[str]:
    found = [code for cond in CONDITION_TARGETS for code, _ in cond.office_px]
    found += [cond.outpatient[0] for cond in CONDITION_TARGETS if cond.outpatient]
    found += [code for visit in enc.PREVENTIVE + enc.ACUTE for code, _ in visit.px]
    found += [code for adm in enc.ADMISSIONS for code, _ in adm.pcs]
    found += [code for code, _ in enc.PRENATAL_PX + enc.NEWBORN_PCS] + [enc.CIRCUMCISION[0]]
    found += [px for px, _, _, _ in enc.DELIVERY.values()]
    return sorted(set(found))


def validate_design() -> None:
    """Fail loudly on a typo: every diagnosis billable FY2026 ICD-10-CM, every procedure described and typed."""
    bad_dx = [code for code in diagnosis_codes() if not codes.is_billable(code)]
    if bad_dx:
        raise ValueError(f"reference design: not billable FY2026 ICD-10-CM codes: {bad_dx}")
    used = procedure_codes_used()
    missing = [code for code in used if code not in REFERENCE_PROCEDURES]
    if missing:
        raise ValueError(f"reference design: procedures without a description in REFERENCE_PROCEDURES: {missing}")
    bad_pcs = [code for code in PCS_CODES if not codes.is_icd10pcs(code)]
    bad_cpt = [code for code in used if code not in PCS_CODES and (len(code) != 5 or code not in PROCEDURE_CHARGES)]
    if bad_pcs or bad_cpt:
        raise ValueError(f"reference design: unknown ICD-10-PCS {bad_pcs} or CPT without a charge {bad_cpt}")
    for visit in enc.PREVENTIVE + enc.ACUTE:
        if visit.specialty and visit.specialty not in SPECIALTIES:
            raise ValueError(f"reference design: unknown specialty {visit.specialty!r} for {visit.code}")
    for cond in CONDITION_TARGETS:
        if cond.specialty and cond.specialty not in SPECIALTIES:
            raise ValueError(f"reference design: unknown specialty {cond.specialty!r} for {cond.key}")
    for adm in enc.ADMISSIONS:
        unknown = [key for key in adm.requires + tuple(k for k, _ in adm.multipliers) if key not in CONDITION_KEYS]
        if unknown:
            raise ValueError(f"reference design: admission {adm.drg} names unknown conditions {unknown}")


@dataclass(frozen=True)
class VisitTable:
    code: np.ndarray
    weights: np.ndarray  # (V, 3)
    claim_type: np.ndarray  # 0 professional, 1 outpatient
    evaluation: np.ndarray
    min_age: np.ndarray
    max_age: np.ndarray
    sex: np.ndarray  # 0 any, 1 female only, 2 male only
    female_mult: np.ndarray
    acuity: np.ndarray
    px: np.ndarray  # (V, MAX_PX_OPTIONS) vocabulary index, -1 padded
    px_prob: np.ndarray
    extra_dx: np.ndarray  # (V, MAX_EXTRA_DX)
    extra_prob: np.ndarray
    specialty: np.ndarray  # -1: primary care
    season: np.ndarray  # (V, 12) rate multiplier by month (1 for visits without a season)


@dataclass(frozen=True)
class Tables:
    vocab: tuple[str, ...]
    index: dict[str, int]
    charge: np.ndarray  # median charge by vocabulary index (0 for diagnoses and PCS)
    preventive: VisitTable
    acute: VisitTable
    conditions: VisitTable  # one row per condition: its follow-up office visit
    condition_outpatient: np.ndarray  # (K, 2): outpatient procedure index (-1 none), probability
    condition_specialty: np.ndarray
    admissions: VisitTable
    admission_drg: np.ndarray  # (A, 3) strings
    admission_alos: np.ndarray
    admission_charge: np.ndarray
    admission_requires: np.ndarray  # (A, K) bool
    admission_multiplier: np.ndarray  # (A, K) float
    admission_replaces: np.ndarray
    admission_fixed: np.ndarray  # principal index, -1 when mapped from the condition code
    admission_map: np.ndarray  # (A, len(vocab)) mapped principal index per condition code (-1: keep code)


def _pad(pairs, index, width):
    codes_, probs = np.full(width, -1, np.int32), np.zeros(width)
    if len(pairs) > width:
        raise ValueError(f"reference design: more than {width} options in {pairs}")
    for j, (code, prob) in enumerate(pairs):
        codes_[j], probs[j] = index[code], prob
    return codes_, probs


def _visit_table(rows, index) -> VisitTable:
    px = [_pad(r.px, index, MAX_PX_OPTIONS) for r in rows]
    extra = [_pad(r.extra_dx, index, MAX_EXTRA_DX) for r in rows]
    spec = [SPECIALTIES.index(r.specialty) if r.specialty else -1 for r in rows]
    return VisitTable(
        code=np.array([index[r.code] for r in rows], np.int32),
        weights=np.array([r.weights for r in rows], float),
        claim_type=np.array([0 if r.setting == "office" else 1 for r in rows], np.int8),
        evaluation=np.array([enc.EVALUATIONS.index(r.evaluation) for r in rows], np.int8),
        min_age=np.array([r.min_age for r in rows]), max_age=np.array([r.max_age for r in rows]),
        sex=np.array([{None: 0, "F": 1, "M": 2}[r.sex] for r in rows], np.int8),
        female_mult=np.array([r.female_mult for r in rows]), acuity=np.array([r.acuity for r in rows]),
        px=np.stack([p for p, _ in px]), px_prob=np.stack([q for _, q in px]),
        extra_dx=np.stack([p for p, _ in extra]), extra_prob=np.stack([q for _, q in extra]),
        specialty=np.array(spec, np.int16),
        season=np.stack([season_factors()[SEASON_NAMES.index(r.season)] if r.season else np.ones(12) for r in rows]),
    )


@lru_cache(maxsize=1)
def reference_tables() -> Tables:
    validate_design()
    vocab = tuple(diagnosis_codes() + sorted(REFERENCE_PROCEDURES))
    index = {code: i for i, code in enumerate(vocab)}
    charge = np.array([PROCEDURE_CHARGES.get(code, 0.0) for code in vocab])
    follow_ups = [
        enc.Visit(cond.codes[0][0], (1, 1, 1), px=cond.office_px, sex=cond.sex, acuity=.5, specialty=cond.specialty)
        for cond in CONDITION_TARGETS
    ]
    admissions = [
        enc.Visit(adm.code or "R55", adm.weights, px=adm.pcs, min_age=adm.min_age, max_age=adm.max_age,
                  female_mult=adm.female_mult, extra_dx=adm.extra_dx, evaluation="none", specialty="hospitalist",
                  season=adm.season)
        for adm in enc.ADMISSIONS
    ]
    keys = list(CONDITION_KEYS)
    requires = np.zeros((len(enc.ADMISSIONS), len(keys)), bool)
    multiplier = np.ones((len(enc.ADMISSIONS), len(keys)))
    mapping = np.full((len(enc.ADMISSIONS), len(vocab)), -1, np.int32)
    for a, adm in enumerate(enc.ADMISSIONS):
        for key in adm.requires:
            requires[a, keys.index(key)] = True
        for key, mult in adm.multipliers:
            multiplier[a, keys.index(key)] = mult
        for source, target in adm.code_map.items():
            mapping[a, index[source]] = index[target]
    outpatient = np.array([(index[c.outpatient[0]], c.outpatient[1]) if c.outpatient else (-1, 0) for c in CONDITION_TARGETS])
    return Tables(
        vocab=vocab, index=index, charge=charge,
        preventive=_visit_table(enc.PREVENTIVE, index), acute=_visit_table(enc.ACUTE, index),
        conditions=_visit_table(follow_ups, index), condition_outpatient=outpatient,
        condition_specialty=np.array([SPECIALTIES.index(c.specialty) if c.specialty else -1 for c in CONDITION_TARGETS]),
        admissions=_visit_table(admissions, index),
        admission_drg=np.array([adm.drg for adm in enc.ADMISSIONS]),
        admission_alos=np.array([adm.alos for adm in enc.ADMISSIONS]),
        admission_charge=np.array([adm.charge for adm in enc.ADMISSIONS]),
        admission_requires=requires, admission_multiplier=multiplier,
        admission_replaces=np.array([adm.replaces for adm in enc.ADMISSIONS]),
        admission_fixed=np.array([index[adm.code] if adm.code else -1 for adm in enc.ADMISSIONS], np.int32),
        admission_map=mapping,
    )
