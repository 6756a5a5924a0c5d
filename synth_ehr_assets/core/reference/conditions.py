"""Chronic and rare conditions of the reference population: the documented target prevalence table.

`CONDITION_TARGETS` is the design of the population. Each row gives the ICD-10-CM codes a patient with the
condition carries (one variant per patient, by weight), the target share of *patients* with the condition in
each age band (0-17, 18-44, 45-64, 65+), a sex restriction or female:male relative risk, the youngest age it is
drawn for, the loadings on three latent factors that correlate conditions, and the follow-up visit it causes
(specialty, office procedures and labs with their probability, an outpatient procedure with its probability).

Prevalence means "share of patients in the claims population whose claims carry the code", i.e. diagnosed
and coded prevalence, which sits below measured population prevalence (obesity, hypertension in the young).
For sex-restricted rows the share is among patients of that sex. Sources (rounded, per band):

- CMS Chronic Conditions Warehouse (CCW), Medicare fee-for-service prevalence 2017-2018 (65+ column):
  hypertension ~60%, hyperlipidaemia ~43%, ischaemic heart disease ~28%, diabetes ~27%, CKD ~24%,
  RA/OA ~30%, depression ~17%, hypothyroidism ~15%, heart failure ~15%, COPD ~12%, Alzheimer's and related
  dementia ~11%, atrial fibrillation ~9%, osteoporosis ~8%, glaucoma ~8%, stroke/TIA ~4.5%; hypertension
  among beneficiaries with diabetes ~83% (calibrated through the latent factor, see `LATENT_FACTORS`).
- CDC National Health Interview Survey 2018-2022 (adult bands): diagnosed hypertension, COPD, current
  asthma (~8% adults), depression/anxiety, migraine, cigarette smoking (~11.5%).
- CDC National Diabetes Statistics Report 2023: diagnosed diabetes 18-44 ~3.0%, 45-64 ~14.5%; type 1 ~0.5%.
- NHANES 2017-2020: measured obesity (~40% adults, ~20% children; coded share ~1/3 of that), hyperlipidaemia,
  osteoporosis, psoriasis (~3%).
- CDC National Survey of Children's Health 2022 / ADDM 2020 (0-17 column): asthma ~6.5%, ADHD ~10%,
  anxiety ~9%, depression ~4%, autism 1 in 36.
- SEER cancer prevalence (breast, prostate, colorectal, lung); USRDS Annual Data Report (CKD); CDC HIV
  surveillance (~0.4%), CDC viral hepatitis surveillance, CDC epilepsy (~1.2%).
- Rare tail: Cystic Fibrosis Foundation Patient Registry 2022 (~32,000 US patients, most under 45), CDC
  National ALS Registry (~5 per 100,000), CDC hemophilia (1 in 5,000 male births), CDC sickle cell disease
  (~100,000), National MS Society (~0.3%), CDC lupus (~0.1%), CDC IBD (~0.7% combined), CDC Down syndrome
  (1 in 700 births), myasthenia gravis (~20 per 100,000), Huntington disease (~5 per 100,000), Duchenne
  (1 in 5,000 male births), Gaucher disease (1 in 40,000), pulmonary arterial hypertension, sarcoidosis.
"""

from __future__ import annotations

from dataclasses import dataclass

AGE_BANDS: tuple[tuple[int, int], ...] = ((0, 17), (18, 44), (45, 64), (65, 124))
AGE_BAND_LABELS = ("0-17", "18-44", "45-64", "65+")
# Latent factors shared by conditions (Gaussian copula): cardiometabolic, behavioural health, frailty.
LATENT_FACTORS = ("cardiometabolic", "behavioural", "frailty")


@dataclass(frozen=True)
class Condition:
    key: str
    name: str
    codes: tuple[tuple[str, float], ...]
    prevalence: tuple[float, float, float, float]
    source: str
    sex: str | None = None
    female_rr: float = 1.0
    min_age: int = 0
    loadings: tuple[float, float, float] = (0.0, 0.0, 0.0)
    specialty: str | None = None
    office_px: tuple[tuple[str, float], ...] = ()
    outpatient: tuple[str, float] | None = None


