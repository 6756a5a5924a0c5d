"""The judge's own clinical word lists: what a reviewer looks for in any note, whoever wrote it.

Nothing here is read by the design engine: symptoms and the body systems they belong to, the systems each
ICD-10-CM code prefix involves, names of tests and procedures with the billing codes that produce them, plan
wording that suits only some ages, acuity of diagnoses, and short names clinicians use for diagnoses.
"""

from __future__ import annotations

import re

# symptom wording (regex) -> body systems it can come from
SYMPTOMS: tuple[tuple[re.Pattern, frozenset[str]], ...] = tuple((re.compile(rf"\b(?:{p})", re.I), frozenset(s.split()))
                                                               for p, s in (
    (r"cough|sputum|mucus|wheez|chest congestion", "resp ent cardio"),
    (r"short(?:ness)? of breath|breathless|dyspnea|fast breathing|rapid breathing|winded", "resp cardio heme endo"),
    (r"chest (?:pain|tightness|pressure|soreness)|pressure-like chest|pleuritic", "cardio resp chest gi"),
    (r"palpitation|fast heartbeat|racing heart|heart racing|skipped beats", "cardio psych endo heme gi substance"),
    (r"(?:ankle|leg|feet|foot) swelling|swelling of the (?:ankles|legs|feet)|leg swelling|swelling of the leg",
     "cardio renal skin ankle"),
    (r"extra pillows|sleep upright|orthopnea", "cardio"),
    (r"calf cramping|claudication", "vascular"),
    (r"runny nose|nasal|congestion|sore throat|sinus|facial pressure|swallowing|snoring|hoarse", "ent resp"),
    (r"ear pain|hearing|ear drainage", "ent"),
    (r"red eye|eye redness|watery eyes|watery discharge|gritty", "eye"),
    (r"vision|eyelid", "eye neuro"),
    (r"abdominal|abdomen|belly|stomach|bloating|crampy", "gi gu ob metabolic"),
    (r"nausea|vomit", "gi ob metabolic neuro onc infect"),
    (r"diarrhea|loose stools|constipat|hard stools|straining|black stools|bloody stools|urgency to stool",
     "gi infect"),
    (r"heartburn|sour taste|reflux", "gi"),
    (r"urgency", "gu gi"),
    (r"burning with urination|urinary frequency|frequent urination|decreased urination|urinate|"
     r"urine stream|flank pain|blood in the urine", "gu endo renal"),
    (r"thirst", "endo metabolic"),
    (r"tingling|numbness|burning feet", "neuro endo"),
    (r"headache|head pain", "neuro ent head infect ob"),
    (r"dizz|lightheaded|unsteady|passing out|faint", "neuro cardio heme metabolic gi infect"),
    (r"weakness|trouble climbing|trouble swallowing|slurred speech|involuntary movements|tremor|droopy",
     "neuro substance infect"),
    (r"forgetful|confusion|memory", "neuro psych infect"),
    (r"low mood|hopeless|loss of interest|self-harm|suicid|worry|restless|anxiety|cravings|trouble cutting down|"
     r"trouble focusing|transitions", "psych substance"),
    (r"sweating", "psych substance cardio endo infect"),
    (r"poor sleep|trouble sleeping|daytime sleepiness", "psych neuro resp"),
    (r"rash|itch|skin redness|scaly|patches|red, warm|yellow skin|yellowing|bruising", "skin heme neonatal"),
    (r"joint|stiffness|big-toe|toe pain|bone pain", "msk heme"),
    (r"knee", "knee"), (r"ankle pain", "ankle"), (r"wrist", "wrist"), (r"hip pain|bear weight", "hip"),
    (r"back pain|back stiffness|the back and legs", "back heme"), (r"cut on|laceration", "hand skin"),
    (r"jaw", "jaw cardio"), (r"pain at the injury|injury site|after the fall", "injury"),
    (r"pain in the back and legs", "heme"),
    (r"colic", "infant"), (r"fussiness|poor feeding|poor weight gain", "infant resp"),
    (r"fever|chills", "infect"),
    (r"fatigue|tired|low energy|weak\b|malaise|body aches|poor appetite|decreased appetite|loss of appetite|"
     r"weight (?:gain|loss)|feeling cold|dry skin|decreased oral intake", "general"),
    (r"swelling of the hands and face", "ob"),
))
GENERAL_OK = frozenset({"general"})
# ICD-10-CM prefix -> systems; the longest listed prefix wins, chapters by first letter as a fallback.
DX_SYSTEMS: dict[str, str] = {
    "A": "infect general gi", "A0": "gi infect general", "A4": "infect general cardio neuro", "B": "infect general",
    "B18": "gi general", "B20": "infect general", "B34": "infect resp ent gi general",
    "C": "onc general gi resp", "C61": "onc gu", "D5": "heme general", "D57": "heme back", "D6": "heme skin",
    "D8": "resp heme general", "E0": "endo general", "E1": "endo metabolic general neuro renal gu",
    "E10": "endo metabolic gu general gi resp", "E11": "endo metabolic gu general gi resp",
    "E1151": "endo metabolic vascular gu general",
    "E66": "general resp", "E7": "endo general heme", "E78": "general", "E84": "resp gi general infant",
    "E86": "metabolic gi general", "F0": "neuro psych", "F1": "substance psych", "F2": "psych", "F3": "psych",
    "F4": "psych", "F8": "psych infant", "F9": "psych", "G": "neuro", "G47": "neuro resp ent psych",
    "G43": "neuro head gi", "G12": "neuro ent", "G70": "neuro eye", "G71": "neuro msk",
    "H0": "eye", "H1": "eye", "H4": "eye", "H6": "ent infect", "I1": "cardio renal", "I2": "cardio chest",
    "I27": "cardio resp", "I4": "cardio", "I5": "cardio resp renal",
    "I8": "vascular cardio ankle skin", "I6": "neuro", "I7": "vascular",
    "J": "resp ent infect", "J44": "resp", "J45": "resp", "K": "gi", "K35": "gi infect", "K80": "gi infect",
    "K92": "gi heme cardio", "L": "skin infect", "L40": "skin msk", "M": "msk", "M05": "msk", "M06": "msk",
    "M1": "msk knee hip", "M10": "msk", "M17": "msk knee", "M25": "msk", "M25561": "knee", "M32": "msk skin",
    "M54": "back msk", "M81": "msk back", "N": "gu renal general",
    "N2": "renal gu general ankle", "N0": "renal gu", "N1": "renal gu general", "N10": "gu renal infect back",
    "N17": "renal gu", "N18": "renal gu general", "N39": "gu infect", "N4": "gu", "O": "ob gi gu",
    "O14": "ob neuro head", "P": "infant skin neonatal", "Q90": "general", "R0": "resp cardio chest",
    "R07": "chest cardio resp gi", "R10": "gi gu", "R42": "neuro cardio", "R50": "infect general infant",
    "R51": "neuro head", "R55": "neuro cardio", "S0": "injury head neuro", "S5": "injury wrist",
    "S6": "injury hand skin", "S7": "injury hip", "S9": "injury ankle", "U07": "infect resp ent general gi",
    "S": "injury msk skin", "T": "injury general", "T36": "general neuro gi cardio", "T8": "general injury skin",
    "W": "injury", "Z00": "", "Z3": "ob", "Z51": "onc general gi", "Z86": "neuro",
}
# Tests, images and procedures: name (regex) -> billing codes that produce it.
TESTS: dict[str, tuple[str, ...]] = {
    r"a1c": ("83036",), r"lipid panel|\bLDL\b|triglycerides": ("80061",),
    r"metabolic panel|\bglucose\b \d|(?<!to-)creatinine|potassium|\beGFR\b": ("80048", "80053", "80069"),
    r"renal function panel": ("80069",), r"hepatic function|\bALT\b|\bAST\b|liver enzymes": ("80076", "80053"),
    r"urinalysis|leukocyte esterase|nitrites|pyuria": ("81003",), r"pregnancy test": ("81025",),
    r"urine albumin|albumin-to-creatinine": ("82043",), r"\bCEA\b": ("82378",), r"creatine kinase": ("82550",),
    r"serum iron|iron studies": ("83540",), r"\bBNP\b": ("83880",), r"\bPSA\b": ("84153",), r"\bTSH\b": ("84443",),
    r"troponin": ("84484",), r"uric acid": ("84550",),
    r"complete blood count|\bCBC\b|hemoglobin \d|white count": ("85025",), r"factor VIII": ("85240",),
    r"\bINR\b": ("85610",), r"sedimentation rate|\bESR\b": ("85652",), r"\bANA\b": ("86038",),
    r"CD4": ("86361",), r"rheumatoid factor": ("86431",), r"sputum culture|prior cultures": ("87070",),
    r"urine culture": ("87086",), r"hepatitis C (?:RNA|viral load)": ("87522",),
    r"HIV (?:RNA|viral load)": ("87536",), r"COVID-19 PCR|SARS-CoV-2": ("87635",),
    r"(?:rapid )?influenza test": ("87804",), r"strep test": ("87880",), r"Pap smear": ("88175",),
    r"chest X-ray|chest radiograph": ("71046",), r"chest CT": ("71250",), r"head CT": ("70450",),
    r"brain MRI|MRI of the brain": ("70551", "70553", "B030ZZZ"), r"lumbar spine X-ray": ("72100",),
    r"lumbar spine MRI": ("72148",), r"wrist X-ray": ("73110",), r"knee X-ray": ("73562",),
    r"ankle X-ray": ("73610",), r"CT of the abdomen": ("74177",), r"renal ultrasound": ("76770",),
    r"first-trimester ultrasound|obstetric ultrasound": ("76801", "76805"), r"mammogram": ("77067",),
    r"DXA|bone density": ("77080",), r"\bECG\b|\bEKG\b|electrocardiogram|cardiac monitoring": ("93000", "4A02X4Z"),
    r"stress test": ("93015", "93017"), r"echocardiogram": ("93306", "B246ZZZ"), r"carotid duplex": ("93880",),
    r"ankle-brachial": ("93923",), r"spirometry": ("94010",), r"sleep study|\bAHI\b": ("95810",),
    r"\bEEG\b": ("95816",), r"\bEMG\b|nerve conduction": ("95886",), r"visual field": ("92083",),
    r"post-void residual": ("51798",), r"colonoscopy": ("45378", "45380"),
    r"upper endoscopy|\bEGD\b": ("43239", "0DJ08ZZ"), r"catheterization": ("4A023N7",),
    r"angiography": ("B2111ZZ",),
}
RESULT_WORDS = re.compile(r"\b(?:shows?|showed|with|negative|positive|normal|unremarkable|within|without|elevated|"
                          r"rising|low|high|stable|detected|undetectable|grew|reveal\w*|demonstrat\w*|\d)", re.I)
