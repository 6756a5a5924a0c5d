"""Narratives group: symptoms per claim, SOAP provider notes and judge scores, with the PHI and judge gates."""

import time
from pathlib import Path

import dagster as dg
import polars as pl

from synth_ehr_assets.defs.metadata import counts, table_metadata
from synth_ehr_assets.defs.llm import LLMEndpoint
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.progress import step_progress
from synth_ehr_assets.defs.resources import ArtifactStore, ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA

PHI_CHECK = "notes_free_of_phi"
JUDGE_CHECK = "judge_thresholds"
IDS_SHOWN = 20
NOTE_SCHEMA = {
    "release_id": pl.String, "claim_id": pl.String, "engine": pl.String, "model": pl.String, "note": pl.String,
    "prompt_hash": pl.String, "status": pl.String, "failure_reason": pl.String,
}
ASSET = dict(partitions_def=release_partitions, group_name="narratives", kinds={"duckdb", "polars"},
             metadata=RELEASE_PARTITION_METADATA, pool=DUCKDB_POOL)


def _knowledge(context: dg.AssetExecutionContext, artifacts: ArtifactStore, claims: pl.DataFrame):
    """Knowledge table for the claims' codes; description vectors cached across releases under the artifacts."""
    from synth_ehr_assets.core.narratives.knowledge import build_knowledge, claim_dx_codes
    progress = step_progress(context, "knowledge: embedded code descriptions")
    return build_knowledge(claim_dx_codes(claims), Path(artifacts.root) / "cache" / "narratives", progress=progress)


def _progress(context: dg.AssetExecutionContext, what: str):
    return step_progress(context, what)


def _sample(spec, claims: pl.DataFrame) -> pl.DataFrame:
    from synth_ehr_assets.core.narratives.symptoms import narrative_sample

    return narrative_sample(claims, spec.narratives.sample_size, spec.seed)


@dg.asset(**ASSET)
def synthetic_symptoms(
    context: dg.AssetExecutionContext, llm: LLMEndpoint, release_specs: ReleaseSpecs, artifacts: ArtifactStore,
    synthetic_claims: pl.DataFrame,
) -> pl.DataFrame:
    """Symptoms per claim (or per sampled claim) drawn from the R-chapter codes nearest its diagnoses, each
    reviewed for relevance; rejected draws are regenerated a bounded number of times and every attempt is kept."""
    from synth_ehr_assets.core.narratives.symptoms import symptoms_frame

    spec = release_specs.load(context.partition_key)
    config, claims = spec.narratives, _sample(spec, synthetic_claims)
    knowledge = _knowledge(context, artifacts, claims)
    started = time.perf_counter()
    if config.engine == "llm":
        from synth_ehr_assets.defs.narratives_llm import llm_symptoms_frame

        frame = llm_symptoms_frame(context, llm, spec, claims, knowledge)
    else:
        frame = symptoms_frame(claims, knowledge, spec.seed, config.symptoms_per_claim, config.max_symptom_retries,
                               config.symptom_relevance_threshold, _progress(context, "symptoms"))
    seconds = time.perf_counter() - started
    frame = frame.with_columns(release_id=pl.lit(context.partition_key))
    accepted = frame.filter(pl.col("accepted"))
    context.add_output_metadata(table_metadata(
        frame,
        engine=config.engine,
        claims=claims.height,
        accepted_symptoms=accepted.height,
        accepted_share=round(accepted.height / max(frame.height, 1), 4),
        claims_without_symptoms=claims.height - accepted["claim_id"].n_unique(),
        mean_relevance_accepted=round(float(accepted["relevance"].mean() or 0.0), 4),
        seconds=round(seconds, 2),
        rejection_reasons=counts(frame["review_reason"].drop_nulls().str.replace(r" \d.*", "")),
        top_symptoms=counts(accepted["symptom_text"]),
    ))
    return frame


