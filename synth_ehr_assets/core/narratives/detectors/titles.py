"""`code_title`: ICD-10-CM title wording used as patient language."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import CODE_IN_TEXT, Case, Finding

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


def code_title(case: Case) -> list[Finding]:
    """ICD-10-CM title wording as patient language: coding idioms anywhere, chapter-R or claim-code titles in
    the history, findings and plan."""
    note = case.note
    own = [tuple(_norm(case.describe(c) or "").split()) for c in case.dx]
    own = [t for t in own if len(t) >= 8]  # long claim titles are pasted, short ones are how clinicians speak
    found, idioms = [], lx.CODE_IDIOMS.search(CODE_IN_TEXT.sub("", note.text)) is not None
    for section, sentence in note.sentences:
        plain = CODE_IN_TEXT.sub("", sentence) if "(" in sentence else sentence
        if idioms and lx.CODE_IDIOMS.search(plain):
            found.append(Finding("code_title", sentence, "coding idiom in prose"))
        elif section not in ("assessment",) and _has_title(plain, own):
            found.append(Finding("code_title", sentence, "ICD-10-CM title used as note wording"))
    return found