BUNDLED_INPATIENT = re.compile(r"colonoscopy|endoscopy|EGD|catheterization|angiography", re.I)
# Other billed services: code -> what the note must say about them.
SERVICES: dict[str, str] = {
    "36415": r"venipuncture|blood draw|drawn|labs?\b|panel|blood count|a1c", "90460": r"vaccine|immuniz",
    "90471": r"vaccine|immuniz", "90686": r"influenza vaccine|flu (?:shot|vaccine)",
    "90656": r"influenza vaccine|flu (?:shot|vaccine)", "90662": r"influenza vaccine|flu (?:shot|vaccine)",
    "G0008": r"vaccine|immuniz", "90700": r"DTaP",
    "90707": r"MMR", "90744": r"hepatitis B vaccine", "90715": r"Tdap", "90734": r"MenACWY|meningococcal",
    "90651": r"HPV", "99406": r"tobacco|smoking cessation",
    "90833": r"psychotherapy", "96127": r"screening|questionnaire|PHQ|scale", "96116": r"neurobehavioral|cognitive",
    "97153": r"adaptive behavior|behavior analysis|\bABA\b", "96413": r"chemotherapy|infusion",
    "96402": r"hormonal|injection", "20610": r"joint inject|injected|aspirat", "12002": r"repair|sutur",
    "25600": r"splint|cast|fracture care", "10E0XZZ": r"vaginal delivery", "10D00Z1": r"cesarean",
    "3E0234Z": r"hepatitis B vaccine|vaccine", "0VTTXZZ": r"circumcision", "0SRC0J9": r"knee arthroplasty|knee "
    r"replacement", "0QS604Z": r"internal fixation|ORIF", "0DTJ4ZZ": r"appendectomy", "0FT44ZZ": r"cholecystectomy",
    "5A1935Z": r"mechanical ventilation|intubat", "5A09357": r"CPAP|BiPAP|noninvasive", "02HV33Z": r"central "
    r"(?:venous catheter|line)", "3E03317": r"thromboly|alteplase|tPA", "30233N1": r"transfusion",
    "5A1D70Z": r"dialysis", "3E04305": r"chemotherapy", "GZ3ZZZZ": r"medication management",
    "HZ2ZZZZ": r"detox|withdrawal", "4A023N7": r"catheterization", "B2111ZZ": r"angiograph",
}
# Diagnoses that need hospital-level care, and acute ones followed up within weeks (judge's acuity).
EMERGENCY = ("A40", "A41", "I21", "I22", "I60", "I61", "I62", "I63", "E1010", "E1011", "E1110", "E1111", "K35",
             "K800", "K920", "K921", "K922", "N17", "J441", "J4521", "J45901", "I5021", "I5023", "I5031", "I5033",
             "S72", "D570", "F1023", "N10", "F322", "F332")
