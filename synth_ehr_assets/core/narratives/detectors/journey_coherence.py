"""`journey_coherence`: a note against the patient's earlier claims (`Case.history`): a known chronic or open
condition called new, known chronic problems left out, a follow-up or admission the journey does not hold, or
the visit the claim follows not named."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.coverage import named_in_words
from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding, asserted, prefix_value

NEW = re.compile(r"\bnewly diagnosed\b|\bnew[- ]onset\b|\bnew diagnosis\b|\bnew problem\b", re.I)
AGO = re.compile(r"\b(\d+) (days?|months?) ago\b")
ADMISSION = re.compile(r"\badmission\b|\badmitted\b|\bhospitali[sz]", re.I)
ED = re.compile(r"\bemergency department\b|\bED visit", re.I)


def _names(code: str, describe) -> list[re.Pattern]:
    """How a note may name a code: its dotted form, the judge's synonyms, its catalog title."""
    dotted = code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"
    out = [re.compile(re.escape(dotted) + r"\b")]
    synonym = prefix_value(lx.SYNONYMS, code)
    if synonym:
        out.append(re.compile(synonym, re.I))
    title = describe(code) if describe else None
    if title:  # the title, or its head before a qualifier ("cystic fibrosis with pulmonary manifestations")
        head = re.split(r",| with | without | due to ", title)[0].strip()
        out.append(re.compile(re.escape(head), re.I))
    return out


def _named(code: str, text: str, describe) -> bool:
    return any(p.search(text) for p in _names(code, describe))


def named(code: str, sentences: list[str], describe) -> bool:
    """Whether the note names `code`: by code, synonym or title head anywhere, or in words in one sentence."""
    return _named(code, " ".join(sentences), describe) or named_in_words(code, sentences, describe)


def note_sentences(lines) -> list[str]:
    """`lines` cut at each full stop or semicolon: a cited visit or a named problem is read up to its own stop."""
    return [part for line in lines for part in re.split(r"(?<=[.;])\s+", line) if part]


def _days(match: re.Match) -> int:
    return round(int(match.group(1)) * (30.4 if match.group(2).startswith("month") else 1))


def _near(said: int, actual: int) -> bool:
    """A stated distance back fits a visit: to the day, or to the month when said in months."""
    return abs(said - actual) <= (1 if said < 60 else 31)


def journey_coherence(case: Case) -> list[Finding]:
    history = case.history
    if history is None:
        return []
    note = case.full or case.note
    # the reader keeps "for COVID-19. Earlier ..." as one sentence
    sentences, found = note_sentences(note.of()), []
    for sentence in sentences:
        if NEW.search(sentence) and asserted(NEW, sentence):
            known = [c for c in sorted(history.known) if _named(c, sentence, case.describe)]
            if known:
                found.append(Finding("journey_coherence", sentence, f"{known[0]} is already known, called new"))
    missing = [c for c, _ in history.chronic if not named(c, sentences, case.describe)]
    if missing:
        found.append(Finding("journey_coherence", sentences[0], f"known chronic {', '.join(missing)} left out"))
    today = case.claim.get("service_date")
    back = {"admission": [(today - v.date).days for v in history.admissions] if today else [],
            "ED visit": [(today - v.date).days for v in history.ed_visits] if today else []}
    for sentence in sentences:
        kind = "admission" if ADMISSION.search(sentence) else "ED visit" if ED.search(sentence) else None
        for days in (_days(m) for m in AGO.finditer(sentence)) if kind and today else ():
            if not any(_near(days, d) for d in back["admission"] + back["ED visit"]):
                found.append(Finding("journey_coherence", sentence, f"no {kind} {days} days back in the journey"))
    if history.follow_up and history.follows is not None and today:
        days = (today - history.follows.date).days
        if not any(re.search(r"follow", s, re.I) and any(_near(_days(m), days) for m in AGO.finditer(s))
                   for s in sentences):
            found.append(Finding("journey_coherence", sentences[0],
                                 f"the visit {days} days back it follows is not named"))
    return found[:3]
