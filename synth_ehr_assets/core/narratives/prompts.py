"""Prompts, JSON schemas and answer models for the LLM engine.

A 135M-parameter model writes poor notes from a bare instruction, so every note prompt is retrieval-augmented
few-shot: the design-engine notes of the clinically nearest cases are replayed as earlier chat turns (case
header as the user turn, the note's two free-text sentences as the assistant's JSON) and the new case's header
comes last. Everything structured (demographics, setting, codes, symptoms) is fixed by the pipeline; the model
writes only the free text, under a JSON schema whose patterns pin each sentence's opening to the case (the
patient, the principal diagnosis by its clinical name, not its code title) and forbid digits in the free part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from synth_ehr_assets.core.narratives.phrasing import distinct, join
from synth_ehr_assets.core.schema import DX_COLUMNS

NOTE_SYSTEM = (
    "You write two short sentences of a clinical note for a fictional patient. Use only the facts in the case: "
    "its age, sex, setting, diagnoses and symptoms. Never write names, dates, phone numbers or record numbers."
)
JUDGE_SYSTEM = (
    "You are a clinical documentation reviewer scoring a synthetic note against its case with a PDSQI-9-style "
    "checklist. Check each item: (1) accurate: every statement fits the case's age, sex, diagnoses and "
    "procedures, nothing invented; (2) thorough: every listed diagnosis and procedure is addressed; (3) useful: "
    "the plan fits the diagnosis, the age and the acuity; (4) organized: history, findings, assessment and plan "
    "in order; (5) comprehensible: plain clinical language, no billing-code titles as patient words; "
    "(6) succinct: no repetition; (7) synthesized: symptoms agree with the vital signs and exam; (8) internally "
    "consistent: no statement contradicts another; (9) free of stigmatizing language. Then score 1 (poor) to 5 "
    "(excellent): plausibility (items 1, 3, 7), relevance (items 2, 3) and coherence (items 4-6, 8, 9). The "
    "rationale is one sentence naming the most important problem found in this note, or its main strength."
)
SYMPTOM_SYSTEM = (
    "You pick the presenting symptoms for a fictional patient from a list of candidates. Choose the ones a "
    "patient with these diagnoses most likely reports."
)
NOTE_SECTIONS = ("Subjective", "Objective", "Assessment", "Medical decision making", "Plan", "Hospital course",
                 "Discharge")
SETTINGS = {"professional": "office visit", "outpatient": "outpatient visit", "inpatient": "inpatient stay"}
ARRIVALS = {"professional": "is seen in clinic", "outpatient": "is seen as an outpatient",
            "inpatient": "is admitted to the hospital"}
FREE_TEXT = r"[a-zA-Z ,'-]"  # letters and plain punctuation only: no digits, dates, ids or markup
Score = Literal[1, 2, 3, 4, 5]


class JudgeVerdict(BaseModel):
    """The LLM judge's scores for one note."""

    model_config = ConfigDict(extra="forbid")
    plausibility: Score
    relevance: Score
    coherence: Score
    rationale: str = Field(pattern=r"^[A-Z][a-zA-Z ,'-]{10,160}\.$", description="one sentence, words only")


def pattern_literal(text: str) -> str:
    """Escape regex metacharacters only (llguidance rejects Python's escaped spaces and dashes)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", text)


def note_answer_model(patient: str, arrival: str, principal: str, tail_chars: int = 140) -> type[BaseModel]:
    """`NoteNarrative` whose sentences must open with the pipeline's facts: patient + arrival for the setting
    in the subjective, the principal diagnosis description in the assessment. The model writes the rest."""
    subjective = f"^{pattern_literal(f'{patient} {arrival}')} {FREE_TEXT}{{10,{tail_chars}}}\\.$"
    assessment = f"^{pattern_literal(principal.rstrip('.'))}{FREE_TEXT}{{0,{tail_chars}}}\\.$"
    return create_model(
        "NoteNarrative",
        __config__=ConfigDict(extra="forbid"),
        __doc__="The free-text parts of a SOAP note; the pipeline writes everything else.",
        subjective=(str, Field(pattern=subjective, description="why the patient came, in one sentence")),
        assessment=(str, Field(pattern=assessment, description="clinical impression, in one sentence")),
    )


def symptom_choice_model(candidates: Sequence[str], most: int) -> type[BaseModel]:
    """Answer model whose only valid values are the grounded candidates (an enum in the JSON schema)."""
    choice = Literal[tuple(dict.fromkeys(candidates))]  # type: ignore[valid-type]
    return create_model(
        "SymptomChoice",
        __config__=ConfigDict(extra="forbid"),
        symptoms=(list[choice], Field(min_length=1, max_length=most)),
    )


@dataclass(frozen=True)
class Exemplar:
    """A design-engine note reduced to what a prompt replays: the case header and the two free-text sentences."""

    claim_id: str
    header: str
    subjective: str
    assessment: str


def person(age: int | None, sex: str | None) -> str:
    """'66-year-old man', '9-year-old girl' (capitalised sentence opening, no article)."""
    noun = {"F": ("woman", "girl"), "M": ("man", "boy")}.get(sex or "", ("patient", "patient"))
    if age is None:
        return "Adult patient" if not sex else f"{'Female' if sex == 'F' else 'Male'} patient"
    if age < 1:
        return f"Infant {noun[1]}"
    return f"{age}-year-old {noun[1] if age < 18 else noun[0]}"


def diagnosis_codes(claim: Mapping) -> list[str]:
    return [claim[c] for c in DX_COLUMNS if claim.get(c)]


def clinical_label(code: str, describe: Callable[[str], str | None]) -> str:
    """The knowledge table's name for a diagnosis (not its ICD-10-CM title)."""
    from synth_ehr_assets.core.narratives.clinical import label

    return label(code, describe(code))


