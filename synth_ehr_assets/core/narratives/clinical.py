"""Clinical knowledge of the design engine: one `Profile` per condition group and, where it matters, per code.

A profile holds what a clinician knows about a diagnosis, in the words a note uses: a short clinical label (not
the ICD-10-CM title), acuity (acute, chronic, preventive, prenatal, emergency), lay symptom phrases each with the
vital sign it implies, exam findings, plan items by age band, the specialty a referral goes to, and an onset
pattern. `profile(code)` looks a code up by its longest listed prefix, then by its condition group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from synth_ehr_assets.core.narratives.groups import condition_group

# Implied signs: F fever (T >= 38.0 C), T tachycardia, H hypoxemia (SpO2 < 92%), R tachypnea, B hypotension.
SIGNS = ("F", "T", "H", "R", "B")
BANDS = {"p": "pediatric", "a": "adult", "g": "geriatric"}  # plan items may add "i" (inpatient only), "o" (not)
ACUITIES = ("acute", "chronic", "preventive", "prenatal", "emergency")


@dataclass(frozen=True)
class Profile:
    acuity: str
    symptoms: tuple[tuple[str, str], ...] | None = ()  # (lay phrase, implied sign or ""); None: the group's
    exam: tuple[str, ...] = ()
    plan: tuple[tuple[str, str], ...] = ()  # (plan item, age bands it suits: "pag")
    referral: str | None = None  # specialty a referral for this problem goes to
    label: str | None = None  # None: the cleaned code description
    onset: str = ""  # "sudden" | "gradual" | "" (by acuity)
    bp: tuple[int, int] | None = None  # systolic range when the condition raises it


def band(age: int | None) -> str:
    """p (under 18), a (18-64) or g (65 and over)."""
    return "a" if age is None else "p" if age < 18 else "g" if age >= 65 else "a"


def _p(acuity, symptoms=None, exam=(), plan=(), referral=None, label=None, onset="", bp=None) -> Profile:
    parsed = None if symptoms is None else tuple((s.split("|")[0], s.split("|")[1] if "|" in s else "")
                                                 for s in symptoms)
    plans = tuple((p.split("|")[0], p.split("|")[1] if "|" in p else "pag") for p in plan)
    return Profile(acuity, parsed, tuple(exam), plans, referral, label, onset, bp)


GROUPS: dict[str, Profile] = {  # a group without listed symptoms has none
    "sepsis": _p("emergency", ["fever and shaking chills|F", "feeling very weak", "confusion", "lightheadedness|B"],
                 ["warm extremities with delayed capillary refill", "dry mucous membranes"],
                 ["blood cultures before antibiotics", "broad-spectrum IV antibiotics", "IV fluid resuscitation",
                  "serial lactate and strict intake and output"], onset="sudden"),
    "infection": _p("acute", ["fever|F", "body aches", "fatigue", "chills"], ["mild dehydration"],
                    ["supportive care with fluids and rest", "antipyretics as needed"], referral="infectious disease"),
    "neoplasm": _p("chronic", ["fatigue", "poor appetite", "unintended weight loss"],
                   ["no palpable lymphadenopathy"], ["continue the current oncologic treatment plan",
                   "symptom management and nutrition support", "review restaging imaging"], referral="oncology"),
    "hematologic": _p("chronic", ["fatigue", "low energy", "shortness of breath with exertion"],
                      ["pale conjunctivae", "no hepatosplenomegaly"], ["repeat blood counts",
                      "continue current hematologic therapy"], referral="hematology"),
    "thyroid": _p("chronic", ["fatigue", "feeling cold", "mild weight gain", "dry skin"],
                  ["thyroid non-tender without nodules"], ["continue levothyroxine", "levothyroxine dose guided by TSH"],
                  referral="endocrinology"),
    "diabetes": _p("chronic", ["increased thirst", "frequent urination", "fatigue"],
                   ["monofilament sensation intact in both feet", "no foot ulcers"],
                   ["continue metformin|ag", "review the glucose log", "dietary counseling and daily foot care",
                    "annual dilated eye exam|ag", "insulin dose review with the family|p"], referral="endocrinology"),
    "cystic_fibrosis": _p("chronic", ["chronic productive cough", "more mucus than usual", "poor weight gain"],
                          ["scattered coarse crackles", "digital clubbing"],
                          ["airway clearance therapy twice daily", "sputum culture",
                           "pancreatic enzyme replacement with meals"], referral="pulmonology"),
    "lipids": _p("chronic", (), ["no xanthomas"], ["continue statin therapy|ag", "heart-healthy diet and exercise",
                 "10-year cardiovascular risk reviewed|ag", "dietary counseling with the family|p"],
                 referral="cardiology"),
    "nutrition": _p("chronic", ["weight gain", "low energy", "snoring"], ["central adiposity"],
                    ["nutrition and activity goals reviewed", "dietitian referral"]),
    "metabolic": _p("chronic", ["fatigue"], (), ["basic metabolic panel", "medication and fluid review"],
                    referral="endocrinology"),
    "substance": _p("chronic", ["cravings", "trouble cutting down"], ["no signs of intoxication or withdrawal"],
                    ["motivational counseling", "pharmacotherapy options discussed"], referral="addiction medicine"),
    "mental": _p("chronic", ["low mood", "poor sleep", "trouble concentrating"],
                 ["speech normal in rate and volume", "thought process linear"],
                 ["continue the current medication", "psychotherapy", "safety plan reviewed"], referral="psychiatry"),
    "nervous": _p("chronic", ["fatigue"], ["cranial nerves grossly intact", "strength symmetric"],
                  ["continue current neurologic medications", "fall-precaution counseling|g"], referral="neurology"),
    "eye": _p("acute", ["eye redness", "watery eyes"], ["conjunctival injection"], ["lubricating eye drops"],
              referral="ophthalmology"),
    "ear": _p("acute", ["ear pain", "fever|F", "decreased hearing"], ["erythematous bulging tympanic membrane"],
              ["amoxicillin course", "analgesia with ibuprofen or acetaminophen"], referral="otolaryngology"),
    "hypertension": _p("chronic", (), ["regular rate and rhythm", "no peripheral edema"],
                       ["continue antihypertensive therapy", "home blood pressure log", "low-sodium diet"],
                       referral="cardiology", bp=(136, 156)),
    "ischemic_heart": _p("chronic", ["chest tightness with exertion", "shortness of breath with exertion"],
                         ["regular rate and rhythm", "no murmurs"],
                         ["continue aspirin and statin", "sublingual nitroglycerin as needed"], referral="cardiology"),
    "heart_failure": _p("chronic", ["shortness of breath with exertion", "ankle swelling", "needing extra pillows"],
                        ["trace bilateral ankle edema", "no jugular venous distension"],
                        ["daily weights", "continue the diuretic", "sodium and fluid restriction"],
                        referral="cardiology"),
    "heart": _p("chronic", ["palpitations", "fatigue"], ["irregularly irregular rhythm"],
                ["rate control", "anticoagulation reviewed"], referral="cardiology"),
    "cerebrovascular": _p("emergency", ["sudden weakness on one side", "slurred speech"], ["focal weakness"],
                          ["antiplatelet therapy", "high-intensity statin", "physical and speech therapy"],
                          referral="neurology", onset="sudden"),
    "vascular": _p("chronic", ["calf cramping when walking"], ["diminished distal pulses"],
                   ["walking program", "risk-factor control"], referral="vascular surgery"),
    "upper_respiratory": _p("acute", ["runny nose", "sore throat", "cough", "nasal congestion"],
                            ["nasal mucosa congested", "lungs clear"],
                            ["supportive care with fluids and rest", "saline nasal rinses", "honey for cough|ag"]),
    "pneumonia": _p("acute", ["productive cough", "fever|F", "shortness of breath|R", "pleuritic chest pain"],
                    ["crackles at the right base"], ["amoxicillin or doxycycline course|ao", "amoxicillin course|po",
                    "azithromycin with amoxicillin-clavulanate|go", "IV ceftriaxone and azithromycin|pagi",
                    "supplemental oxygen to keep saturation above 92%|pagi", "incentive spirometry|ag"]),
    "chronic_lung": _p("chronic", ["shortness of breath with exertion", "wheezing", "cough"],
                       ["scattered expiratory wheezes"], ["continue inhaled therapy", "inhaler technique reviewed"],
                       referral="pulmonology"),
    "respiratory": _p("chronic", ["shortness of breath with exertion", "cough"], ["decreased breath sounds"],
                      ["continue current therapy"], referral="pulmonology"),
    "digestive": _p("chronic", ["abdominal discomfort", "bloating"], ["abdomen soft, non-distended"],
                    ["dietary modification"], referral="gastroenterology"),
    "skin": _p("acute", ["itchy rash", "skin redness"], ["erythematous patches"], ["topical therapy"],
               referral="dermatology"),
    "musculoskeletal": _p("chronic", ["joint pain", "morning stiffness"], ["tenderness over the affected joints"],
                          ["acetaminophen or topical NSAID", "physical therapy referral"], referral="orthopedics"),
    "kidney": _p("chronic", ["fatigue", "ankle swelling"], ["trace ankle edema"],
                 ["renal function panel", "avoid NSAIDs and other nephrotoxic drugs", "blood pressure control"],
                 referral="nephrology"),
    "urinary": _p("acute", ["burning with urination", "urinary frequency", "urgency", "lower abdominal pain"],
                  ["mild suprapubic tenderness", "no costovertebral angle tenderness"],
                  ["nitrofurantoin course|ago", "cephalexin course|po", "increase fluid intake"]),
    "genital": _p("chronic", ["getting up at night to urinate"], (), ["watchful waiting"], referral="urology"),
    "pregnancy": _p("prenatal", ["nausea"], ["fundal height appropriate for dates", "fetal heart tones present"],
                    ["prenatal vitamins", "routine prenatal labs"], referral="obstetrics"),
    "perinatal": _p("acute", ["yellowing of the skin"], ["mild jaundice to the chest"],
                    ["frequent feeding", "bilirubin recheck"]),
    "congenital": _p("chronic", (), ["features consistent with the known condition"],
                     ["developmental and subspecialty follow-up|p", "adult congenital care coordination|ag"]),
    "symptom": _p("acute", (), (), ["targeted work-up", "symptomatic treatment"]),
    "injury": _p("acute", ["pain at the injury site", "swelling"], ["swelling and tenderness at the injury site",
                 "distal neurovascular status intact"], ["ice, elevation and analgesia"], referral="orthopedics",
                 onset="sudden"),
    "poisoning": _p("emergency", ["nausea", "drowsiness", "dizziness"], ["no focal neurologic deficits"],
                    ["poison control consulted", "observation with serial vital signs", "medication review"],
                    onset="sudden"),
    "care_complication": _p("acute", (), (), ["complication treated as below", "wound or device check"]),
    "encounter": _p("preventive", (), (), ["age-appropriate screening reviewed"]),
    "general": _p("chronic", (), (), ["continue current management"]),
}

GROUPS = {key: p if p.symptoms is not None else Profile(p.acuity, (), *_rest(p)) for key, p in GROUPS.items()}
_CLEAN = (r"\s*\([^)]*\)", r"\s*\[[^]]*\]", r",? part unspecified",
          r", unspecified(?: site| organism| type| ear| eye)?|\s+unspecified$",
          r",? not intractable", r",? without (?:complications|status \w+|esophagitis|angina pectoris)",
          r",? (?:initial|subsequent) encounter.*$", r", sequela.*$", r"^unspecified ", r",? site not specified",
          r",? (?:unspecified )?whether .*$", r",? (?:unspecified )?as to .*$", r",? not associated with .*$",
          r"\s+as the cause of diseases.*$", r"\s+in other conditions$", r" and disorders(?= of)",
          r",? uncomplicated", r",? in diseases classified elsewhere", r",? not elsewhere classified",
          r",? classified elsewhere", r",? whether with .*$", r"\s+without .*$", r"^encounter for ",
          r"^other (?:and unspecified )?(?:specified )?(?:forms of )?", r"\bother specified ",
          r",? as the place of occurrence of the external cause", r"^unspecified place in (?:other )?",
          r"\bunspecified (?!behavior)")
_REWORD = ((r"^malignant neoplasm of (?:the )?", "cancer of "), (r"\bunspecified behavior", "unknown behavior"),
           (r"^nontraumatic (\w+ hemorrhage) from ", r"\1 from the "),
           (r"^(acute|chronic) embolism and thrombosis of (?:deep |superficial )?veins of (?:the )?",
            r"\1 venous thrombosis of the "),
           (r"^(non-pressure chronic ulcer of )(?:(?:other )?part of )?(.+?) (?:limited to|with) .*$",
            r"\1the \2"),
           (r"^secondary (?:and )?malignant neoplasm of (?:the )?", "cancer metastatic to the "),
           (r"^(?:combined )?rheumatic disorders of (?:both )?(.+?) valves$", r"rheumatic \1 valve disease"),
           (r"^symptoms and signs (?:concerning|involving) (?:the )?(.+?)(?: system)?$", r"\1 symptoms and signs"))
LONG_LABEL = 8  # words: a title this long reads as pasted; it is cut at its last qualifier
QUALIFIER = re.compile(r",\s| with | due to | complicating | during | following | affecting | and other | of uncertain | "
                       r"in (?!situ)| of (?=(?:right|left|bilateral) )| of (?=[a-z-]+ type )|(?<=leukemia) of | "
                       r"not having", re.I)
# Chapter-R titles (signs and findings) read as coding language; a label keeps the finding's core words.
R_FILLER = re.compile(r"\b(?:nonspecific|other|levels of|finding of|findings of|of other|presenting)\s+", re.I)
# Titles of codes without a listed profile: an acute or life-threatening condition is not "stable on therapy".
ACUTE_TITLE = re.compile(r"\bacute\b|injury|fracture|poisoning|hemorrhage|perforation|obstruction|abscess|"
                         r"cellulitis|pneumonia|infection|delirium|dehydration|tamponade", re.I)
EMERGENCY_TITLE = re.compile(r"shock|sepsis|respiratory failure|infarction|embolism|cardiac arrest|encephalopathy|"
                             r"ketoacidosis|hepatic failure|status epilepticus", re.I)


def _rest(p: Profile) -> tuple:
    return p.exam, p.plan, p.referral, p.label, p.onset, p.bp


@lru_cache(maxsize=20_000)
def clean_label(description: str) -> str:
    """A code description in a clinician's words when no label is listed: ICD qualifiers dropped."""
    text = description
    for pattern in _CLEAN:
        text = re.sub(pattern, "", text, flags=re.I)
    for pattern, words in _REWORD:
        text = re.sub(pattern, words, text, flags=re.I)
    text = text.strip(" ,")
    while len(text.split()) >= LONG_LABEL:
        cut = [m.start() for m in QUALIFIER.finditer(text) if text[:m.start()].strip()]
        if not cut:
            break
        text = text[:cut[-1]].strip(" ,")
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


