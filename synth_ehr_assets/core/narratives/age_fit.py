"""What a young child cannot tell or do: sensations only the patient can describe ("pleuritic chest pain",
tingling, lightheadedness) and exam findings that need the patient's report or cooperation (monofilament
sensation, orientation). Below `YOUNG_CHILD` the parent reports what they see, so a symptom becomes its
observable sign (`OBSERVABLE`) or is not drawn, and such an exam finding is not written. The symptom tables and
exam lists in `clinical` carry no age bands; this one list is their age fit."""

from __future__ import annotations

import re

YOUNG_CHILD = 5  # years
SELF_REPORTED = re.compile(
    r"pleuritic|pressure-like|radiat|tightness|tingling|numbness|burning|gritty|lightheaded|dizz|nausea|cramping|"
    r"body aches|feeling cold|loss of taste|sensitivity to light|productive cough|worry|hopeless|low mood|"
    r"self-harm|cravings|concentrat|monofilament|straight-leg|visual acuity|oriented to|thought process|"
    r"speech normal|orthostatic|urgency|headache", re.I)
OBSERVABLE = {  # what a parent sees instead; the vital sign the symptom implies stays with it
    "pleuritic chest pain": "fussiness",
    "productive cough": "wet cough",
    "chronic productive cough": "chronic wet cough",
    "body aches": "irritability",
    "nausea": "decreased feeding",
    "nausea and vomiting": "vomiting",
    "burning with urination": "crying with urination",
    "gritty feeling in the eye": "rubbing the eye",
    "loss of taste and smell": "decreased appetite",
    "lightheadedness": "unusual sleepiness",
    "shortness of breath with exertion": "tiring quickly with play",
}


def young(age: int | None) -> bool:
    return age is not None and age < YOUNG_CHILD


def reportable(text: str, age: int | None) -> bool:
    """Whether a patient of `age` can report the symptom, or cooperate with the exam finding, `text`."""
    return not young(age) or not SELF_REPORTED.search(text)


def for_age(text: str, age: int | None) -> str:
    """The symptom as the note can give it at `age`: its observable sign for a young child, where one is listed."""
    return OBSERVABLE.get(text, text) if young(age) else text