@dg.asset(
    **ASSET,
    check_specs=[dg.AssetCheckSpec(PHI_CHECK, asset="provider_notes", blocking=True,
                                   description="PHI-like patterns (SSN, phone, email, MRN, dates, names) in notes.")],
)
def provider_notes(
    context: dg.AssetExecutionContext, llm: LLMEndpoint, release_specs: ReleaseSpecs, artifacts: ArtifactStore,
    synthetic_claims: pl.DataFrame, synthetic_symptoms: pl.DataFrame,
):
    """A SOAP note per (sampled) claim consistent with its age, sex, setting, codes and accepted symptoms,
    written by the release's engine; a failed generation is a row with its reason, never a missing row."""
    from synth_ehr_assets.core.narratives.design import design_notes
    from synth_ehr_assets.core.narratives.phi import phi_report
    from synth_ehr_assets.core.narratives.wording import repeated_sentence_share

    spec = release_specs.load(context.partition_key)
    claims = _sample(spec, synthetic_claims)
    knowledge = _knowledge(context, artifacts, claims)
    started = time.perf_counter()
    if spec.narratives.engine == "llm":
        from synth_ehr_assets.defs.narratives_llm import llm_notes_frame

        notes = llm_notes_frame(context, llm, spec, claims, synthetic_symptoms, knowledge)
    else:
        notes = design_notes(claims, knowledge, spec.seed, synthetic_symptoms, _progress(context, "notes"))
        notes = notes.with_columns(engine=pl.lit("design"), model=pl.lit(f"design/{knowledge.embedding_model}"),
                                   status=pl.lit("ok"))
    seconds = time.perf_counter() - started
    notes = notes.with_columns(release_id=pl.lit(context.partition_key)).select(
        [pl.col(c).cast(t) if c in notes.columns else pl.lit(None, dtype=t).alias(c) for c, t in NOTE_SCHEMA.items()]
    )
    phi = phi_report(notes["claim_id"].to_list(), notes["note"].to_list())
    wording = repeated_sentence_share(notes["note"].drop_nulls().to_list())
    sample = notes.filter(pl.col("status") == "ok").head(3)
    yield dg.Output(notes, metadata=table_metadata(
        notes,
        engine=spec.narratives.engine,
        notes_ok=int((notes["status"] == "ok").sum()),
        notes_failed=int((notes["status"] == "failed").sum()),
        notes_fallback=int((notes["status"] == "fallback").sum()),
        seconds=round(seconds, 2),
        notes_per_second=round(notes.height / max(seconds, 1e-9), 1),
        repeated_sentence_share=wording["repeated_sentence_share"],
        note_samples=dg.MetadataValue.md("\n\n---\n\n".join(
            f"**{cid}**\n\n" + note.replace("\n", "\n\n") for cid, note in sample.select("claim_id", "note").iter_rows()
        ) or "no notes"),
    ))
    yield dg.AssetCheckResult(
        check_name=PHI_CHECK,
        passed=phi["phi_hits"] <= spec.gates.max_phi_hits,
        metadata={
            "phi_hits": phi["phi_hits"],
            "max_phi_hits": spec.gates.max_phi_hits,
            "notes_with_hits": len(phi["offending_claim_ids"]),
            "offending_claim_ids": ", ".join(phi["offending_claim_ids"][:IDS_SHOWN]) or "none",
            "hit_kinds": ", ".join(phi["kinds"]) or "none",
        },
    )