def _c(key, name, codes, prevalence, source, **kw) -> Condition:
    return Condition(key, name, tuple(codes), tuple(prevalence), source, **kw)


CCW, NHIS, NDSR, NHANES, NSCH = "CMS CCW 2018", "CDC NHIS", "CDC NDSR 2023", "NHANES 2017-2020", "CDC NSCH 2022"
# Order = priority when listed as secondary diagnoses (most severe / most relevant first).
CONDITION_TARGETS: tuple[Condition, ...] = (
    _c("heart_failure", "Heart failure", [("I5022", .3), ("I5032", .4), ("I509", .3)], (.0005, .003, .025, .15), CCW,
       min_age=1, loadings=(.45, 0, .45), specialty="cardiology", office_px=[("83880", .5), ("93000", .3)], outpatient=("93306", .25)),
    _c("ckd", "Chronic kidney disease", [("N1830", .35), ("N1831", .2), ("N1832", .15), ("N184", .1), ("N189", .2)],
       (.001, .01, .06, .24), CCW + "; USRDS ADR", loadings=(.45, 0, .35), specialty="nephrology",
       office_px=[("80069", .7), ("82043", .4)], outpatient=("76770", .1)),
    _c("diabetes_t2", "Type 2 diabetes mellitus", [("E119", .65), ("E1165", .25), ("E1140", .1)], (.002, .03, .14, .27),
       NDSR + "; " + CCW, min_age=10, loadings=(.70, 0, 0), specialty="endocrinology",
       office_px=[("83036", .8), ("82043", .3), ("80053", .3)]),
    _c("diabetes_t1", "Type 1 diabetes mellitus", [("E109", 1)], (.003, .004, .004, .004), NDSR, min_age=1,
       specialty="endocrinology", office_px=[("83036", .9), ("82043", .3)]),
    _c("hypertension", "Hypertension", [("I10", 1)], (.01, .11, .38, .60), CCW + "; " + NHIS, min_age=3,
       loadings=(.71, 0, 0), office_px=[("80053", .3), ("93000", .1)]),
    _c("ischemic_heart", "Ischaemic heart disease", [("I2510", 1)], (0, .004, .06, .28), CCW + "; " + NHIS, min_age=18,
       female_rr=.6, loadings=(.55, 0, .2), specialty="cardiology", office_px=[("93000", .5), ("80061", .3)], outpatient=("93015", .3)),
    _c("atrial_fibrillation", "Atrial fibrillation", [("I4891", .7), ("I4820", .3)], (0, .002, .015, .09), CCW, min_age=18,
       female_rr=.8, loadings=(.3, 0, .3), specialty="cardiology", office_px=[("93000", .6), ("85610", .4)], outpatient=("93306", .2)),
    _c("copd", "Chronic obstructive pulmonary disease", [("J449", 1)], (0, .01, .05, .12), CCW + "; " + NHIS, min_age=18,
       loadings=(0, .2, .5), specialty="pulmonology", office_px=[("94010", .4)], outpatient=("71046", .3)),
    _c("dementia", "Alzheimer's disease and related dementia", [("G309", .4), ("F0390", .6)], (0, 0, .005, .11), CCW,
       min_age=45, loadings=(0, .2, .5), specialty="neurology", office_px=[("96116", .3)], outpatient=("70551", .15)),
    _c("stroke_history", "Stroke / TIA (history)", [("Z8673", 1)], (0, .002, .012, .045), CCW, min_age=18,
       loadings=(.4, 0, .2), specialty="neurology", outpatient=("93880", .2)),
    _c("breast_cancer", "Breast cancer", [("C50911", .5), ("C50912", .5)], (0, 0, .015, .05), "SEER", sex="F",
       min_age=50, specialty="oncology", office_px=[("85025", .6)], outpatient=("96413", .35)),
    _c("prostate_cancer", "Prostate cancer", [("C61", 1)], (0, 0, .01, .06), "SEER", sex="M", min_age=45,
       specialty="urology", office_px=[("84153", .8)], outpatient=("96402", .2)),
    _c("colorectal_cancer", "Colorectal cancer", [("C189", 1)], (0, .0005, .003, .01), "SEER", min_age=18,
       specialty="oncology", office_px=[("85025", .6), ("82378", .5)], outpatient=("96413", .4)),
    _c("lung_cancer", "Lung cancer", [("C3490", 1)], (0, .0002, .002, .008), "SEER", min_age=30, loadings=(0, .2, .2),
       specialty="oncology", office_px=[("85025", .6)], outpatient=("96413", .4)),
    _c("hyperlipidaemia", "Hyperlipidaemia", [("E785", .6), ("E7800", .2), ("E782", .2)], (.003, .07, .30, .43),
       CCW + "; " + NHANES, min_age=8, loadings=(.5, 0, 0), office_px=[("80061", .7)]),
    _c("osteoarthritis", "Osteoarthritis", [("M170", .5), ("M1990", .5)], (0, .02, .12, .30), CCW, min_age=30,
       female_rr=1.4, loadings=(.2, 0, .35), specialty="orthopedics", office_px=[("20610", .3)], outpatient=("73562", .2)),
    _c("rheumatoid_arthritis", "Rheumatoid arthritis", [("M069", .6), ("M0579", .4)], (0, .003, .012, .02), CCW,
       min_age=18, female_rr=2.5, loadings=(0, 0, .25), specialty="rheumatology", office_px=[("86431", .5), ("85652", .5)]),
    _c("osteoporosis", "Osteoporosis", [("M810", 1)], (0, .001, .02, .08), CCW + "; " + NHANES, min_age=40,
       female_rr=4.0, loadings=(0, 0, .35), outpatient=("77080", .5)),
    _c("depression", "Depression", [("F329", .6), ("F331", .4)], (.03, .10, .11, .17), CCW + "; " + NSCH, min_age=10,
       female_rr=1.8, loadings=(0, .7, .15), specialty="psychiatry", office_px=[("90833", .6)]),
    _c("anxiety", "Anxiety disorder", [("F419", .6), ("F411", .4)], (.05, .11, .09, .08), NHIS + "; " + NSCH, min_age=5,
       female_rr=1.7, loadings=(0, .65, 0), specialty="psychiatry", office_px=[("90833", .5)]),
    _c("serious_mental_illness", "Bipolar disorder / schizophrenia", [("F319", .7), ("F209", .3)], (.002, .02, .02, .012),
       "NIMH", min_age=12, loadings=(0, .55, 0), specialty="psychiatry", office_px=[("90833", .7)]),
    _c("asthma", "Asthma", [("J4520", .5), ("J45909", .5)], (.065, .075, .085, .07), NHIS + "; " + NSCH, min_age=2,
       female_rr=1.3, loadings=(.1, 0, .3), specialty="pulmonology", office_px=[("94010", .4)]),
    _c("hypothyroidism", "Hypothyroidism", [("E039", 1)], (.002, .03, .08, .15), CCW, female_rr=4.0, min_age=1,
       loadings=(0, 0, .1), office_px=[("84443", .7)]),
    _c("iron_deficiency_anaemia", "Iron deficiency anaemia", [("D509", 1)], (.02, .03, .03, .07), CCW, female_rr=2.0,
       loadings=(0, 0, .35), office_px=[("85025", .8), ("83540", .4)]),
    _c("epilepsy", "Epilepsy", [("G40909", 1)], (.006, .008, .010, .012), "CDC epilepsy", specialty="neurology",
       outpatient=("95816", .2)),
    _c("hiv", "HIV disease", [("B20", 1)], (.0002, .004, .006, .002), "CDC HIV surveillance", female_rr=.3,
       specialty="infectious_disease", office_px=[("87536", .6), ("86361", .5)]),
    _c("hepatitis_c", "Chronic hepatitis C", [("B182", 1)], (0, .004, .008, .004), "CDC viral hepatitis", min_age=18,
       loadings=(0, .3, 0), specialty="gastroenterology", office_px=[("87522", .6), ("80076", .5)]),
    _c("peripheral_vascular", "Peripheral vascular disease", [("I739", 1)], (0, .001, .012, .05), CCW, min_age=30,
       loadings=(.4, 0, .2), specialty="cardiology", outpatient=("93923", .4)),
    _c("obesity", "Obesity (coded)", [("E669", .8), ("E6601", .2)], (.04, .10, .13, .10), NHANES, min_age=2,
       loadings=(.45, 0, 0), office_px=[("83036", .3)]),
    _c("sleep_apnea", "Obstructive sleep apnoea", [("G4733", 1)], (.002, .03, .08, .10), NHANES, min_age=2,
       female_rr=.5, loadings=(.4, 0, 0), specialty="pulmonology", outpatient=("95810", .3)),
    _c("gerd", "Gastro-oesophageal reflux disease", [("K219", 1)], (.01, .05, .10, .14), NHIS, min_age=1,
       loadings=(0, 0, .2), specialty="gastroenterology", outpatient=("43239", .15)),
    _c("gout", "Gout", [("M109", 1)], (0, .008, .03, .06), NHANES, min_age=18, female_rr=.35, loadings=(.35, 0, 0),
       office_px=[("84550", .6)]),
    _c("glaucoma", "Glaucoma", [("H409", 1)], (0, .002, .02, .08), CCW, min_age=30, specialty="ophthalmology",
       office_px=[("92083", .5)]),
    _c("bph", "Benign prostatic hyperplasia", [("N400", 1)], (0, .005, .08, .25), NHANES, sex="M", min_age=40,
       specialty="urology", office_px=[("84153", .5), ("51798", .3)]),
    _c("adhd", "Attention-deficit hyperactivity disorder", [("F909", 1)], (.09, .04, .012, .002), NSCH, min_age=4,
       female_rr=.45, loadings=(0, .35, 0), specialty="psychiatry", office_px=[("96127", .4)]),
    _c("autism", "Autism spectrum disorder", [("F840", 1)], (.025, .006, .001, 0), "CDC ADDM 2020", min_age=2,
       female_rr=.25, loadings=(0, .1, 0), specialty="pediatrics", office_px=[("97153", .5)]),
    _c("migraine", "Migraine", [("G43909", 1)], (.025, .09, .07, .025), NHIS, min_age=6, female_rr=2.5,
       loadings=(0, .25, 0), specialty="neurology", outpatient=("70551", .1)),
    _c("nicotine_dependence", "Nicotine dependence", [("F17210", 1)], (.002, .10, .11, .06), NHIS, min_age=14,
       loadings=(0, .4, .2), office_px=[("99406", .5)]),
    _c("alcohol_dependence", "Alcohol dependence", [("F1020", 1)], (0, .02, .02, .01), "NSDUH 2022", min_age=15,
       female_rr=.5, loadings=(0, .45, 0), specialty="psychiatry", office_px=[("80076", .4)]),
    _c("psoriasis", "Psoriasis", [("L409", 1)], (.003, .02, .03, .03), NHANES, specialty="dermatology"),
    # Rare tail: independent of the latent factors, at published low rates.
    _c("cystic_fibrosis", "Cystic fibrosis", [("E840", 1)], (.0003, .0002, .00005, .00001), "CF Foundation Registry 2022",
       specialty="pulmonology", office_px=[("94010", .8), ("87070", .5)], outpatient=("71046", .3)),
    _c("als", "Amyotrophic lateral sclerosis", [("G1221", 1)], (0, .00002, .00008, .0001), "CDC National ALS Registry",
       min_age=18, specialty="neurology", office_px=[("95886", .3)]),
    _c("hemophilia_a", "Haemophilia A", [("D66", 1)], (.0002, .0002, .0002, .0001), "CDC hemophilia", sex="M",
       specialty="hematology", office_px=[("85240", .7)]),
    _c("sickle_cell", "Sickle-cell disease", [("D571", 1)], (.0005, .0005, .0002, .0001), "CDC sickle cell disease",
       specialty="hematology", office_px=[("85025", .8)]),
    _c("multiple_sclerosis", "Multiple sclerosis (relapsing-remitting)", [("G35A", 1)], (.0001, .003, .005, .003),
       "National MS Society", min_age=10, female_rr=2.8, specialty="neurology", outpatient=("70553", .3)),
    _c("lupus", "Systemic lupus erythematosus", [("M329", 1)], (.0001, .0012, .0015, .001), "CDC lupus", female_rr=9.0,
       specialty="rheumatology", office_px=[("86038", .5)]),
    _c("crohns", "Crohn's disease", [("K5090", 1)], (.001, .003, .003, .002), "CDC IBD", specialty="gastroenterology",
       outpatient=("45378", .2)),
    _c("ulcerative_colitis", "Ulcerative colitis", [("K5190", 1)], (.0005, .003, .004, .004), "CDC IBD",
       specialty="gastroenterology", outpatient=("45378", .2)),
    _c("down_syndrome", "Down syndrome", [("Q909", 1)], (.0012, .0007, .0003, .0001), "CDC birth defects",
       specialty="pediatrics"),
    _c("myasthenia_gravis", "Myasthenia gravis", [("G7000", 1)], (0, .0001, .0002, .0004), "MGFA", min_age=18,
       specialty="neurology"),
    _c("huntington", "Huntington disease", [("G10", 1)], (0, .00004, .00008, .00005), "HDSA", min_age=18,
       specialty="neurology"),
    _c("duchenne", "Duchenne / Becker muscular dystrophy", [("G7101", 1)], (.0004, .0001, 0, 0), "CDC MD STARnet",
       sex="M", min_age=2, specialty="neurology", office_px=[("82550", .6)]),
    _c("gaucher", "Gaucher disease", [("E7522", 1)], (.00002, .00002, .00002, .00002), "NGF", specialty="hematology"),
    _c("pulmonary_hypertension", "Primary pulmonary hypertension", [("I270", 1)], (.00001, .00002, .00003, .00003),
       "PHA", specialty="cardiology", outpatient=("93306", .4)),
    _c("sarcoidosis", "Sarcoidosis", [("D869", 1)], (0, .0004, .0006, .0004), "FSR", min_age=18,
       specialty="pulmonology", outpatient=("71250", .3)),
)
CONDITION_KEYS = tuple(c.key for c in CONDITION_TARGETS)
RARE_PREVALENCE = .002  # a condition below this share in every band belongs to the rare tail
RARE = tuple(max(c.prevalence) < RARE_PREVALENCE for c in CONDITION_TARGETS)
# Codes that replace a condition's own code when a comorbidity is present (ICD-10-CM guideline I.C.9.a:
# hypertension with heart failure / CKD is coded as hypertensive heart / kidney disease; I.C.4.a: diabetes
# with CKD as diabetic CKD) and with peripheral vascular disease as diabetic peripheral angiopathy (E11.51 /
# E10.51 replace I73.9); unspecified dementia with depression / anxiety as F03.93 / F03.94 (FY2023 codes).
# The first rule that matches wins.
COMBINATION_CODES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "hypertension": ((("heart_failure", "ckd"), "I130"), (("heart_failure",), "I110"), (("ckd",), "I129")),
    "diabetes_t2": ((("ckd",), "E1122"), (("peripheral_vascular",), "E1151")),
    "diabetes_t1": ((("peripheral_vascular",), "E1051"),),
    "peripheral_vascular": ((("diabetes_t1",), "E1051"), (("diabetes_t2",), "E1151")),
    "dementia": ((("depression",), "F0393"), (("anxiety",), "F0394")),
}
COMBINATION_KEEPS = {"dementia": "G309"}  # variants a combination rule leaves alone (Alzheimer's keeps G30.9)