@lru_cache(maxsize=20_000)
def profile(code: str) -> Profile:
    """The code's profile: its longest listed prefix (`clinical_codes.CODES`), else its condition group's."""
    from synth_ehr_assets.core.narratives.clinical_codes import CODES

    for length in range(len(code), 2, -1):
        found = CODES.get(code[:length])
        if found is not None:
            base = GROUPS.get(condition_group(code).key, GROUPS["general"])
            return Profile(found.acuity, base.symptoms if found.symptoms is None else found.symptoms,
                           found.exam or base.exam,
                           found.plan or base.plan, found.referral or base.referral, found.label,
                           found.onset or base.onset, found.bp)  # an injury's onset is sudden, as its group's
    return _by_title(code, GROUPS.get(condition_group(code).key, GROUPS["general"]))


def _by_title(code: str, base: Profile) -> Profile:
    """A group profile whose acuity the code's own title overrides (acute, emergency) when it says so."""
    if code[0] in "OZVWXY" or base.acuity in ("emergency", "preventive", "prenatal"):
        return base
    from synth_ehr_assets.core.codes import describe

    title = describe(code) or ""
    found = "emergency" if EMERGENCY_TITLE.search(title) else "acute" if ACUTE_TITLE.search(title) else base.acuity
    if found == base.acuity:
        return base
    plan = tuple((text, bands) for text, bands in base.plan if not text.startswith("continue")) or \
        (("treatment as below", "pag"),)
    return Profile(found, base.symptoms, base.exam, plan, base.referral, base.label, base.onset, base.bp)