SELF_LIMITED = ("J0", "J1", "J20", "J21", "J22", "J440", "H10", "H6", "A0", "B0", "B3", "U07", "N30", "N39", "L0", "L2",
                "L30", "M25", "M545", "K590", "S", "T", "R", "E86", "P59")
VIRAL = ("J00", "J06", "J09", "J10", "J11", "J20", "J21", "B34", "U07", "A08")
BACTERIAL = ("J01", "J02", "J13", "J15", "J18", "J44", "N10", "N39", "L03", "H66", "A41", "K35", "K80", "E84",
             # other codes antibiotics treat: sepsis, organisms, aspiration, abscesses, bone, joint, device and
             # wound infections, influenza with pneumonia, C. difficile
             "A40", "A49", "A047", "B95", "B96", "R652", "J69", "J85", "J86", "J100", "J110", "K57", "K61", "K65",
             "K81", "K830", "L02", "L08", "M00", "M86", "N30", "N41", "N7", "T814", "T826", "T827", "T835", "T845",
             "T857", "I33", "G00")
ANTIBIOTIC = re.compile(r"antibiotic|amoxicillin|azithromycin|doxycycline|cephalexin|ceftriaxone|cefazolin|"
                        r"penicillin|levofloxacin|nitrofurantoin|clindamycin|trimethoprim", re.I)