@dg.asset(
    **ASSET,
    check_specs=[dg.AssetCheckSpec(JUDGE_CHECK, asset="judge_scores", blocking=True,
                                   description="Share of notes no detector objects to ≥ 0.9; calibration recall of "
                                               "every planted defect kind and the flag rate on clean notes; mean "
                                               "relevance and share below 3 when the release sets them.")],
)
def judge_scores(
    context: dg.AssetExecutionContext, llm: LLMEndpoint, release_specs: ReleaseSpecs, artifacts: ArtifactStore,
    provider_notes: pl.DataFrame, synthetic_claims: pl.DataFrame,
):
    """Per note: every clinical detector's findings (the sentences objected to), optional LLM rubric scores, the
    combined score (LLM weighted by its calibration) and pass; metadata carries the planted-defect calibration
    of the engine that wrote the release."""
    from synth_ehr_assets.core.narratives.calibration import calibration_report
    from synth_ehr_assets.core.narratives.card import detector_counts, histogram
    from synth_ehr_assets.core.narratives.judge import judge_frame, judge_gate, note_findings
    from synth_ehr_assets.core.narratives.llm_calibration import effective_auroc

    spec = release_specs.load(context.partition_key)
    config = spec.narratives
    claims = synthetic_claims.join(provider_notes.select("claim_id"), on="claim_id", how="semi")
    knowledge = _knowledge(context, artifacts, claims)
    started = time.perf_counter()
    ok = provider_notes.filter(pl.col("status") == "ok")
    llm_scores, llm_batch = None, None
    if config.engine == "llm":
        from synth_ehr_assets.defs.narratives_llm import llm_judge_batch, llm_judge_scores

        llm_scores = llm_judge_scores(context, llm, spec, provider_notes, claims)
        llm_batch = llm_judge_batch(context, llm, spec)
    findings = note_findings(provider_notes, claims, knowledge)  # read once, for calibration and the verdicts
    calibration = calibration_report(claims, dict(zip(ok["claim_id"], ok["note"])), config.engine,
                                     config.calibration_per_kind, spec.seed, config, _describe(knowledge), llm_batch,
                                     findings=findings)
    judge_model = llm.model_name(config.base_url, config.model) if config.engine == "llm" else None
    weighted_auroc = effective_auroc(judge_model, calibration["llm_auroc"])  # the lower of release and record
    judged = judge_frame(provider_notes, claims, knowledge, config, llm_scores, weighted_auroc, findings)
    judged = judged.with_columns(release_id=pl.lit(context.partition_key))
    seconds = time.perf_counter() - started
    gate = judge_gate(judged, spec.gates.min_judge_relevance, spec.gates.max_low_note_share,
                      config.min_pass_share, calibration=calibration, min_recall=config.min_detector_recall,
                      max_clean_flag_rate=config.max_clean_flag_rate)
    yield dg.Output(judged, metadata=table_metadata(
        judged,
        seconds=round(seconds, 2),
        pass_share=round(gate["pass_share"], 4),
        mean_combined_score=round(float(judged["combined_score"].mean() or 0.0), 4),
        llm_scored_notes=int(gate["llm_scored"]),
        llm_judge_failures=int(judged["llm_status"].str.starts_with("failed").sum()),
        combined_score_histogram=counts(pl.Series(histogram(judged["combined_score"]))),
        detector_counts=dg.MetadataValue.json(detector_counts(judged)),
        calibration_recall=dg.MetadataValue.json(calibration["recall"]),
        **{f"calibration_{k}": v for k, v in calibration.items()
           if isinstance(v, (int, float)) and not isinstance(v, bool)},
        calibration_engine=calibration["engine"],
        llm_auroc_weighted=str(weighted_auroc),
    ))
    yield dg.AssetCheckResult(
        check_name=JUDGE_CHECK,
        passed=gate["passed"],
        metadata={
            "value": round(gate["pass_share"], 4),  # the headline figure: notes no detector objects to
            "threshold": gate["min_pass_share"],
            "detail": "; ".join(gate["failures"]) or "every judge criterion holds",
            "pass_share": round(gate["pass_share"], 4),
            "mean_relevance": round(gate["mean_relevance"], 3),
            "low_note_share": round(gate["low_note_share"], 4),
            "calibration_min_recall": float(calibration["min_recall"]),
            "calibration_clean_flag_rate": float(calibration["clean_flag_rate"]),
            "calibration_kinds": int(calibration["kinds_planted"]),
            "llm_auroc": str(calibration["llm_auroc"]),
            "llm_auroc_weighted": str(weighted_auroc),
            "min_judge_relevance": str(spec.gates.min_judge_relevance),
            "max_low_note_share": str(spec.gates.max_low_note_share),
            "failures": "; ".join(gate["failures"]) or "none",
            "failing_claim_ids": ", ".join(judged.filter(~pl.col("passed"))["claim_id"].head(IDS_SHOWN)) or "none",
        },
    )


def _describe(knowledge):
    from synth_ehr_assets.core.narratives.judge import _safe

    return _safe(knowledge.description)
