"""LLM engine: batch functions the narrative assets call when a release selects `engine: llm`.

Each returns (frame, BatchStats). Every input claim yields rows — a failed LLM request becomes a row with
`status="failed"` and its `failure_reason`, never a missing row. Structured facts come from the pipeline
(design engine + claim); the model adds free text only (see `prompts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl

from synth_ehr_assets.core.narratives.client import BatchStats, LLMClient, LLMRequest
from synth_ehr_assets.core.narratives.phrasing import join
from synth_ehr_assets.core.narratives.prompts import (
    JudgeVerdict,
    arrival,
    case_header,
    clinical_label,
    diagnosis_codes,
    exemplar_from_design,
    judge_messages,
    note_answer_model,
    note_messages,
    note_sections,
    person,
    symptom_choice_model,
    symptom_messages,
)
from synth_ehr_assets.core.narratives.symptoms import claim_seed
from synth_ehr_assets.core.progress import Progress

Describe = Callable[[str], str | None]
ENGINE = "llm"
NOTE_COLUMNS = {
    "release_id": pl.String, "claim_id": pl.String, "note": pl.String, "engine": pl.String, "model": pl.String,
    "prompt_hash": pl.String, "status": pl.String, "failure_reason": pl.String, "retries": pl.Int32,
    "requests_sent": pl.Int32,
    "from_cache": pl.Boolean, "prompt_tokens": pl.Int32, "completion_tokens": pl.Int32,
    "llm_subjective": pl.String, "llm_assessment": pl.String, "regenerations": pl.Int32,
}
Review = Callable[[str, Mapping, str], Sequence[str]]  # (note, claim, the model's text) -> objections
SYMPTOM_LLM_COLUMNS = {
    "release_id": pl.String, "claim_id": pl.String, "slot": pl.Int32, "attempts": pl.Int32,
    "symptom_code": pl.String, "symptom_text": pl.String, "relevance": pl.Float64, "accepted": pl.Boolean,
    "review_reason": pl.String, "status": pl.String, "failure_reason": pl.String,
}
JUDGE_COLUMNS = {
    "release_id": pl.String, "claim_id": pl.String, "llm_plausibility": pl.Int32, "llm_relevance": pl.Int32,
    "llm_coherence": pl.Int32, "llm_rationale": pl.String, "judge_model": pl.String, "status": pl.String,
    "failure_reason": pl.String,
}


def _describe(describe: Describe | None) -> Describe:
    if describe is not None:
        return describe
    from synth_ehr_assets.core.codes import describe as catalog_describe

    return catalog_describe


def _seed(seed: int, claim_id: str, purpose: str) -> int:
    return claim_seed(seed, claim_id, purpose) % 2**31  # llama.cpp and OpenAI take 32-bit seeds


def llm_symptoms(
    claims: pl.DataFrame,
    candidates_fn: Callable[[Mapping], Sequence[tuple[str, str]]],
    review_fn: Callable[[Sequence[tuple[str, str]], Mapping], Sequence[tuple[float, str | None]]],
    client: LLMClient,
    seed: int,
    per_claim: int = 3,
    max_retries: int = 3,
    describe: Describe | None = None,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, BatchStats]:
    """The model picks symptoms from grounded candidates (`candidates_fn(claim)` → [(code, text)], an enum in the
    schema); `review_fn([(code, text)], claim)` → [(relevance, reason or None)] reviews them; rejected slots are asked
    again without the tried candidates, at most `max_retries` more rounds. One row per attempted symptom."""
    describe = _describe(describe)
    rows: list[dict] = []
    state = {}
    for claim in claims.iter_rows(named=True):
        state[claim["claim_id"]] = {"claim": claim, "accepted": [], "tried": set(),
                                    "candidates": list(candidates_fn(claim))}
    totals = BatchStats(total=claims.height)
    for attempt in range(1, max_retries + 2):
        active = [s for s in state.values()
                  if len(s["accepted"]) < per_claim and any(t not in s["tried"] for _, t in s["candidates"])]
        if not active:
            break
        requests = []
        for s in active:
            claim, open_slots = s["claim"], per_claim - len(s["accepted"])
            texts = [t for _, t in s["candidates"] if t not in s["tried"]]
            header = case_header(claim, [], describe)
            requests.append(LLMRequest(
                row_id=claim["claim_id"], messages=symptom_messages(header, texts),
                answer_model=symptom_choice_model(texts, min(open_slots, len(texts))),
                max_tokens=32 + 24 * open_slots, temperature=0.2,
                seed=_seed(seed, claim["claim_id"], f"llm-symptoms-{attempt}"),
            ))
        results, stats = client.run_batch(requests, progress=progress if attempt == 1 else None)
        totals.requests_sent += stats.requests_sent
        totals.completion_tokens += stats.completion_tokens
        totals.prompt_tokens += stats.prompt_tokens
        totals.seconds += stats.seconds
        for s, result in zip(active, results):
            claim = s["claim"]
            base = {"release_id": claim.get("release_id"), "claim_id": claim["claim_id"], "attempts": attempt}
            if not result.ok:
                rows.append({**base, "slot": len(s["accepted"]) + 1, "accepted": False, "status": "failed",
                             "failure_reason": result.failure_reason})
                s["tried"].update(t for _, t in s["candidates"])  # a failed request is not re-asked this run
                continue
            chosen = list(dict.fromkeys(result.answer.symptoms))
            codes = dict((t, c) for c, t in s["candidates"])
            picked = [(codes.get(text), text) for text in chosen]
            for text, (relevance, reason) in zip(chosen, review_fn(picked, claim)):
                s["tried"].add(text)
                accepted = reason is None and len(s["accepted"]) < per_claim
                rows.append({**base, "slot": len(s["accepted"]) + 1, "symptom_code": codes.get(text),
                             "symptom_text": text, "relevance": relevance, "accepted": accepted,
                             "review_reason": reason, "status": "ok"})
                if accepted:
                    s["accepted"].append(text)
    totals.done = totals.ok = sum(1 for s in state.values() if s["accepted"])
    totals.failed = totals.total - totals.ok
    return pl.DataFrame(rows, schema=SYMPTOM_LLM_COLUMNS), totals


def assemble_note(
    claim: Mapping, subjective: str, assessment: str, symptoms: Sequence[str], structured_note: str | None,
    describe: Describe,
) -> str:
    """The note: the model's two sentences placed among the pipeline's fixed parts (every design-engine section
    is kept: the History line of a journey, Objective, the numbered Assessment, MDM, Plan, Hospital course,
    Discharge)."""
    sections = note_sections(structured_note) if structured_note else {}
    history_line = next((line for line in (structured_note or "").splitlines() if line.startswith("History: ")), None)
    history = sections.get("Subjective", "").split(". ")[2:]  # design sentences after arrival + complaint
    unmentioned = [s for s in symptoms if s.lower() not in subjective.lower()]
    fixed_symptoms = f" Also reported: {join(unmentioned)}." if unmentioned else ""
    rest = (" " + ". ".join(history)) if history else ""
    codes = diagnosis_codes(claim)
    listed = " ".join(f"{i}. {clinical_label(c, describe)} ({c})." for i, c in enumerate(codes, 1))
    lines = [f"Subjective: {subjective}{fixed_symptoms}{rest}".rstrip(),
             f"Objective: {sections.get('Objective', 'No vitals recorded for this encounter.')}",
             f"Assessment: {assessment} {sections.get('Assessment', listed)}"]
    lines += [f"{name}: {text}" for name, text in sections.items()
              if name not in ("Subjective", "Objective", "Assessment")]
    if "Plan" not in sections:
        lines.append("Plan: Follow up as clinically indicated.")
    if history_line:
        lines.insert(1, history_line)
    return "\n".join(lines)


def note_requests(
    claims: pl.DataFrame,
    exemplar_fn: Callable[[Mapping], Sequence[Mapping]],
    seed: int,
    symptoms: Mapping[str, Sequence[str]] | None = None,
    describe: Describe | None = None,
    max_tokens: int = 140,
    temperature: float = 0.3,
    frequency_penalty: float = 0.6,
    attempt: int = 0,
) -> tuple[list[LLMRequest], dict[str, str]]:
    """The note prompts (few-shot turns from `exemplar_fn`, constrained answer model) and, per claim whose prompt
    could not be built, the reason."""
    describe = _describe(describe)
    symptoms = symptoms or {}
    requests, failures = [], {}
    for claim in claims.iter_rows(named=True):
        codes = diagnosis_codes(claim)
        try:
            if not codes:
                raise ValueError("no diagnosis code")
            examples = [exemplar_from_design(e, describe) for e in exemplar_fn(claim)]
        except Exception as error:  # one bad claim must not stop the batch
            failures[claim["claim_id"]] = f"prompt: {type(error).__name__}: {error}"
            continue
        header = case_header(claim, list(symptoms.get(claim["claim_id"], [])), describe)
        principal = clinical_label(codes[0], describe)
        model = note_answer_model(person(claim.get("age"), claim.get("sex")), arrival(claim),
                                  principal[:1].upper() + principal[1:])
        requests.append(LLMRequest(
            row_id=claim["claim_id"], messages=note_messages(header, examples), answer_model=model,
            max_tokens=max_tokens, temperature=temperature, frequency_penalty=frequency_penalty,
            seed=_seed(seed, claim["claim_id"], "llm-note" if attempt == 0 else f"llm-note-{attempt}"),
        ))
    return requests, failures


def llm_notes(
    claims: pl.DataFrame,
    exemplar_fn: Callable[[Mapping], Sequence[Mapping]],
    client: LLMClient,
    seed: int,
    symptoms: Mapping[str, Sequence[str]] | None = None,
    structured_note_fn: Callable[[Mapping, Sequence[str]], str] | None = None,
    describe: Describe | None = None,
    progress: Progress | None = None,
    review_fn: Review | None = None,
    max_regenerations: int = 2,
    **generation,
) -> tuple[pl.DataFrame, BatchStats]:
    """One SOAP note per claim (`NOTE_COLUMNS`).

    `exemplar_fn(claim)` returns `design.exemplars(...)` entries (dicts with claim, symptoms, note) of the
    clinically nearest cases; `symptoms` maps claim_id → accepted symptoms; `structured_note_fn(claim, symptoms)`
    gives the design note whose other sections are kept. `review_fn(note, claim, model_text)` lists objections
    to the model's sentences (e.g. the judge's detectors); an objected note is asked again with a new seed at
    most `max_regenerations` times, then the design note is kept with `engine="design_fallback"`,
    `status="fallback"` and the objections as `failure_reason`. A failed request falls back the same way with
    `status="failed"`. `generation` (max_tokens, temperature, frequency_penalty) goes to `note_requests`.
    """
    describe = _describe(describe)
    symptoms = symptoms or {}
    by_claim = {c["claim_id"]: c for c in claims.iter_rows(named=True)}
    designs = {cid: structured_note_fn(c, list(symptoms.get(cid, []))) if structured_note_fn else None
               for cid, c in by_claim.items()}
    final: dict[str, dict] = {}
    objections: dict[str, str] = {}
    pending, totals, prep_failures = list(by_claim), BatchStats(), {}
    for attempt in range(max_regenerations + 1):
        if not pending:
            break
        frame = claims.filter(pl.col("claim_id").is_in(pending))
        requests, failures = note_requests(frame, exemplar_fn, seed, symptoms, describe, attempt=attempt,
                                           **generation)
        prep_failures.update(failures)
        results, stats = client.run_batch(requests, progress=progress if attempt == 0 else None) if requests \
            else ([], BatchStats())
        for name in ("requests_sent", "completion_tokens", "prompt_tokens", "seconds", "failed"):
            setattr(totals, name, getattr(totals, name) + getattr(stats, name))
        retry = []
        for result in results:
            claim_id, claim = result.row_id, by_claim[result.row_id]
            row = {"prompt_hash": result.prompt_hash, "retries": len(result.retry_reasons),
                   "requests_sent": result.requests_sent, "from_cache": result.cached and result.requests_sent == 0,
                   "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                   "regenerations": attempt}
            if not result.ok:
                final[claim_id] = {**row, "status": "failed", "failure_reason": result.failure_reason}
                continue
            answer = result.answer
            note = assemble_note(claim, answer.subjective, answer.assessment, list(symptoms.get(claim_id, [])),
                                 designs[claim_id], describe)
            found = list(review_fn(note, claim, f"{answer.subjective} {answer.assessment}")) if review_fn else []
            row.update(note=note, llm_subjective=answer.subjective, llm_assessment=answer.assessment)
            if found and attempt < max_regenerations:
                objections[claim_id] = ", ".join(found)
                retry.append(claim_id)
            elif found:
                final[claim_id] = {**row, "status": "fallback", "note": None,
                                   "failure_reason": f"model sentences rejected after {attempt} regenerations: "
                                                     f"{', '.join(found)}"}
            else:
                final[claim_id] = {**row, "status": "ok"}
        pending = retry
    out = []
    for claim_id, claim in by_claim.items():
        row = {"release_id": claim.get("release_id"), "claim_id": claim_id, "model": client.settings.model,
               **final.get(claim_id, {"status": "failed", "failure_reason": prep_failures.get(claim_id)})}
        if row["status"] == "ok":
            row["engine"] = ENGINE
        else:
            design = designs[claim_id]
            row.update(note=design, engine="design_fallback" if design else ENGINE)
        out.append(row)
    frame = pl.DataFrame(out, schema=NOTE_COLUMNS)
    totals.total = claims.height
    totals.ok = totals.done = int((frame["status"] == "ok").sum())
    totals.failed = claims.height - totals.ok
    return frame, totals


def llm_judge(
    notes: pl.DataFrame,
    claims: pl.DataFrame,
    client: LLMClient,
    seed: int,
    symptoms: Mapping[str, Sequence[str]] | None = None,
    describe: Describe | None = None,
    max_tokens: int = 200,
    progress: Progress | None = None,
) -> tuple[pl.DataFrame, BatchStats]:
    """LLM scores (1-5) for plausibility, relevance and coherence plus a rationale, one row per note
    (`JUDGE_COLUMNS`); combine with the deterministic signals of `judge.py`. Greedy decoding (temperature 0)."""
    describe = _describe(describe)
    symptoms = symptoms or {}
    by_claim = {c["claim_id"]: c for c in claims.iter_rows(named=True)}
    items = [n for n in notes.iter_rows(named=True) if n.get("note")]
    missing = {n["claim_id"] for n in items if n["claim_id"] not in by_claim}
    if missing:
        raise ValueError(f"notes for claims missing from the claims frame: {sorted(missing)[:5]}")
    requests = [
        LLMRequest(
            row_id=n["claim_id"],
            messages=judge_messages(case_header(by_claim[n["claim_id"]], symptoms.get(n["claim_id"], []), describe),
                                    n["note"]),
            answer_model=JudgeVerdict, max_tokens=max_tokens, temperature=0.0,
            seed=_seed(seed, n["claim_id"], "llm-judge"),
        )
        for n in items
    ]
    results, stats = client.run_batch(requests, progress=progress) if requests else ([], BatchStats())
    by_id = {r.row_id: r for r in results}
    out = []
    for n in notes.iter_rows(named=True):
        result = by_id.get(n["claim_id"])
        row = {"release_id": n.get("release_id"), "claim_id": n["claim_id"], "judge_model": client.settings.model}
        if result is not None and result.ok:
            verdict = result.answer
            row.update(llm_plausibility=verdict.plausibility, llm_relevance=verdict.relevance,
                       llm_coherence=verdict.coherence, llm_rationale=verdict.rationale, status="ok")
        else:
            row.update(status="failed", failure_reason=result.failure_reason if result else "note is empty")
        out.append(row)
    return pl.DataFrame(out, schema=JUDGE_COLUMNS), stats
