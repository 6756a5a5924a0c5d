"""Deterministic detectors a clinical documentation reviewer would run: each reads the note TEXT against the
CLAIM (codes, procedures, age, sex, setting, specialty, stay) and names the sentence it objects to.

One detector per defect kind (`KINDS`). Word lists are the judge's own (`lexicon`), so a detector does not know
how the note was written; vitals are parsed from the text (`vitals.parse_vitals`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.phi import phi_kinds, scan_phi
from synth_ehr_assets.core.narratives.vitals import FEVER_C, HYPOXEMIA_SPO2, hypotension_sbp, norms, parse_vitals

KINDS = ("code_title", "plan_age", "plan_acuity", "plan_diagnosis", "plan_specialty", "symptom_diagnosis",
         "symptom_vitals", "distress_vitals", "followup_acuity", "dx_missing", "result_without_test", "px_missing",
         "ed_mdm", "inpatient_course", "demographics", "phi")
SECTION = re.compile(r"^([A-Z][A-Za-z ]{2,30}):\s*(.*)$")
SPLIT = re.compile(r"(?<=[A-Za-z)%\]][.;!?])\s+|(?<=;)\s+")
CODE_IN_TEXT = re.compile(r"\(\s*[A-Z]\d[0-9A-Z]{1,2}(?:\.[0-9A-Z]{1,4})?\s*\)")
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10, "eleven": 11, "twelve": 12, "a": 1}
UNIT_DAYS = {"h": 1 / 24, "hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}
INTERVAL = re.compile(r"\b(?:return|follow(?:[- ]up)?|recheck|see|visit|back|review)\b[^.;]*?\b(?:in|within)\s+"
                      r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a)\s*"
                      r"(h|hours?|days?|weeks?|months?|years?)\b", re.I)
STAY = re.compile(r"(\d+)-day stay|hospital day (\d+)|stay of (\d+) days?|on day (\d+)|length of stay (?:of )?(\d+)",
                  re.I)
WELL = re.compile(r"no acute distress|\bNAD\b|in no (?:apparent )?distress|\bno distress\b|\bcomfortable\b|"
                  r"well-appearing|not toxic", re.I)


@dataclass(frozen=True)
class Finding:
    kind: str
    sentence: str
    reason: str


@dataclass(frozen=True)
class Note:
    """A note split for reading: (section, sentence) pairs in order; section '' before any heading."""

    text: str
    sentences: tuple[tuple[str, str], ...]

    def of(self, *sections: str) -> list[str]:
        return [s for name, s in self.sentences if not sections or name in sections]

    def joined(self, *sections: str) -> str:
        return " ".join(self.of(*sections))


def read(text: str) -> Note:
    out, section = [], ""
    for line in text.splitlines():
        match = SECTION.match(line.strip())
        if match:
            section, line = match.group(1).lower(), match.group(2)
        out += [(section, s.strip()) for s in SPLIT.split(line) if s.strip()]
    return Note(text, tuple(out))


CLAUSE = re.compile(r"[,;:]| but ")


@lru_cache(maxsize=100_000)
def _clauses(sentence: str) -> tuple[str, ...]:
    return tuple(CLAUSE.split(sentence))


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.I)


def asserted(pattern: str | re.Pattern, sentence: str) -> bool:
    """The pattern occurs in a clause of the sentence without a negation before it."""
    pattern = pattern if isinstance(pattern, re.Pattern) else _compiled(pattern)
    if pattern.search(sentence) is None:
        return False
    for clause in _clauses(sentence):
        match = pattern.search(clause)
        if match and not lx.NEGATION.search(clause[: match.start()]):
            return True
    return False


def _prefix_value(table: Mapping[str, str], code: str, default: str | None = None) -> str | None:
    for length in range(len(code), 0, -1):
        if code[:length] in table:
            return table[code[:length]]
    return default


PARENTHESES = re.compile(r"\([^)]*\)|\[[^]]*\]")
TOKEN = re.compile(r"[a-z0-9]+")
TITLE_FILLER = frozenset({"unspecified", "other", "classified", "elsewhere", "not", "specified"})


def _norm(text: str) -> str:
    """Words of a text for title matching: lower case, parentheses and ICD filler words dropped."""
    return " ".join(w for w in TOKEN.findall(PARENTHESES.sub(" ", text.lower())) if w not in TITLE_FILLER)


@lru_cache(maxsize=1)
def _titles() -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """Chapter-R titles of four words or more, keyed by their first four words."""
    from synth_ehr_assets.core.codes import icd10cm_catalog

    catalog = icd10cm_catalog()
    index: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for description in catalog.filter(catalog["code"].str.starts_with("R"))["description"].to_list():
        words = tuple(_norm(description).split())
        if len(words) >= 4:
            index.setdefault(words[:4], []).append(words)
    return index


def _has_title(sentence: str, extra: Sequence[tuple[str, ...]] = ()) -> bool:
    words = _norm(sentence).split()
    titles = _titles()
    for i in range(len(words) - 3):
        key = tuple(words[i:i + 4])
        for title in titles.get(key, ()):
            if tuple(words[i:i + len(title)]) == title:
                return True
        for title in extra:
            if key == title[:4] and tuple(words[i:i + len(title)]) == title:
                return True
    return False


def code_title(note: Note, claim: Mapping, dx: Sequence[str], describe) -> list[Finding]:
    """ICD-10-CM title wording as patient language: coding idioms anywhere, chapter-R or claim-code titles in
    the history, findings and plan."""
    own = [tuple(_norm(describe(c) or "").split()) for c in dx]
    own = [t for t in own if len(t) >= 8]  # long claim titles are pasted, short ones are how clinicians speak
    found, idioms = [], lx.CODE_IDIOMS.search(CODE_IN_TEXT.sub("", note.text)) is not None
    for section, sentence in note.sentences:
        plain = CODE_IN_TEXT.sub("", sentence) if "(" in sentence else sentence
        if idioms and lx.CODE_IDIOMS.search(plain):
            found.append(Finding("code_title", sentence, "coding idiom in prose"))
        elif section not in ("assessment",) and _has_title(plain, own):
            found.append(Finding("code_title", sentence, "ICD-10-CM title used as note wording"))
    return found


def plans(note: Note, claim: Mapping, dx: Sequence[str]) -> list[Finding]:
    """Plan wording against age, acuity, diagnosis and the billing specialty."""
    found = []
    age, plan = claim.get("age"), note.of("plan", "hospital course", "discharge", "medical decision making")
    for sentence in plan:
        if age is not None and age >= 18 and lx.PEDIATRIC_PLAN.search(sentence):
            found.append(Finding("plan_age", sentence, f"pediatric plan for a {age}-year-old"))
        if age is not None and age < 12 and asserted(lx.ADULT_PLAN, sentence):
            found.append(Finding("plan_age", sentence, f"adult plan for a {age}-year-old"))
        if age is not None and age < 40 and lx.OLDER_PLAN.search(sentence):
            found.append(Finding("plan_age", sentence, f"geriatric plan for a {age}-year-old"))
    emergency = dx[0].startswith(lx.EMERGENCY)
    ed = claim.get("claim_type") == "outpatient" and any(str(p).startswith("9928") for p in _px(claim))
    for sentence in note.of():
        if (emergency or ed or claim.get("claim_type") == "inpatient") and lx.OFFICE_MANAGEMENT.search(sentence):
            found.append(Finding("plan_acuity", sentence, "office management for an acute hospital-level problem"))
    if emergency and not lx.HOSPITAL_WORDS.search(note.text):
        found.append(Finding("plan_acuity", note.of("plan")[0] if note.of("plan") else note.text[:80],
                             f"{dx[0]} needs hospital care; the note never admits, transfers or refers to the ED"))
    viral = any(c.startswith(lx.VIRAL) for c in dx) and not any(c.startswith(lx.BACTERIAL) for c in dx)
    for sentence in plan:
        if viral and asserted(lx.ANTIBIOTIC, sentence):
            found.append(Finding("plan_diagnosis", sentence, "antibiotics for a viral illness"))
    suicidal = any(asserted(lx.SUICIDAL, s) for s in note.of("subjective", "assessment", ""))
    for sentence in note.of():
        if suicidal and lx.NO_RISK.search(sentence):
            found.append(Finding("plan_diagnosis", sentence, "suicidal thoughts reported, yet no risk recorded"))
    own = lx.SPECIALTIES.get(claim.get("provider_specialty") or "")
    if own:
        refer = re.compile(rf"(?:refer\w*|consult\w*)\s+(?:to\s+)?(?:the\s+)?(?:{own})|(?:{own})\w*\s+(?:referral|"
                           rf"consult)", re.I)
        for sentence in plan:
            if refer.search(sentence):
                found.append(Finding("plan_specialty", sentence, "the billing specialty refers to itself"))
    return found


def _px(claim: Mapping) -> list[str]:
    return [str(claim[f"px_{i}"]) for i in range(1, 7) if claim.get(f"px_{i}")]


def _systems(dx: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for code in dx:
        out.update((_prefix_value(lx.DX_SYSTEMS, code, "general") or "").split())
    return out


def symptom_diagnosis(note: Note, claim: Mapping, dx: Sequence[str]) -> list[Finding]:
    """A reported symptom that none of the claim's diagnoses explains (by body system), or one the patient's
    age or sex rules out."""
    systems, found, age, sex = _systems(dx), [], claim.get("age"), claim.get("sex")
    for sentence in note.of("subjective"):
        for match, (pattern, where) in _matches(sentence, lx.SYMPTOMS, _symptom_anchors()):
            start = max(sentence.rfind(c, 0, match.start()) for c in ",;:")
            if lx.NEGATION.search(sentence[start + 1:match.start()]):
                continue
            if "infant" in where and age is not None and age >= 2 and not where & systems - {"infant"}:
                found.append(Finding("symptom_diagnosis", sentence, f"infant symptom at age {age}"))
            elif where != lx.GENERAL_OK and not where & systems:
                found.append(Finding("symptom_diagnosis", sentence,
                                     f"symptom '{match.group(0)}' fits none of {list(dx)}"))
        if sex == "F" and re.search(r"urine stream|prostat|testic|erectile", sentence, re.I):
            found.append(Finding("symptom_diagnosis", sentence, "male-only symptom for a female patient"))
        if sex == "M" and re.search(r"menstrua|vaginal|pelvic pain|breast lump", sentence, re.I):
            found.append(Finding("symptom_diagnosis", sentence, "female-only symptom for a male patient"))
    return found


def symptom_vitals(note: Note, claim: Mapping, vitals: Mapping[str, float]) -> list[Finding]:
    """Signs written in the note that its own vitals or exam contradict."""
    found, age = [], claim.get("age")
    _, hr_high, _, rr_high, _, _ = norms(age)
    told = note.of("subjective", "objective", "assessment", "")
    checks = (
        (r"\bfevers?\b|\bfebrile\b", "temp", lambda v: v >= FEVER_C, "fever with temperature {v:.1f} C"),
        (r"\bafebrile\b", "temp", lambda v: v < FEVER_C, "afebrile with temperature {v:.1f} C"),
        (r"tachycardi|fast heartbeat|racing heart|heart racing", "hr", lambda v: v > hr_high,
         "tachycardia with HR {v:.0f}"),
        (r"hypox|low oxygen|desaturat", "spo2", lambda v: v < HYPOXEMIA_SPO2, "hypoxemia with SpO2 {v:.0f}%"),
        (r"tachypn|rapid breathing|fast breathing", "rr", lambda v: v > rr_high, "tachypnea with RR {v:.0f}"),
        (r"hypotensi|low blood pressure", "sbp", lambda v: v < hypotension_sbp(age), "hypotension with SBP {v:.0f}"),
    )
    joined = " ".join(told)
    for pattern, name, holds, reason in checks:
        if name not in vitals or not _compiled(pattern).search(joined):
            continue
        for sentence in told:
            body = CODE_IN_TEXT.sub("", sentence)
            if asserted(pattern, body) and not holds(vitals[name]):
                found.append(Finding("symptom_vitals", sentence, reason.format(v=vitals[name])))
                break
    if vitals.get("sbp", 0) >= 140:
        for sentence in note.of("assessment"):
            if re.search(r"hypertensi", sentence, re.I) and asserted(r"at goal|controlled|stable", sentence):
                found.append(Finding("symptom_vitals", sentence, f"blood pressure called controlled at SBP "
                                                                 f"{vitals['sbp']:.0f}"))
                break
    exam = note.joined("objective").lower()
    if re.search(r"\b(?:bibasilar |scattered |diffuse |coarse )?(?:crackles|wheezes|rhonchi)\b", exam) and re.search(
            r"lungs clear|clear breath sounds", exam):
        where = next(s for s in note.of("objective") if re.search(r"lungs clear|clear breath sounds", s.lower()))
        found.append(Finding("symptom_vitals", where, "lung findings and 'lungs clear' in one exam"))
    for word, negated in (("murmur", r"no murmurs?|without murmurs?"), ("rash", r"no rash"),
                          ("edema", r"no (?:peripheral )?edema")):
        for sentence in note.of("subjective", "assessment"):
            if asserted(word if word != "edema" else r"edema|swelling of the (?:ankles|legs)|leg swelling", sentence) \
                    and re.search(negated, exam):
                found.append(Finding("symptom_vitals", sentence, f"{word} reported, exam says {negated}"))
                break
    return found


def distress_vitals(note: Note, claim: Mapping, vitals: Mapping[str, float]) -> list[Finding]:
    """'No acute distress'-style wording at vitals that mean distress."""
    _, _, _, rr_high, _, _ = norms(claim.get("age"))
    bad = []
    if vitals.get("spo2", 100) < HYPOXEMIA_SPO2:
        bad.append(f"SpO2 {vitals['spo2']:.0f}%")
    if vitals.get("rr", 0) >= rr_high + 4:
        bad.append(f"RR {vitals['rr']:.0f}")
    if vitals.get("sbp", 120) < hypotension_sbp(claim.get("age")):
        bad.append(f"SBP {vitals['sbp']:.0f}")
    if not bad:
        return []
    return [Finding("distress_vitals", s, f"no distress at {', '.join(bad)}") for s in note.of("objective")
            if asserted(WELL, s)][:1]


def _days(number: str, unit: str) -> float:
    value = float(WORDS.get(number.lower(), number)) if not number.isdigit() else float(number)
    unit = unit.lower().rstrip("s")
    return value * UNIT_DAYS["h" if unit in ("h", "hour") else unit]


def followup_acuity(note: Note, claim: Mapping, dx: Sequence[str]) -> list[Finding]:
    """Return intervals against the principal's acuity and setting, and intervals that contradict each other."""
    intervals = [(s, _days(m.group(1), m.group(2))) for s in note.of("plan", "discharge", "medical decision making")
                 for m in INTERVAL.finditer(s)]
    if not intervals:
        return []
    principal, kind, found = dx[0], claim.get("claim_type"), []
    ed = kind == "outpatient" and any(p.startswith("9928") for p in _px(claim))
    if kind == "inpatient" or ed or principal.startswith(lx.EMERGENCY):
        low, high, why = 0, 30 if kind == "inpatient" else 14, "after an acute hospital or ED visit"
    elif principal.startswith(("Z0000", "Z0001")):
        low, high, why = 90, 730, "for an annual examination"
    elif principal.startswith(("Z34", "O")):
        low, high, why = 3, 42, "for prenatal care"
    elif principal.startswith(lx.SELF_LIMITED):
        low, high, why = 0, 28, "for a self-limited acute problem"
    elif principal.startswith("Z"):
        low, high, why = 0, 730, "for a preventive visit"
    else:
        low, high, why = 7, 366, "for a stable chronic problem"
    for sentence, days in intervals:
        if not low <= days <= high:
            found.append(Finding("followup_acuity", sentence, f"{days:.0f} days {why}"))
    spans = [d for _, d in intervals]
    if len(spans) > 1 and max(spans) > 4 * max(min(spans), 0.5) and max(spans) > 14:
        found.append(Finding("followup_acuity", intervals[-1][0], "follow-up intervals contradict each other"))
    return found[:2]