PEDIATRIC_PLAN = re.compile(r"developmental|well-child|growth chart|growth and development|anticipatory guidance|"
                            r"DTaP|\bMMR\b|car seat|school (?:accommodations|supports)|vaccines per schedule", re.I)
ADULT_PLAN = re.compile(r"smoking cessation|tobacco cessation|nicotine replacement|mammogra|colonoscopy|\bPSA\b|"
                        r"bone density|\bDXA\b|10-year cardiovascular risk|driving", re.I)
OLDER_PLAN = re.compile(r"fall[- ](?:precaution|prevention|risk)|advance care planning|caregiver support|"
                        r"home safety", re.I)
OFFICE_MANAGEMENT = re.compile(r"managed in (?:the )?clinic|outpatient management|routine follow-up|"
                               r"no further work-?up|return to (?:the )?clinic in \w+ (?:weeks|months)", re.I)
HOSPITAL_WORDS = re.compile(r"admi(?:t|ssion)|hospital|emergency department|\bED\b|transfer|inpatient|\bICU\b", re.I)
SUICIDAL = re.compile(r"suicid|thoughts of (?:self-harm|killing|dying)|wants to die", re.I)
NO_RISK = re.compile(r"no acute risk|low risk|no safety concerns", re.I)
NEGATION = re.compile(r"\b(?:no|denies|denied|without|negative for|not|absent|resolved|if|unless|only|avoid|"
                      r"return precautions|precautions|worsening|watch for)\b", re.I)
