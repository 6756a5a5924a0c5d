"""PHI pattern scan of generated text: SSNs, phones, emails, MRN-like ids, dates of birth and real-looking names.

Synthetic notes must carry no identifiers at all, so the scan is deliberately eager on identifier shapes and
careful only where clinical text legitimately looks like one: disease eponyms (Crohn, Parkinson, Hodgkin ...),
vitals (`BP 132/84`), lab values and ICD codes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Common US given names and surnames (census-frequent). Given names that are also everyday English words
# ("Will", "May", "Grace", "Hope", "Mark", "Bill", "Art") are left out so sentences do not read as names.
GIVEN_NAMES = frozenset(
    """
    James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony
    Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob
    Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Patrick
    Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah
    Jeremy Christian Keith Roger Terry Austin Sean Gerald Carl Harold Dylan Arthur Lawrence Jordan Jesse Bryan
    Bruce Gabriel Logan Albert Willie Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Bobby
    Mason Philip Louis Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy
    Betty Sandra Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Dorothy
    Rebecca Sharon Laura Cynthia Amy Kathleen Angela Shirley Brenda Emma Anna Pamela Nicole Samantha Katherine
    Christine Helen Debra Rachel Carolyn Janet Maria Catherine Heather Diane Olivia Julie Joyce Victoria Ruth
    Virginia Lauren Kelly Christina Joan Evelyn Judith Andrea Hannah Megan Cheryl Jacqueline Martha Madison
    Teresa Gloria Sara Janice Ann Kathryn Abigail Sophia Frances Jean Alice Judy Isabella Julia Beverly Denise
    Marilyn Amber Danielle Brittany Diana Natalie Sophie Charlotte Marie Kayla Alexis Lori Mia Ava Harper
    Liam Lucas Oliver Aiden Carlos Luis Miguel Jorge Pedro Ana Rosa Carmen Juanita Guadalupe Wei Mohammed
    """.split()
)
SURNAMES = frozenset(
    """
    Smith Johnson Williams Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson
    Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson Harris Sanchez Clark Ramirez Lewis
    Robinson Walker Allen King Wright Scott Torres Nguyen Hill Flores Adams Nelson Baker Hall Rivera Campbell
    Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris
    Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox
    Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo
    Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
    Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham
    Reynolds Griffin Wallace West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray
    Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen
    Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Doe
    """.split()
)
# Disease and sign eponyms that follow titles or precede "disease"/"syndrome" in clinical text.
EPONYMS = frozenset(
    """
    Crohn Parkinson Alzheimer Hodgkin Graves Addison Cushing Hashimoto Bell Down Raynaud Sjogren Huntington
    Kaposi Guillain Barre Tourette Wilson Paget Barrett Meniere Marfan Reiter Kawasaki Behcet Still Whipple
    Hirschsprung Wernicke Korsakoff Osgood Schlatter Legg Perthes Tietze Dupuytren Peyronie Bright Buerger
    Takayasu Wegener Gilbert Lyme Ewing Wilms Burkitt Hurthle Baker Colles Bennett Monteggia Bankart Hill
    Sachs Tay Gaucher Niemann Pick Fabry Pompe Duchenne Becker Charcot Marie Tooth Lou Gehrig Asperger Rett
    Klinefelter Turner Edwards Patau Noonan Prader Willi Angelman Ehlers Danlos Stevens Johnson Mallory Weiss
    Zollinger Ellison Budd Chiari Arnold Dandy Walker Sturge Weber Von Willebrand Hippel Lindau Recklinghausen
    Apgar Glasgow Babinski Kernig Brudzinski Murphy Romberg Homan Homans Tinel Phalen Lachman McMurray Spurling
    Trendelenburg Rovsing McBurney Cullen Grey Virchow Osler Janeway Roth Kussmaul Cheyne Stokes Korotkoff
    """.split()
)

_CAP = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
PATTERNS: dict[str, re.Pattern] = {
    "ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b|\b(?:SSN|social security(?: number)?)\s*[:#]?\s*\d{9}\b", re.I),
    "email": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "phone": re.compile(r"(?<![\d/])(?:\+?1[-. ]?)?\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b"),
    "mrn": re.compile(
        r"\b(?:MRN|medical record(?: number| no\.?)?|record (?:number|no\.?|#)|patient (?:id|number)|"
        r"account (?:number|no\.?|#)|acct)\s*[:#]?\s*[A-Z0-9][A-Z0-9-]{3,}\b"
        r"|(?<![\w.])#\s?\d{5,}\b|(?<![\w./-])\d{7,}(?![\w/-])",
        re.I,
    ),
    "dob": re.compile(
        r"\b(?:DOB|D\.O\.B\.|date of birth|birth ?date|born(?: on)?)\s*[:\-]?\s*"
        r"(?:\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|" + _MONTH + r"\.? \d{1,2},? \d{4}|\d{1,2} " + _MONTH + r"\.? \d{4})",
        re.I,
    ),
    "date": re.compile(
        r"(?<![\d/.-])(?:\d{1,2}[/-]\d{1,2}[/-](?:19|20)\d{2}|(?:19|20)\d{2}-\d{2}-\d{2})(?![\d/.-])"
        r"|\b" + _MONTH + r"\.? \d{1,2}(?:st|nd|rd|th)?,? (?:19|20)\d{2}\b"
        r"|\b\d{1,2} " + _MONTH + r"\.? (?:19|20)\d{2}\b"
    ),
    "titled_name": re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+(" + _CAP + r")(?:\s+(" + _CAP + r"))?"),
    # Lookahead so "Patient John Smith" still yields the overlapping pair "John Smith".
    "name": re.compile(r"\b(?=(" + _CAP + r")\s+((?:[A-Z]\.\s+)?" + _CAP + r")\b)"),
}
_EPONYM_FOLLOWERS = re.compile(r"^(?:'s|’s|s')?\s*(?:disease|syndrome|sign|test|palsy|lymphoma|sarcoma|tumou?r|"
                               r"esophagus|fracture|cyst|phenomenon|reflex|maneuver|score|scale|classification)\b",
                               re.I)


@dataclass(frozen=True)
class PhiHit:
    """One identifier-like span: `kind` (ssn, phone, email, mrn, dob, date, name), `text[start:end]`."""

    kind: str
    start: int
    end: int
    text: str


def _is_eponym_use(word: str, after: str) -> bool:
    return word in EPONYMS and (bool(_EPONYM_FOLLOWERS.match(after)) or word not in SURNAMES)


# Cheap necessary conditions per kind: a note without them cannot match the kind's pattern (the scan's speed).
_MAY_MATCH = {
    "ssn": re.compile(r"\d{3}-\d{2}-\d{4}|SSN|social security", re.I),
    "email": re.compile(r"@"),
    "phone": re.compile(r"\d{3}\)?[-. ]\d{3}[-. ]\d{4}"),
    "mrn": re.compile(r"MRN|record|patient (?:id|number)|account|acct|#|\d{7}", re.I),
    "dob": re.compile(r"DOB|D\.O\.B|birth|born", re.I),
    "date": re.compile(r"\d[/-]\d{1,2}[/-]\d|\d{4}-\d\d-\d|" + _MONTH + r"\.? \d|\d " + _MONTH),
    "titled_name": re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\b"),
}
_CAPITALISED = re.compile(r"[A-Z][a-z]+")


def _name_hits(text: str) -> list[PhiHit]:
    hits = []
    if not _MAY_MATCH["titled_name"].search(text) and GIVEN_NAMES.isdisjoint(_CAPITALISED.findall(text)):
        return hits
    for match in PATTERNS["titled_name"].finditer(text):
        first, second = match.group(1), match.group(2)
        last = second or first
        if _is_eponym_use(last, text[match.end():]):
            continue
        hits.append(PhiHit("name", match.start(), match.end(), match.group(0)))
    for match in PATTERNS["name"].finditer(text):
        given, family = match.group(1), match.group(2).split()[-1]
        end = match.end(2)
        if given in GIVEN_NAMES and not _is_eponym_use(family, text[end:]):
            hits.append(PhiHit("name", match.start(), end, text[match.start():end]))
    return hits


def scan_phi(text: str) -> list[PhiHit]:
    """Identifier-like spans in `text`, sorted by position; overlapping hits of different kinds are all kept."""
    if not text:
        return []
    hits = _name_hits(text)
    for kind in ("ssn", "email", "phone", "mrn", "dob", "date"):
        if not _MAY_MATCH[kind].search(text):
            continue
        hits.extend(PhiHit(kind, m.start(), m.end(), m.group(0)) for m in PATTERNS[kind].finditer(text))
    # A DOB span also matches the plain date pattern: report it once, as the more specific kind.
    dob_spans = [(h.start, h.end) for h in hits if h.kind == "dob"]
    hits = [h for h in hits if h.kind != "date" or not any(s <= h.start and h.end <= e for s, e in dob_spans)]
    return sorted(set(hits), key=lambda h: (h.start, h.kind))


def phi_kinds(hits: list[PhiHit]) -> str:
    """Comma-separated distinct kinds, for tables and metadata (never the matched text itself)."""
    return ",".join(sorted({hit.kind for hit in hits}))


def phi_report(claim_ids: Sequence[str], notes: Sequence[str | None]) -> dict:
    """PHI scan of many notes: total hits, the claim ids of notes with hits, and the kinds found."""
    hits = {claim_id: scan_phi(note) for claim_id, note in zip(claim_ids, notes) if note}
    offending = sorted(claim_id for claim_id, found in hits.items() if found)
    return {
        "phi_hits": sum(len(found) for found in hits.values()),
        "offending_claim_ids": offending,
        "kinds": sorted({hit.kind for found in hits.values() for hit in found}),
    }
