"""Wording variety across notes: the share of sentences that occur verbatim in more than a given share of notes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

SENTENCE = re.compile(r"(?<=[A-Za-z)%\]][.!?])\s+|\n")


def sentences(note: str) -> set[str]:
    """Distinct sentences of a note (section headings stay with their first sentence)."""
    return {s.strip() for s in SENTENCE.split(note) if s.strip()}


def repeated_sentence_share(notes: Sequence[str], note_share: float = 0.05) -> dict:
    """Share of all sentences (counted once per note) whose exact text occurs in more than `note_share` of the
    notes, with the most repeated ones."""
    per_note = [sentences(n) for n in notes if n]
    counts = Counter(s for found in per_note for s in found)
    total = sum(counts.values())
    limit = note_share * len(per_note)
    common = {s: m for s, m in counts.items() if m > limit}
    return {
        "notes": len(per_note),
        "repeated_sentence_share": round(sum(common.values()) / total, 4) if total else 0.0,
        "most_repeated": [s for s, _ in sorted(common.items(), key=lambda kv: -kv[1])[:5]],
    }
