"""Planted defects of decision making for judge calibration: an ED visit's MDM against its level, an office
E/M level the note does not support, severity wording forced onto a simple problem to justify a high level,
and a problem's status contradicted by its plan or the vitals. Each planter edits the note text or the claim
of a clean pair and returns None when the pair is not eligible."""

from __future__ import annotations

import re

from synth_ehr_assets.core.narratives.vitals import parse_vitals


def _px(claim) -> list[str]:
    return [claim[f"px_{i}"] for i in range(1, 7) if claim.get(f"px_{i}")]


ITEM_ONE = re.compile(r"(Assessment: 1\. [^(]*\([A-Z]\d[0-9A-Z.]*\)),? ([^.]*)\.")
INTERVAL = re.compile(r"\b(?:in|within) (?:\d+|one|two|three|four|six|eight|twelve) "
                      r"(?:hours?|days?|weeks?|months?|years?)\b|"
                      r"\btomorrow\b", re.I)
FORCED = ("severely uncontrolled, intensive management started", "severe exacerbation, close monitoring needed",
          "acute and severe, admission weighed against home treatment")


def _status(note: str, status: str) -> str | None:
    changed = ITEM_ONE.sub(lambda m: f"{m.group(1)}, {status}.", note, count=1)
    return changed if changed != note else None


def _follow_up(note: str, text: str, only: bool = False) -> str:
    """The plan's follow-up item (its last item naming an interval) replaced by `text`, else `text` appended;
    `only`: every other item naming an interval dropped."""
    lines = note.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Plan: "):
            items, _, after = line[len("Plan: "):].partition(". ")
            items = items.rstrip(".").split("; ")
            at = next((j for j in range(len(items) - 1, -1, -1) if INTERVAL.search(items[j])), None)
            items = items[:at] + [text] + items[at + 1:] if at is not None else items + [text]
            items = [x for x in items if x == text or not (only and INTERVAL.search(x))]
            lines[i] = "Plan: " + "; ".join(items) + "." + (f" {after}" if after else "")
    return "\n".join(lines)


def ed_mdm(note, claim, rng):
    if not any(str(p).startswith("9928") for p in _px(claim)) or "Medical decision making:" not in note:
        return None
    if rng.random() < 0.3:
        return "\n".join(l for l in note.splitlines() if not l.startswith("Medical decision making:")), claim
    line = next(l for l in note.splitlines() if l.startswith("Medical decision making:"))
    level = next((w for w in ("straightforward", "low", "moderate", "high") if w in line.lower()), None)
    other = rng.choice([w for w in ("straightforward", "low", "moderate", "high") if w != level])
    new = re.sub(r"(?i)\b(straightforward|low|moderate|high)\b", other, line, count=1)
    return note.replace(line, new), claim


def em_level(note, claim, rng):
    px = _px(claim)
    office = [i for i, p in enumerate(px, 1) if str(p).startswith(("9920", "9921"))]
    assessment = next((l for l in note.splitlines() if l.startswith("Assessment: ")), "")
    if claim.get("claim_type") != "professional" or not office or re.search(r"\b2\. ", assessment) or re.search(
            r"goal|target|worse|progress|severe|systemic|emergency|admi|adjusted|intensi|elevated|controlled",
            assessment, re.I):
        return None
    return note, {**claim, f"px_{office[0]}": rng.choice(("99214", "99215"))}


def em_forced(note, claim, rng):
    """A simple office problem dressed up for a high level: severity wording with nothing in the note to show
    it, a one-week follow-up, and the claim billed 99215 (a new patient: 99205)."""
    px = _px(claim)
    office = [i for i, p in enumerate(px, 1) if str(p).startswith(("9920", "9921"))]
    vitals = parse_vitals(note)
    resulted = re.search(r"^Objective: .*(?:Results|Studies|Data reviewed|results):", note, re.M)
    if claim.get("claim_type") != "professional" or not office or vitals.get("spo2", 99) < 92 or \
            vitals.get("temp", 37) >= 38.0 or resulted or re.search(r"total time|emergency department", note, re.I):
        return None
    changed = _status(note, rng.choice(FORCED))
    if changed is None:
        return None
    level = "99205" if str(px[office[0] - 1]).startswith("9920") else "99215"
    return _follow_up(changed, "follow up in one week"), {**claim, f"px_{office[0]}": level}


def status_plan(note, claim, rng):
    """A status the plan or vitals contradict: 'stable' with escalated treatment, 'uncontrolled' continued for
    six months, or 'no red flags' at 39.3 C with a recheck in nine days."""
    if claim.get("claim_type") == "inpatient" or any(str(p).startswith("9928") for p in _px(claim)):
        return None
    choice = rng.random()
    if choice < 0.34:
        changed = _status(note, rng.choice(("stable", "well controlled", "at goal")))
        return (changed.replace("Plan: ", f"Plan: {rng.choice(('increase', 'adjust', 'add'))} the current "
                                "medication; ", 1), claim) if changed else None
    if choice < 0.67:
        changed = _status(note, rng.choice(("uncontrolled", "poorly controlled", "not at goal")))
        if changed is None:
            return None
        changed = re.sub(r"(Plan: |; )(?:[Aa]djust|[Ii]ntensify) ", lambda m: m.group(1) + "continue ", changed)
        return _follow_up(changed, "continue current therapy, recheck in 6 months", only=True), claim
    changed = _status(note, rng.choice(("acute, no red flags", "acute, uncomplicated", "mild")))
    if changed is None or not re.search(r"\bT(?:emp)? \d{2}\.\d C", changed):
        return None
    changed = re.sub(r"\b(T(?:emp)?) \d{2}\.\d C", lambda m: f"{m.group(1)} 39.{rng.randint(1, 6)} C", changed,
                     count=1)
    return _follow_up(changed, f"recheck in {rng.randint(7, 10)} days"), claim