# Diagnoses that are themselves abnormal vital signs: the note's vitals show them (signs as in `SIGNS`).
SIGN_CODES = {"R000": "T", "I471": "T", "I472": "T", "I95": "B", "R57": "B", "R6521": "B", "R0902": "H",
              "J96": "H", "R50": "F", "R0682": "R"}


# Procedures that treat an abnormal vital sign: respiratory assistance (CPAP, BiPAP) and mechanical ventilation
# are given for hypoxemia, so the note's SpO2 shows it (a claims review read CPAP beside SpO2 98% on room air).
SIGN_PROCEDURES = {"5A09": "H", "5A19": "H"}


def implied_signs(dx, px=()) -> set[str]:
    """Signs the claim's diagnoses (`SIGN_CODES`) and procedures (`SIGN_PROCEDURES`) state."""
    return ({sign for code in dx for prefix, sign in SIGN_CODES.items() if code.startswith(prefix)}
            | {sign for code in px for prefix, sign in SIGN_PROCEDURES.items() if code.startswith(prefix)})


# O24 (diabetes in pregnancy): the 4th character says which diabetes, the 5th when (pregnancy, childbirth,
# puerperium), and O24.4's 6th how gestational diabetes is controlled.
O24_KIND = {"0": "pre-existing type 1 diabetes", "1": "pre-existing type 2 diabetes", "3": "pre-existing diabetes",
            "4": "gestational diabetes", "8": "pre-existing diabetes", "9": "diabetes"}
