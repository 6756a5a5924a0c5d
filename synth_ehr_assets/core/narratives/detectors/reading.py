"""How every detector reads a note: sentences by section, negation-aware matching, and the claim's codes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from synth_ehr_assets.core.narratives import lexicon as lx

SECTION = re.compile(r"^([A-Z][A-Za-z ]{2,30}):\s*(.*)$")
SPLIT = re.compile(r"(?<=[A-Za-z)%\]][.;!?])\s+|(?<=;)\s+")
CODE_IN_TEXT = re.compile(r"\(\s*[A-Z]\d[0-9A-Z]{1,2}(?:\.[0-9A-Z]{1,4})?\s*\)")
CLAUSE = re.compile(r"[,;:]| but ")
WORD_START = re.compile(r"\b\w")


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


@dataclass(frozen=True)
class Case:
    """What a detector reads: the note, its claim row, the claim's diagnoses (dx_1 first), a code → title
    function and the vitals written in the note; with a journey, its context and the whole note."""

    note: Note
    claim: Mapping
    dx: Sequence[str]
    describe: Callable[[str], str | None]
    vitals: Mapping[str, float]
    history: object | None = None  # the claim's `journey_context.JourneyContext`, when the journey is known
    full: Note | None = None  # the note with its History line (the journey's), which `note` leaves out

    @property
    def px(self) -> list[str]:
        return claim_px(self.claim)

    @property
    def age(self) -> int | None:
        return self.claim.get("age")

    @property
    def ed(self) -> bool:
        """An outpatient claim with an emergency department E/M visit (99281-99285)."""
        return self.claim.get("claim_type") == "outpatient" and any(p.startswith("9928") for p in self.px)


def read(text: str) -> Note:
    out, section = [], ""
    for line in text.splitlines():
        match = SECTION.match(line.strip())
        if match:
            section, line = match.group(1).lower(), match.group(2)
        out += [(section, s.strip()) for s in SPLIT.split(line) if s.strip()]
    return Note(text, tuple(out))


def claim_px(claim: Mapping) -> list[str]:
    return [str(claim[f"px_{i}"]) for i in range(1, 7) if claim.get(f"px_{i}")]


@lru_cache(maxsize=100_000)
def _clauses(sentence: str) -> tuple[str, ...]:
    return tuple(CLAUSE.split(sentence))


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.I)


def asserted(pattern: str | re.Pattern, sentence: str) -> bool:
    """The pattern occurs in a clause of the sentence without a negation before it."""
    pattern = pattern if isinstance(pattern, re.Pattern) else compiled(pattern)
    if pattern.search(sentence) is None:
        return False
    for clause in _clauses(sentence):
        match = pattern.search(clause)
        if match and not lx.NEGATION.search(clause[: match.start()]):
            return True
    return False


def prefix_value(table: Mapping[str, str], code: str, default: str | None = None) -> str | None:
    for length in range(len(code), 0, -1):
        if code[:length] in table:
            return table[code[:length]]
    return default


def anchor_index(patterns) -> dict[str, list[tuple[str, int]]]:
    """First three letters of each literal anchor → (anchor, row), for a word-start lookup."""
    index: dict[str, list[tuple[str, int]]] = {}
    for row, pattern in enumerate(patterns):
        for anchor in {a.strip() for a in lx.anchors(pattern)}:
            index.setdefault(anchor[:3], []).append((anchor, row))
    return index


def matches(sentence: str, table, index):
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
