"""What the claim bills against what the note says: `dx_missing` (a claim diagnosis never named),
`result_without_test` (a result no billed test produced) and `px_missing` (a billed test or service never
mentioned)."""

from __future__ import annotations

import re
from functools import lru_cache

from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.detectors.reading import (
    CODE_IN_TEXT,
    Case,
    Finding,
    anchor_index,
    matches,
    prefix_value,
)


SAID_AS = {"cancer": "neoplasm", "cancers": "neoplasm", "metastatic": "secondary"}  # a clinician's word → the title's


def _concept_tokens(description: str) -> set[str]:
    text = re.sub(r"\([^)]*\)|\[[^]]*\]", " ", description.lower())
    text = re.sub(r"^(?:encounter for|personal history of)\s+", "", text)
    text = re.sub(r"\s+as the (?:place of occurrence|cause) of .*$|,? (?:unspecified )?(?:as to|whether) .*$", "",
                  text)  # coding qualifiers: external-cause places, organisms, "unspecified as to/whether ..."
    text = re.sub(r"\b(?:without|with|due to|in diseases|not|initial|subsequent|site not)\b.*$", " ", text) or text
    text = re.sub(r"\b(?:unspecified|other|specified|type|of|the|and|or|in|for|a|an|to|by|at|on|part|site|"
                  r"primary|essential|disease|disorder|single|episode|stage|native|organism|limb|malignant|"
                  r"uncomplicated)\b", " ", text)
    return {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", text)}


def _bags(sentences: list[str]) -> list[set[str]]:
    return [{SAID_AS.get(w, w[:-1] if len(w) > 4 and w.endswith("s") else w)
             for w in re.findall(r"[a-z0-9]+", s.lower())} for s in sentences]


def named_in_words(code: str, sentences: list[str], describe) -> bool:
    """Whether one of `sentences` names `code` in words: the judge's synonym, or half the title's concept words
    in one sentence (a bare code in parentheses does not count)."""
    sentences = [CODE_IN_TEXT.sub("", s) for s in sentences]
    synonym = prefix_value(lx.SYNONYMS, code)
    if synonym and re.search(synonym, " ".join(sentences), re.I):
        return True
    wanted = _concept_tokens(describe(code) or "")
    return bool(wanted) and max((len(wanted & bag) / len(wanted) for bag in _bags(sentences)), default=0) >= 0.5


def dx_missing(case: Case) -> list[Finding]:
    """Claim diagnoses the note never names (in words: a bare code in parentheses does not count)."""
    sentences = list(case.note.of())
    return [Finding("dx_missing", f"{code}: {case.describe(code)}", "claim diagnosis not addressed in the note")
            for code in case.dx if not named_in_words(code, sentences, case.describe)]


@lru_cache(maxsize=1)
def _tests() -> tuple[tuple[re.Pattern, frozenset[str]], ...]:
    return tuple((re.compile(p, re.I), frozenset(c)) for p, c in lx.TESTS.items())


@lru_cache(maxsize=1)
def _test_anchors() -> dict[str, list[tuple[str, int]]]:
    return anchor_index(list(lx.TESTS))


@lru_cache(maxsize=1)
def _names_of_code() -> dict[str, tuple[re.Pattern, ...]]:
    out: dict[str, list[re.Pattern]] = {}
    for pattern, codes in _tests():
        for code in codes:
            out.setdefault(code, []).append(pattern)
    return {code: tuple(p) for code, p in out.items()}


def results_and_procedures(case: Case) -> list[Finding]:
    """A result with no billed test that produces it; a billed test or service the note never mentions."""
    note, billed = case.note, set(case.px)
    inpatient, found = case.claim.get("claim_type") == "inpatient", []
    for sentence in note.of("objective", "assessment", "hospital course", "medical decision making"):
        if re.search(r"results? notable for|labs? (?:notable|show)", sentence, re.I) and not billed:
            found.append(Finding("result_without_test", sentence, "results reported but no test was billed"))
            continue
        for match, (_, codes) in matches(sentence, _tests(), _test_anchors()):
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
    tested = billed & ({c for _, codes in _tests() for c in codes} | {"36415"})
    for sentence in note.of("plan") if not tested and not inpatient else ():
        if re.search(r"\bresults? (?:will be sent|to follow|are pending)", sentence, re.I):
            found.append(Finding("result_without_test", sentence, "results promised but no test was billed"))
    text = CODE_IN_TEXT.sub("", note.text)
    for code in sorted(billed):
        service = lx.SERVICES.get(code)
        names = _names_of_code().get(code, ())
        if service is None and not names:
            continue  # E/M visits and codes the judge has no wording for
        if not any(p.search(text) for p in names) and not (service and re.search(service, text, re.I)):
            found.append(Finding("px_missing", code, "billed procedure not mentioned in the note"))
    return found
