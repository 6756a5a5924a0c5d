"""The `engine: llm` branch of the narrative assets: builds the prompts' inputs from the design engine and runs
the batches through the `llm` resource (an endpoint, or the embedded server it starts and stops)."""

from contextlib import contextmanager

import dagster as dg
import polars as pl

from synth_ehr_assets.defs.progress import step_progress

EXEMPLARS_PER_PROMPT = 2


@contextmanager
def _llm_client(context: dg.AssetExecutionContext, endpoint, spec):
    """A client from the asset's `llm` resource (which stops its embedded server, if it started one, after the
    step); the release spec's narratives.base_url / model override the resource's."""
    config = spec.narratives
    with endpoint.session(config.base_url, config.model, spec.seed, context.log.info) as client:
        context.log.info(f"narratives: LLM {endpoint.describe(config.base_url, client.settings.model)}, "
                         f"cache {endpoint.resolved_cache_path()}")
        yield client


def _log_stats(context: dg.AssetExecutionContext, what: str, stats) -> None:
    per_minute = 60 * stats.total / stats.seconds if stats.seconds else 0.0
    context.log.info(f"{what}: {stats.line()}, {per_minute:.1f} per minute")


def llm_symptoms_frame(context: dg.AssetExecutionContext, llm, spec, claims: pl.DataFrame, knowledge) -> pl.DataFrame:
    """Symptoms chosen by the model among each claim's knowledge-table candidates, reviewed by the design rules."""
    from synth_ehr_assets.core.narratives.llm_engine import llm_symptoms
    from synth_ehr_assets.core.narratives.symptoms import SYMPTOM_COLUMNS, candidate_symptoms, review_reason

    config = spec.narratives

    def review(chosen, claim) -> list[tuple[float | None, str | None]]:
        accepted, out = [], []
        for _, text in chosen:
            reason = review_reason(text, None, None, claim, config.symptom_relevance_threshold, accepted)
            accepted += [text] if reason is None else []
            out.append((None, reason))
        return out

    with _llm_client(context, llm, spec) as client:
        frame, stats = llm_symptoms(claims, candidate_symptoms, review, client, spec.seed, config.symptoms_per_claim,
                                    config.max_symptom_retries,
                                    progress=step_progress(context, "llm symptoms"))
    _log_stats(context, "llm symptoms", stats)
    frame = frame.with_columns(review_reason=pl.when(pl.col("status") == "failed")
                               .then(pl.lit("llm request failed: ") + pl.col("failure_reason"))
                               .otherwise(pl.col("review_reason")))
    return frame.select([pl.col(c).cast(t) for c, t in SYMPTOM_COLUMNS.items()])


def llm_notes_frame(
    context: dg.AssetExecutionContext, llm, spec, claims: pl.DataFrame, symptoms: pl.DataFrame, knowledge
) -> pl.DataFrame:
    """SOAP notes whose free-text sentences the model writes after the design notes of the nearest cases."""
    from synth_ehr_assets.core.narratives.design import design_note, exemplars
    from synth_ehr_assets.core.narratives.detectors import review
    from synth_ehr_assets.core.narratives.journey_context import journey_contexts
    from synth_ehr_assets.core.narratives.llm_engine import llm_notes
    from synth_ehr_assets.core.narratives.symptoms import accepted_by_claim

    chosen = accepted_by_claim(symptoms.filter(pl.col("claim_id").is_in(claims["claim_id"].implode())))
    journeys = journey_contexts(claims)  # the History line a journey's later notes carry
    with _llm_client(context, llm, spec) as client:
        notes, stats = llm_notes(
            claims,
            exemplar_fn=lambda claim: exemplars(claim, claims, EXEMPLARS_PER_PROMPT, knowledge, spec.seed),
            client=client,
            seed=spec.seed,
            symptoms=chosen,
            structured_note_fn=lambda claim, found: design_note(claim, spec.seed, knowledge, found,
                                                               journeys.get(str(claim["claim_id"]))),
            progress=step_progress(context, "llm notes"),
            review_fn=review,
            max_regenerations=spec.narratives.max_note_regenerations,
        )
    _log_stats(context, "llm notes", stats)
    for reason, count in notes["failure_reason"].drop_nulls().value_counts(sort=True).head(5).iter_rows():
        context.log.warning(f"llm notes: {count} fell back ({reason}); their rows carry the design note")
    return notes


def llm_judge_scores(context: dg.AssetExecutionContext, llm, spec, notes: pl.DataFrame, claims: pl.DataFrame) -> dict:
    """claim_id → LLM judge scores (plausibility, relevance, coherence, rationale), None where the judge failed."""
    from synth_ehr_assets.core.narratives.llm_engine import llm_judge

    with _llm_client(context, llm, spec) as client:
        scores, stats = llm_judge(notes, claims, client, spec.seed,
                                  progress=step_progress(context, "llm judge"))
    _log_stats(context, "llm judge", stats)
    columns = ("llm_plausibility", "llm_relevance", "llm_coherence", "llm_rationale")
    return {
        row["claim_id"]: ({name.removeprefix("llm_"): row[name] for name in columns} if row["status"] == "ok" else None)
        for row in scores.iter_rows(named=True)
    }


def llm_judge_batch(context: dg.AssetExecutionContext, llm, spec):
    """A batch callable for calibration: [(note, claim)] → the LLM judge's verdicts (None where it failed)."""
    from synth_ehr_assets.core.narratives.llm_calibration import judge_batch

    def judge(pairs):
        with _llm_client(context, llm, spec) as client:
            return judge_batch(client, spec.seed, context.log.info)(pairs)

    return judge
