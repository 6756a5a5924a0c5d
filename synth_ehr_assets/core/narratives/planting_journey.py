"""Planted journey contradictions for calibrating `journey_coherence`: each planter takes a clean note of a claim
with earlier claims, its claim and its `JourneyContext`, and returns (note, claim) showing one contradiction, or
None when the journey does not allow it."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives.journey_context import ago


def _history(note: str) -> int | None:
    return next((i for i, line in enumerate(note.splitlines()) if line.startswith("History: ")), None)


def _title(code: str, describe) -> str:
    if describe is None:
        from synth_ehr_assets.core.codes import describe
    return (describe(code) or code).split(",")[0].lower()


def journey_called_new(note, claim, history, rng, describe=None):
    """A known chronic problem written up as newly diagnosed today."""
    if not history.chronic:
        return None
    code = rng.choice([c for c, _ in history.chronic])
    lines = note.splitlines()
    lines[0] = f"{lines[0].rstrip()} Newly diagnosed {_title(code, describe)} today."
    return "\n".join(lines), claim


def journey_forgotten(note, claim, history, rng, describe=None):
    """The known chronic problems left out of the History line."""
    at = _history(note)
    if at is None or not history.chronic:
        return None
    lines = note.splitlines()
    lines[at] = re.sub(r" ?Known chronic problems: [^.]*(?:\.[^ ][^.]*)*\.", "", lines[at])
    from synth_ehr_assets.core.codes import describe as catalog
    from synth_ehr_assets.core.narratives.detectors.journey_coherence import named, note_sentences

    describe = describe or catalog
    kept = "\n".join(lines)
    sentences = note_sentences(lines)
    if all(named(c, sentences, describe) for c, _ in history.chronic):
        return None  # the claim itself names them: nothing is forgotten
    return kept, claim


def journey_followup_dropped(note, claim, history, rng, describe=None):
    """A follow-up note that no longer names the admission or ED visit it follows."""
    at = _history(note)
    if at is None or not history.follow_up:
        return None
    lines = note.splitlines()
    lines[at] = re.sub(r"Seen in follow-up after [^.]*(?:\.\d[^.]*)*\. ?", "", lines[at])
    changed = "\n".join(line for line in lines if line != "History: ")
    return (changed, claim) if changed != note else None


def journey_phantom_admission(note, claim, history, rng, describe=None):
    """An admission cited that the journey does not hold."""
    at = _history(note)
    today = claim.get("service_date")
    if at is None or today is None:
        return None
    taken = [(today - v.date).days for v in history.admissions + history.ed_visits]
    days = next((d for d in rng.sample(range(3, 28), 25) if all(abs(d - t) > 1 for t in taken)), None)
    if days is None:
        return None
    lines = note.splitlines()
    lines[at] = f"{lines[at]} Admitted {ago(days)} for {_title(claim['dx_1'], describe)}."
    return "\n".join(lines), claim


PLANTERS = {fn.__name__: fn for fn in (journey_called_new, journey_forgotten, journey_followup_dropped,
                                      journey_phantom_admission)}
EXPECTED = {k: "journey_coherence" for k in PLANTERS}