def case_header(
    claim: Mapping, symptoms: Sequence[str], describe: Callable[[str], str | None], max_diagnoses: int = 10
) -> str:
    """The fixed facts of a case, in the order the model sees them in every exemplar."""
    setting = SETTINGS.get(claim.get("claim_type") or "", "visit")
    if claim.get("claim_type") == "inpatient" and claim.get("los_days"):
        setting += f" of {claim['los_days']} days"
    codes = diagnosis_codes(claim)[:max_diagnoses]
    diagnoses = "; ".join(f"{clinical_label(code, describe)} ({code})" for code in codes) or "none recorded"
    return "\n".join([
        f"Patient: {person(claim.get('age'), claim.get('sex'))}, {setting}",
        f"Diagnoses: {diagnoses}",
        f"Symptoms: {', '.join(symptoms) if symptoms else 'none reported'}",
    ])


def note_sections(note: str) -> dict[str, str]:
    """Split a design-engine SOAP note ('Subjective: ...' lines) into its sections."""
    sections: dict[str, str] = {}
    for line in note.splitlines():
        name, sep, text = line.partition(": ")
        if sep and name in NOTE_SECTIONS:
            sections[name] = text.strip()
    return sections


def arrival(claim: Mapping) -> str:
    return ARRIVALS.get(claim.get("claim_type") or "", ARRIVALS["professional"])


def exemplar_from_design(example: Mapping, describe: Callable[[str], str | None]) -> Exemplar:
    """Turn one `design.exemplars()` entry (claim, symptoms, note) into a prompt exemplar in the answer's shape:
    subjective = patient + arrival + complaint; assessment = principal diagnosis + comorbidities + first plan step.
    The design text passes through `free_text` so exemplars obey the same character rule as answers."""
    claim = example["claim"]
    sections = note_sections(example["note"])
    sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", sections.get("Subjective", ""))]
    complaint = "reports no complaints"
    if len(sentences) > 1:
        complaint = re.sub(r"^(?:she|he)\s+", "", sentences[1], flags=re.I)
    subjective = f"{person(claim.get('age'), claim.get('sex'))} {arrival(claim)} and {free_text(complaint)}."
    codes = diagnosis_codes(claim)
    principal = clinical_label(codes[0], describe).rstrip(".") if codes else "Encounter"
    principal = principal[:1].upper() + principal[1:]
    others = distinct((free_text(clinical_label(c, describe)) for c in codes[1:3]), said=[principal])
    with_others = f", with {join(others)}" if others else ""
    plan = sections.get("Plan", "").split(";")[0].strip()
    step = f", plan to {free_text(plan[0].lower() + plan[1:])}" if plan else ""
    assessment = f"{principal}{with_others}{step}."
    header = case_header(claim, example.get("symptoms") or [], describe)
    return Exemplar(str(claim.get("claim_id")), header, subjective, assessment)


def free_text(text: str) -> str:
    """Keep what `FREE_TEXT` allows: drop parenthesised asides and digits, tidy spaces."""
    text = re.sub(r"\s*\([^)]*\)", "", text)
    text = re.sub(r"[^a-zA-Z ,'-]", " ", text)
    return re.sub(r"\s+", " ", text).strip(" ,")


def note_messages(header: str, exemplars: Sequence[Exemplar]) -> list[dict]:
    """System rule, then each exemplar as a (case, answer) turn pair, then the new case."""
    messages = [{"role": "system", "content": NOTE_SYSTEM}]
    for example in exemplars:
        answer = {"subjective": example.subjective, "assessment": example.assessment}
        messages.append({"role": "user", "content": example.header})
        messages.append({"role": "assistant", "content": json.dumps(answer)})
    messages.append({"role": "user", "content": header})
    return messages


def symptom_messages(header: str, candidates: Sequence[str]) -> list[dict]:
    listing = "\n".join(f"- {c}" for c in candidates)
    return [
        {"role": "system", "content": SYMPTOM_SYSTEM},
        {"role": "user", "content": f"{header}\nCandidate symptoms:\n{listing}"},
    ]


def judge_messages(header: str, note: str) -> list[dict]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": f"Case:\n{header}\n\nNote:\n{note}"},
    ]