SPECIALTIES = {
    "cardiology": "cardiolog", "nephrology": "nephrolog", "endocrinology": "endocrin", "pulmonology": "pulmon",
    "neurology": "neurolog", "oncology": "oncolog", "urology": "urolog", "orthopedics": "orthop",
    "rheumatology": "rheumatolog", "psychiatry": "psychiatr", "gastroenterology": "gastroenterolog|\\bGI\\b",
    "infectious_disease": "infectious disease", "ophthalmology": "ophthalmolog", "dermatology": "dermatolog",
    "hematology": "hematolog", "obstetrics_gynecology": "obstetric|gynecolog",
}
# Names clinicians use for a diagnosis besides the words of its title (prefix -> regex).
SYNONYMS: dict[str, str] = {
    "F02": r"dementia", "O995": r"respiratory", "O9928": r"endocrine|metabolic", "O996": r"digestive", "O9935": r"neurolog|nervous system",
    "I10": r"hypertension|high blood pressure|\bHTN\b", "I1": r"hypertensi", "I25": r"coronary|\bCAD\b|ischemic heart",
    "I21": r"NSTEMI|myocardial infarction|heart attack", "I48": r"atrial fibrillation|\bAF(?:ib)?\b",
    "I50": r"heart failure|\bCHF\b|HFrEF|HFpEF", "I63": r"stroke|cerebral infarction", "I73": r"peripheral arter",
    "E78": r"lipid|cholesterol", "E11": r"type 2 diabetes|\bT2DM\b", "E10": r"type 1 diabetes|\bT1DM\b",
    "E1010": r"ketoacidosis|\bDKA\b", "E1110": r"ketoacidosis|\bDKA\b", "E66": r"obes", "J44": r"COPD|chronic obstructive",
    "J45": r"asthma", "K21": r"GERD|reflux", "N18": r"chronic kidney|\bCKD\b", "F90": r"ADHD|attention",
    "F84": r"autis", "G4733": r"sleep apnea|\bOSA\b", "F17": r"tobacco|smok|nicotine", "F10": r"alcohol",
    "F03": r"dementia", "G30": r"Alzheimer", "F32": r"depress", "F33": r"depress", "F41": r"anxiety",
    "Z3A": r"weeks gestation|weeks pregnant", "W19": r"\bfall\b", "Z00": r"physical|check-up|health exam|"
    r"medical exam|well(?:-child)? (?:visit|exam)", "Z8673": r"(?:TIA|stroke)", "J06": r"upper respiratory|\bURI\b",
    "S525": r"radius fracture|wrist fracture", "S720": r"hip fracture|femoral neck", "S934": r"ankle sprain",
    "H66": r"otitis media|ear infection", "N39": r"urinary tract infection|\bUTI\b", "B20": r"\bHIV\b",
    "D57": r"sickle", "B34": r"viral", "L03": r"cellulitis", "J18": r"pneumonia", "Z12": r"screening",
    "Z13": r"screening", "K59": r"constipation",
    "Z23": r"immuniz|vaccin", "Z9282": r"\btPA\b|alteplase|thromboly",
    "R651": r"\bSIRS\b|systemic inflammatory response", "R652": r"sepsis|septic shock", "G35": r"multiple sclerosis|\bMS\b", "G12": r"\bALS\b|amyotrophic",
    "Z5111": r"chemotherapy", "O80": r"delivery", "Z37": r"live birth|liveborn", "Z38": r"liveborn|newborn",
    "O34": r"cesarean", "O32": r"breech", "Z34": r"pregnan|prenatal", "K80": r"cholecystitis|gallstone",
    "C50": r"breast cancer", "C18": r"colon cancer", "C34": r"lung cancer", "C61": r"prostate cancer",
    "O24": r"diabet", "O10": r"hypertensi",
    "M81": r"osteoporosis", "D66": r"hemophilia|factor VIII", "O14": r"pre-?eclampsia", "K92": r"bleed|hemorrhage",
}
CODE_IDIOMS = re.compile(r"\bunspecified\b|not elsewhere classified|classified elsewhere|\bNEC\b|other specified|"
                         r"initial encounter|subsequent encounter|\bsequela\b|site not specified|without complications|"
                         r"\((?:adult|pediatric)\)|\bencounter for\b|abnormal (?:findings|results) (?:on|of|in)|"
                         r"in specimens from", re.I)


