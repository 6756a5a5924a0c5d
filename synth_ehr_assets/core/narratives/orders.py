"""Billed procedures in a note's words: what each test, image, vaccine or procedure is called, and its result.

`Order.result(dx, rng)` picks the result a clinician would expect for the claim's diagnoses (the first listed
diagnosis prefix that matches, else the normal result); `{low-high}` in a template is drawn in that range with
the template's decimals. E/M codes are not orders: they set the visit type and, in the ED, the MDM level.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

ED_LEVELS = {"99281": "straightforward", "99282": "straightforward", "99283": "low", "99284": "moderate",
             "99285": "high"}
OFFICE_LEVELS = {"99202": "straightforward", "99212": "straightforward", "99203": "low", "99213": "low",
                 "99204": "moderate", "99214": "moderate", "99205": "high", "99215": "high"}
OFFICE_VISITS = set(OFFICE_LEVELS)
PREVENTIVE_VISITS = {f"993{n}{m}" for n in "89" for m in "1234567"}
_RANGE = re.compile(r"\{(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\}")


@dataclass(frozen=True)
class Order:
    kind: str  # lab, imaging, cardiac, test, procedure, vaccine, counseling, therapy
    name: str
    normal: str = ""  # result when nothing in the claim points elsewhere ("" = no result reported)
    abnormal: dict[str, str] = field(default_factory=dict)  # dx prefix -> result

    def result(self, dx: Sequence[str], rng) -> str:
        text = next((r for prefix, r in self.abnormal.items() for code in dx if code.startswith(prefix)),
                    self.normal)
        return _RANGE.sub(lambda m: _draw(m, rng), text)


def _draw(match: re.Match, rng) -> str:
    low, high = match.group(1), match.group(2)
    decimals = len(low.split(".")[1]) if "." in low else 0
    return f"{rng.uniform(float(low), float(high)):.{decimals}f}"


def _o(kind, name, normal="", **abnormal) -> Order:
    return Order(kind, name, normal, {k.replace("_", "."): v for k, v in abnormal.items()})


ORDERS: dict[str, Order] = {
    "36415": _o("procedure", "venipuncture"),
    "80048": _o("lab", "basic metabolic panel", "basic metabolic panel within normal limits",
                E11="basic metabolic panel with glucose {160-240} mg/dL, otherwise unremarkable"),
    "80053": _o("lab", "comprehensive metabolic panel", "comprehensive metabolic panel unremarkable",
                E11="comprehensive metabolic panel with glucose {150-230} mg/dL", R10="comprehensive metabolic "
                "panel with normal liver enzymes and lipase", N18="comprehensive metabolic panel with creatinine "
                "{1.5-2.4} mg/dL"),
    "80061": _o("lab", "lipid panel", "lipid panel with LDL {88-128} mg/dL",
                E78="lipid panel with LDL {132-188} mg/dL and triglycerides {150-260} mg/dL"),
    "80069": _o("lab", "renal function panel", "renal function panel normal",
                N184="renal function panel with eGFR {16-28} and potassium {4.6-5.3}",
                N18="renal function panel with eGFR {32-58} mL/min"),
    "80076": _o("lab", "hepatic function panel", "hepatic function panel within normal limits",
                B182="hepatic function panel with ALT {48-96} U/L", F10="hepatic function panel with AST {52-110} "
                "U/L and ALT {36-70} U/L"),
    "81003": _o("lab", "urinalysis", "urinalysis negative for leukocyte esterase and nitrites",
                N39="urinalysis positive for leukocyte esterase and nitrites", N10="urinalysis with pyuria"),
    "81025": _o("lab", "urine pregnancy test", "urine pregnancy test positive"),
    "82043": _o("lab", "urine albumin", "urine albumin-to-creatinine ratio {8-26} mg/g",
                E1122="urine albumin-to-creatinine ratio {60-280} mg/g", N18="urine albumin-to-creatinine ratio "
                "{45-240} mg/g"),
    "82378": _o("lab", "CEA level", "CEA {1.2-3.4} ng/mL", C18="CEA {4.8-9.5} ng/mL"),
    "82550": _o("lab", "creatine kinase", "creatine kinase normal", G710="creatine kinase {2100-9800} U/L"),
    "83036": _o("lab", "hemoglobin A1c", "hemoglobin A1c {5.0-5.6}%", E1165="hemoglobin A1c {8.4-10.6}%",
                E10="hemoglobin A1c {7.2-8.8}%", E11="hemoglobin A1c {6.6-7.9}%", O24="hemoglobin A1c {5.4-6.1}%"),
    "83540": _o("lab", "serum iron", "serum iron normal", D50="serum iron low at {22-45} mcg/dL"),
    "83880": _o("lab", "BNP", "BNP {40-90} pg/mL", I50="BNP {320-980} pg/mL", I11="BNP {280-760} pg/mL",
                I13="BNP {300-820} pg/mL"),
    "84153": _o("lab", "PSA", "PSA {0.6-2.8} ng/mL", C61="PSA {0.2-1.4} ng/mL on treatment",
                N40="PSA {1.6-3.6} ng/mL"),
    "84443": _o("lab", "TSH", "TSH {1.2-3.4} mIU/L", E03="TSH {2.1-4.6} mIU/L on levothyroxine"),
    "84484": _o("lab", "troponin", "troponin negative", I21="troponin elevated and rising"),
    "84550": _o("lab", "uric acid", "uric acid {4.2-6.0} mg/dL", M10="uric acid {6.2-7.8} mg/dL"),
    "85025": _o("lab", "complete blood count", "complete blood count within normal limits",
                D50="complete blood count with hemoglobin {9.2-10.8} g/dL and low MCV",
                D57="complete blood count with hemoglobin {7.6-9.2} g/dL", C="complete blood count with white count "
                "{3.6-5.8} and hemoglobin {10.6-12.4} g/dL", R10="complete blood count with a normal white count"),
    "85240": _o("lab", "factor VIII activity", "factor VIII activity low, consistent with known hemophilia"),
    "85610": _o("lab", "INR", "INR {0.9-1.1}", I48="INR {2.1-2.9} on warfarin"),
    "85652": _o("lab", "sedimentation rate", "sedimentation rate normal", M0="sedimentation rate {28-46} mm/h"),
    "86038": _o("lab", "ANA", "ANA negative", M32="ANA positive at 1:{320-640}"),
    "86361": _o("lab", "CD4 count", "CD4 count {520-860} cells/uL"),
    "86431": _o("lab", "rheumatoid factor", "rheumatoid factor negative", M05="rheumatoid factor positive",
                M06="rheumatoid factor {18-64} IU/mL"),
    "87070": _o("lab", "sputum culture", "", E84="sputum culture sent; prior cultures grew Pseudomonas"),
    "87086": _o("lab", "urine culture", "", N39="urine culture sent"),
    "87522": _o("lab", "hepatitis C viral load", "hepatitis C RNA detected"),
    "87536": _o("lab", "HIV viral load", "HIV RNA undetectable"),
    "87635": _o("lab", "COVID-19 PCR", "COVID-19 PCR negative", U071="COVID-19 PCR positive"),
    "87804": _o("lab", "rapid influenza test", "rapid influenza test negative", J11="rapid influenza test positive"),
    "87880": _o("lab", "rapid strep test", "rapid strep test negative"),
    "88175": _o("lab", "Pap smear", "", Z124="Pap smear collected"),
    "71046": _o("imaging", "chest X-ray", "chest X-ray without acute cardiopulmonary process",
                J18="chest X-ray with right lower lobe consolidation", J209="chest X-ray without infiltrate",
                E84="chest X-ray with bronchiectatic changes", J44="chest X-ray with hyperinflation"),
    "71250": _o("imaging", "chest CT", "chest CT without acute findings", D86="chest CT with bilateral hilar "
                "lymphadenopathy"),
    "70450": _o("imaging", "head CT", "head CT without acute intracranial abnormality"),
    "70551": _o("imaging", "brain MRI", "brain MRI without acute abnormality", G30="brain MRI with generalized "
                "volume loss", F03="brain MRI with chronic small-vessel changes", G43="brain MRI unremarkable"),
    "70553": _o("imaging", "brain MRI with contrast", "brain MRI without enhancing lesions",
                G35="brain MRI with stable periventricular white-matter lesions and no new enhancement"),
    "72100": _o("imaging", "lumbar spine X-ray", "lumbar spine X-ray with mild degenerative changes"),
    "72148": _o("imaging", "lumbar spine MRI", "lumbar spine MRI with a mild disc bulge at L4-L5 without "
                "nerve root compression"),
    "73110": _o("imaging", "wrist X-ray", "wrist X-ray without fracture", S525="wrist X-ray with a nondisplaced "
                "distal radius fracture"),
    "73562": _o("imaging", "knee X-ray", "knee X-ray without fracture", M17="knee X-ray with medial joint-space "
                "narrowing and osteophytes"),
    "73610": _o("imaging", "ankle X-ray", "ankle X-ray without fracture"),
    "74177": _o("imaging", "CT of the abdomen and pelvis", "CT of the abdomen and pelvis without acute findings"),
    "76770": _o("imaging", "renal ultrasound", "renal ultrasound without hydronephrosis",
                N18="renal ultrasound with small echogenic kidneys"),
    "76801": _o("imaging", "first-trimester ultrasound", "first-trimester ultrasound with a single live "
                "intrauterine pregnancy"),
    "76805": _o("imaging", "obstetric ultrasound", "obstetric ultrasound with normal growth and fluid"),
    "77067": _o("imaging", "screening mammogram", "screening mammogram BI-RADS 1, negative"),
    "77080": _o("imaging", "DXA scan", "DXA scan with a T-score of -{1.0-2.4}", M81="DXA scan with a lowest "
                "T-score of -{2.5-3.4}"),
    "93000": _o("cardiac", "ECG", "ECG with normal sinus rhythm", I48="ECG with atrial fibrillation, rate "
                "{72-96}", I21="ECG with ST depressions in the lateral leads", I25="ECG with sinus rhythm and "
                "old Q waves", R42="ECG with sinus rhythm and no ischemic changes"),
    "93015": _o("cardiac", "exercise stress test", "exercise stress test without ischemic changes"),
    "93017": _o("cardiac", "exercise stress test tracing", "stress test tracing without ischemic changes"),
    "93306": _o("cardiac", "echocardiogram", "echocardiogram with normal ejection fraction",
                I5022="echocardiogram with ejection fraction {28-38}%", I5032="echocardiogram with preserved "
                "ejection fraction and diastolic dysfunction", I509="echocardiogram with ejection fraction "
                "{35-45}%", I270="echocardiogram with elevated pulmonary artery pressure", I48="echocardiogram "
                "with a mildly dilated left atrium"),
    "93880": _o("cardiac", "carotid duplex", "carotid duplex with less than 50% stenosis bilaterally"),
    "93923": _o("cardiac", "ankle-brachial index", "ankle-brachial index {0.92-1.1}", I73="ankle-brachial index "
                "{0.62-0.84}"),
    "94010": _o("test", "spirometry", "spirometry normal", J44="spirometry with FEV1/FVC {0.52-0.66}",
                J45="spirometry with reversible obstruction", E84="spirometry with FEV1 {58-78}% predicted"),
    "95810": _o("test", "sleep study", "sleep study with an AHI of {18-36} events per hour"),
    "95816": _o("test", "EEG", "EEG without epileptiform discharges"),
    "95886": _o("test", "EMG and nerve conduction study", "EMG with diffuse denervation"),
    "92083": _o("test", "visual field test", "visual field test stable compared with prior"),
    "51798": _o("test", "post-void residual", "post-void residual {60-140} mL"),
    "45378": _o("procedure", "colonoscopy", "colonoscopy to the cecum without polyps",
                K50="colonoscopy with patchy ileal inflammation", K51="colonoscopy with mild distal colitis"),
    "45380": _o("procedure", "colonoscopy with biopsy", "colonoscopy with one small polyp removed by biopsy "
                "forceps, pathology pending"),
    "43239": _o("procedure", "upper endoscopy with biopsy", "upper endoscopy with mild erythema of the distal "
                "esophagus, biopsies taken"),
    "20610": _o("procedure", "knee joint injection", "knee joint injected with corticosteroid without "
                "complication"),
    "12002": _o("procedure", "simple laceration repair", "laceration repaired with simple sutures"),
    "25600": _o("procedure", "closed fracture care", "fracture placed in a sugar-tong splint"),
    "96413": _o("therapy", "chemotherapy infusion", "chemotherapy infused without reaction"),
    "96402": _o("therapy", "hormonal anticancer injection", "hormonal injection given without reaction"),
    "96116": _o("test", "neurobehavioral status exam", "neurobehavioral exam with deficits in recall and "
                "executive function"),
    "96127": _o("test", "standardized behavioral screening", "standardized screening scored and reviewed"),
    "97153": _o("therapy", "adaptive behavior treatment", "adaptive behavior session completed"),
    "90833": _o("therapy", "psychotherapy", "30 minutes of supportive psychotherapy provided"),
    "99406": _o("counseling", "tobacco cessation counseling", "tobacco cessation counseling, 3-10 minutes"),
    "90460": _o("vaccine", "vaccine counseling", "vaccine counseling given to the parent"),
    "90471": _o("vaccine", "vaccine administration", "vaccine given intramuscularly"),
    "G0008": _o("vaccine", "influenza vaccine administration", "vaccine given intramuscularly"),  # Medicare's 90471
    "90686": _o("vaccine", "influenza vaccine", "influenza vaccine given"),
    "90662": _o("vaccine", "high-dose influenza vaccine", "high-dose influenza vaccine given"),
    "90656": _o("vaccine", "influenza vaccine", "preservative-free influenza vaccine given"),
    "90700": _o("vaccine", "DTaP vaccine", "DTaP vaccine given"),
    "90707": _o("vaccine", "MMR vaccine", "MMR vaccine given"),
    "90744": _o("vaccine", "hepatitis B vaccine", "hepatitis B vaccine given"),
    "90715": _o("vaccine", "Tdap vaccine", "Tdap vaccine given"),
    "90734": _o("vaccine", "meningococcal conjugate vaccine", "MenACWY vaccine given"),
    "90651": _o("vaccine", "HPV vaccine", "9-valent HPV vaccine given"),
}
# Vaccines routinely given from 12 months: under a year only as an early dose before international travel (from
# 6 months, not counted toward the routine series), which is how a note documents one.
INFANT_EARLY_DOSE = {"90707": "early MMR dose given before international travel"}
# ICD-10-PCS procedures of inpatient stays, as a hospital course names them.
PCS: dict[str, str] = {
    "10E0XZZ": "spontaneous vaginal delivery", "10D00Z1": "low transverse cesarean delivery",
    "3E0234Z": "hepatitis B vaccine given", "0VTTXZZ": "circumcision", "0SRC0J9": "right total knee arthroplasty",
    "0QS604Z": "open reduction and internal fixation of the right hip", "0DTJ4ZZ": "laparoscopic appendectomy",
    "0FT44ZZ": "laparoscopic cholecystectomy", "5A1935Z": "mechanical ventilation for less than 24 hours",
    "5A09357": "CPAP support", "02HV33Z": "central venous catheter placement",
    "3E03317": "IV thrombolysis", "0DJ08ZZ": "upper endoscopy", "30233N1": "red blood cell transfusion",
    "5A1D70Z": "hemodialysis", "3E04305": "chemotherapy through a central line", "GZ3ZZZZ": "medication management",
    "HZ2ZZZZ": "medically supervised detoxification", "B246ZZZ": "echocardiogram",
    "4A023N7": "left heart catheterization", "B2111ZZ": "coronary angiography", "B030ZZZ": "brain MRI",
    "4A02X4Z": "continuous cardiac monitoring",
}