O24_WHEN = {"1": "in pregnancy", "2": "at delivery", "3": "postpartum"}
O24_CONTROL = {"0": ", diet controlled", "4": ", insulin controlled", "5": ", on oral medication"}


def _o24_label(code: str) -> str:
    kind = O24_KIND.get(code[3:4], "diabetes")
    when = O24_WHEN.get(code[4:5])
    control = O24_CONTROL.get(code[5:6], "") if code[3:4] == "4" else ""
    return f"{kind} {when}{control}" if when else f"{kind}{control}"


def label(code: str, description: str | None) -> str:
    """How a note names the diagnosis (weeks of gestation and diabetes in pregnancy spelled from the code)."""
    if code.startswith("Z3A"):
        weeks = int(code[3:5]) if code[3:5].isdigit() else 0
        return "less than 8 weeks gestation" if weeks < 8 else f"{weeks} weeks gestation"
    if code.startswith("O24"):
        return _o24_label(code)
    if code.startswith("R22") and description and "," in description:  # "Localized swelling, mass and lump, head"
        return f"a lump or swelling of the {description.rsplit(', ', 1)[1].replace('unspecified ', '')}"
    if code.startswith("R") and not profile(code).label:
        text = R_FILLER.sub("", clean_label(description or code))
        head, _, tail = text.partition(" with ")
        text = tail if len(tail.split()) >= 2 else head
        text = text.split(", ")[0] if len(text.split()) >= 4 else text
        pain = re.fullmatch(r"((?:\w+ ){2,})pain", text)  # "left upper quadrant pain" is the title itself
        return f"pain in the {pain.group(1).strip()}" if pain else text
    listed = profile(code).label
    return listed if listed else clean_label(description or code)


def acuity(code: str, claim_type: str | None) -> str:
    """Acuity of the principal diagnosis in its setting: an emergency profile seen in the office is acute."""
    found = profile(code).acuity
    return "acute" if found == "emergency" and claim_type == "professional" else found