def anchors(pattern: str) -> tuple[str, ...]:
    """Lower-case literal pieces of a regex such that any match contains at least one of them (a fast
    substring pre-check before the regex runs); empty when a branch has no usable literal."""
    text = re.sub(r"\(\?<!?[^)]*\)|\(\?:[^()]*\)\?|\(\?:|\\[bdwsBDWS]|.\?|\\.|\[[^]]*\][*+?]?", "\0", pattern)
    out = []
    for fragment in text.split("|"):
        pieces = [p for p in re.split(r"[()\[\]?*+.^${}\0]", fragment) if p.strip()]
        if not pieces:
            return ()
        out.append(max(pieces, key=len).lower())
    return tuple(out)
# Exam wording only a talking patient earns (not an infant or toddler).
VERBAL = re.compile(r"\bconversant\b|conversational|speaking in full sentences|answers questions|talkative|"
                    r"oriented (?:x ?3|times three|to person, place and time)|fluent speech", re.I)
# Vaccines given: (pattern, youngest age in years it is given, oldest, unless the sentence says why).
VACCINE_AGES = (
    (re.compile(r"\bMMR\b|measles", re.I), 1, 200, re.compile(r"travel|early dose|outbreak", re.I)),
    (re.compile(r"\bvaricella vaccine|chickenpox vaccine", re.I), 1, 200, None),
    (re.compile(r"\bhepatitis A vaccine", re.I), 1, 200, re.compile(r"travel", re.I)),
    (re.compile(r"\bDTaP\b", re.I), 0, 6, None),
    (re.compile(r"\bTdap\b", re.I), 7, 200, None),
    (re.compile(r"\bHPV vaccine", re.I), 9, 45, None),
    (re.compile(r"\bzoster vaccine|shingles vaccine|\bShingrix\b", re.I), 50, 200, re.compile(r"immunocomprom", re.I)),
)
GIVEN = re.compile(r"\b(?:given|administered|injected|received|today|dose)\b", re.I)
# Diabetes type named in a note, and which claim codes settle it (prefix -> type).
DIABETES_WORDS = {"1": re.compile(r"type 1 diabet|\bT1DM\b", re.I), "2": re.compile(r"type 2 diabet|\bT2DM\b", re.I),
                  "gestational": re.compile(r"gestational diabet|\bGDM\b", re.I),
                  "pre": re.compile(r"pre-?existing (?:type \d )?diabet", re.I)}
DIABETES_TYPES = {"E10": "1", "O240": "1", "E11": "2", "O241": "2", "O244": "gestational", "Z8632": "gestational",
                  "O243": "pre", "O248": "pre", "E08": "pre", "E09": "pre", "E13": "pre"}
HISTORY_OF = re.compile(r"(?:personal|family|past medical) history of\s*$|risk of\s*$", re.I)
# Chronic, stable conditions that do not "complicate" a hospital stay.
STABLE_CHRONIC = re.compile(r"hyperlipid|cholesterol|dyslipid|(?<!pulmonary )(?<!portal )\bhypertension\b|obesity|"
                            r"overweight|hypothyroid|tobacco|nicotine|smok|osteoarthritis|\bGERD\b|reflux|allerg|"
                            r"\bgout\b|prostatic hyperplasia|osteoporosis|glaucoma|migraine|anxiety|dementia|ADHD|"
                            r"autis|history of|hearing loss|cataract", re.I)
# Office E/M level (2021 AMA office guidelines: the level follows medical decision making) and the wording that
# supports more than a low level: a problem that is worse, several problems, or a severe one.
OFFICE_LEVELS = {"99202": "straightforward", "99212": "straightforward", "99203": "low", "99213": "low",
                 "99204": "moderate", "99214": "moderate", "99205": "high", "99215": "high"}
PROGRESSION = re.compile(r"above goal|not at goal|above target|elevated today|\bworse\b|worsening|uncontrolled|"
                         r"poorly controlled|progress(?:ing|ion)|exacerbat|flare|systemic symptoms|intensified|"
                         r"adjusted|side effects", re.I)
SEVERE = re.compile(r"emergency|admission|admit|hospital|severe|potentially serious|threat|intensive monitoring",
                    re.I)
STABLE_VISIT = re.compile(r"no new complaints|doing well|feeling about the same|symptoms are stable|feels well|"
                          r"no concerns", re.I)