def _concept_tokens(description: str) -> set[str]:
    text = re.sub(r"\([^)]*\)|\[[^]]*\]", " ", description.lower())
    text = re.sub(r"^(?:encounter for|personal history of)\s+", "", text)
    text = re.sub(r"\b(?:without|with|due to|in diseases|not|initial|subsequent|site not)\b.*$", " ", text) or text
    text = re.sub(r"\b(?:unspecified|other|specified|type|of|the|and|or|in|for|a|an|to|by|at|on|part|site|"
                  r"primary|essential|disease|disorder|single|episode|stage|native|organism|limb|malignant|uncomplicated)\b", " ",
                  text)
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", text)}


def dx_missing(note: Note, claim: Mapping, dx: Sequence[str], describe) -> list[Finding]:
    """Claim diagnoses the note never names (in words: a bare code in parentheses does not count)."""
    sentences = [CODE_IN_TEXT.sub("", s) for s in note.of()]
    bags = [{w[:-1] if len(w) > 4 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", s.lower())}
            for s in sentences]
    plain = " ".join(sentences)
    found = []
    for code in dx:
        synonym = _prefix_value(lx.SYNONYMS, code)
        if synonym and re.search(synonym, plain, re.I):
            continue
        wanted = _concept_tokens(describe(code) or "")
        if wanted and max((len(wanted & bag) / len(wanted) for bag in bags), default=0) >= 0.5:
            continue
        found.append(Finding("dx_missing", f"{code}: {describe(code)}", "claim diagnosis not addressed in the note"))
    return found


@lru_cache(maxsize=1)
def _tests() -> tuple[tuple[re.Pattern, frozenset[str]], ...]:
    return tuple((re.compile(p, re.I), frozenset(c)) for p, c in lx.TESTS.items())


def _anchor_index(patterns) -> dict[str, list[tuple[str, int]]]:
    """First three letters of each literal anchor → (anchor, row), for a word-start lookup."""
    index: dict[str, list[tuple[str, int]]] = {}
    for row, pattern in enumerate(patterns):
        for anchor in {a.strip() for a in lx.anchors(pattern)}:
            index.setdefault(anchor[:3], []).append((anchor, row))
    return index


@lru_cache(maxsize=1)
def _test_anchors() -> dict[str, list[tuple[str, int]]]:
    return _anchor_index(list(lx.TESTS))


@lru_cache(maxsize=1)
def _symptom_anchors() -> dict[str, list[tuple[str, int]]]:
    return _anchor_index([p.pattern for p, _ in lx.SYMPTOMS])


WORD_START = re.compile(r"\b\w")


def _matches(sentence: str, table, index):
    """(match, table row) for each row whose regex matches, trying only rows one of whose literal anchors
    starts a word of the sentence (every regex here matches from a word start)."""
    lowered, rows = sentence.lower(), set()
    for start in WORD_START.finditer(lowered):
        i = start.start()
        for anchor, row in index.get(lowered[i:i + 3], ()):
            if lowered.startswith(anchor, i):
                rows.add(row)
    for row in sorted(rows):
        for match in table[row][0].finditer(sentence):
            yield match, table[row]


@lru_cache(maxsize=1)
def _names_of_code() -> dict[str, tuple[re.Pattern, ...]]:
    out: dict[str, list[re.Pattern]] = {}
    for pattern, codes in _tests():
        for code in codes:
            out.setdefault(code, []).append(pattern)
    return {code: tuple(p) for code, p in out.items()}


def results_and_procedures(note: Note, claim: Mapping) -> list[Finding]:
    """A result with no billed test that produces it; a billed test or service the note never mentions."""
    billed, inpatient, found = set(_px(claim)), claim.get("claim_type") == "inpatient", []
    for sentence in note.of("objective", "assessment", "hospital course", "medical decision making"):
        if re.search(r"results? notable for|labs? (?:notable|show)", sentence, re.I) and not billed:
            found.append(Finding("result_without_test", sentence, "results reported but no test was billed"))
            continue
        for match, (pattern, codes) in _matches(sentence, _tests(), _test_anchors()):
            clause_start = max(sentence.rfind(";", 0, match.start()), 0)
            if not lx.RESULT_WORDS.search(sentence[match.end():match.end() + 60]):
                continue
            if codes & billed or (inpatient and not lx.BUNDLED_INPATIENT.search(match.group(0))):
                continue
            if re.search(r"\b(?:ordered|sent|pending|collected|drawn|planned|if)\b",
                         sentence[clause_start:match.end() + 40], re.I):
                continue
            found.append(Finding("result_without_test", sentence, f"{match.group(0)} result without a billed "
                                                                  f"test ({', '.join(sorted(codes))})"))
    text = CODE_IN_TEXT.sub("", note.text)
    for code in sorted(billed):
        service = lx.SERVICES.get(code)
        names = _names_of_code().get(code, ())
        if service is None and not names:
            continue  # E/M visits and codes the judge has no wording for
        if not any(p.search(text) for p in names) and not (service and re.search(service, text, re.I)):
            found.append(Finding("px_missing", code, "billed procedure not mentioned in the note"))
    return found


def ed_mdm(note: Note, claim: Mapping) -> list[Finding]:
    """An ED visit's medical decision making must be written and match the billed E/M level."""
    from synth_ehr_assets.core.narratives.orders import ED_LEVELS

    levels = [ED_LEVELS[p] for p in _px(claim) if p in ED_LEVELS]
    if not levels or claim.get("claim_type") != "outpatient":
        return []
    mdm = note.of("medical decision making", "mdm") + [s for s in note.of() if re.search(
        r"decision making|\bMDM\b|complexity", s, re.I)]
    if not mdm:
        return [Finding("ed_mdm", note.text[:80], f"ED visit billed at {levels[0]} MDM without decision making")]
    stated = re.search(r"\b(straightforward|minimal|low|moderate|high)\b", " ".join(mdm), re.I)
    said = {"minimal": "straightforward"}.get(stated.group(1).lower(), stated.group(1).lower()) if stated else None
    if said != levels[0]:
        return [Finding("ed_mdm", mdm[0], f"MDM written as {said}, billed as {levels[0]}")]
    return []


def inpatient_course(note: Note, claim: Mapping) -> list[Finding]:
    """Inpatient claims need a hospital course and discharge matching the stay and the DRG's severity."""
    if claim.get("claim_type") != "inpatient":
        return []
    course = note.of("hospital course", "discharge")
    if not course:
        return [Finding("inpatient_course", note.text[:80], "inpatient claim without hospital course or discharge")]
    days = max(int(claim.get("los_days") or 1), 1)
    found = []
    for sentence in course:
        for match in STAY.finditer(sentence):
            stated = int(next(g for g in match.groups() if g))
            if stated != days:
                found.append(Finding("inpatient_course", sentence, f"stay of {stated} days, claim says {days}"))
    from synth_ehr_assets.core.narratives.hospital import drg_severity

    if drg_severity().get(str(claim.get("drg") or "")) == "mcc" and re.search(
            r"uncomplicated|no complications", " ".join(course), re.I):
        found.append(Finding("inpatient_course", course[-1], f"DRG {claim.get('drg')} is billed with an MCC"))
    return found[:2]


def demographics(note: Note, claim: Mapping) -> list[Finding]:
    from synth_ehr_assets.core.narratives.judge import demographic_issues

    return [Finding("demographics", note.text[:80], issue)
            for issue in demographic_issues(note.text, claim.get("age"), claim.get("sex"))]


def phi(note: Note) -> list[Finding]:
    hits = scan_phi(note.text)
    if not hits:
        return []
    where = next((s for _, s in note.sentences if hits[0].text in s), note.text[:80])
    return [Finding("phi", where, phi_kinds(hits))]


def detect(text: str, claim: Mapping, describe=None) -> list[Finding]:
    """Every finding of every detector for one note against its claim row."""
    if describe is None:
        from synth_ehr_assets.core.codes import describe
    dx = [claim[f"dx_{i}"] for i in range(1, 11) if claim.get(f"dx_{i}")]
    note = read(text)
    vitals = parse_vitals(note.joined("objective") or text)
    return [
        *code_title(note, claim, dx, describe), *plans(note, claim, dx), *symptom_diagnosis(note, claim, dx),
        *symptom_vitals(note, claim, vitals), *distress_vitals(note, claim, vitals),
        *followup_acuity(note, claim, dx), *dx_missing(note, claim, dx, describe),
        *results_and_procedures(note, claim), *ed_mdm(note, claim), *inpatient_course(note, claim),
        *demographics(note, claim), *phi(note),
    ]
