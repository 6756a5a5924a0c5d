"""What a failed gate means for the spec: the threshold's field and what else in the spec moves the figure."""

from __future__ import annotations

from dataclasses import dataclass

from synth_ehr_assets.core.spec import ReleaseSpec


@dataclass(frozen=True)
class GateAdvice:
    threshold_fields: tuple[str, ...]  # under `gates:` in the spec
    remedy: str


GATE_ADVICE: dict[str, GateAdvice] = {
    "source_schema_valid": GateAdvice(
        ("max_quarantine_share",),
        "read the reasons in the source_quarantine table; map differently named columns with source.column_map",
    ),
    "synthetic_codes_valid": GateAdvice(
        ("min_valid_code_share",),
        "keep codes.widen_to_catalog false so inverse mapping picks only codes seen in training",
    ),
    "synthetic_age_sex_edits": GateAdvice(
        ("max_age_sex_violations",), "train longer (synthesizer.gan_epochs) or on more source claims (source.claims)"
    ),
    "synthetic_no_source_copies": GateAdvice(
        ("max_exact_matches",),
        "set privacy.drop_exact_matches: true or coarsen privacy.age_band_years / date_granularity",
    ),
    "fidelity_quality_score": GateAdvice(
        ("min_quality_score",),
        "train longer (synthesizer.gan_epochs, synthesizer.autoencoder_epochs) or on more source claims",
    ),
    "fidelity_journeys": GateAdvice(
        ("min_journey_transition_r2_ratio", "min_journey_persistence_ratio"),
        "train on more source patients (source.claims); fewer rejected rows (synthesizer.gan_epochs) leave each "
        "assembled patient more of its claims",
    ),
    "privacy_dcr_overfitting": GateAdvice(
        ("min_dcr_overfitting_protection", "distance_null_factor"),
        "stop the GAN earlier (synthesizer.memorisation_margin, gan_patience), set privacy.near_duplicate_distance, "
        "or train on more source claims (the gate's row count and the real holdout's own score are in its detail)",
    ),
    "privacy_membership_inference": GateAdvice(
        ("max_membership_inference_auc", "distance_null_factor"),
        "stop the GAN earlier (synthesizer.memorisation_margin, gan_patience), set privacy.near_duplicate_distance, "
        "or train on more source claims",
    ),
    "privacy_attack_risk": GateAdvice(
        ("max_attack_risk", "attack_risk_noise_factor"),
        "coarsen privacy.age_band_years / date_granularity, set privacy.near_duplicate_distance, or stop the GAN "
        "earlier (synthesizer.memorisation_margin, gan_patience)",
    ),
    "privacy_canaries": GateAdvice(
        (), "the model reproduces single training claims: stop the GAN earlier (synthesizer.memorisation_margin, "
        "gan_patience), train on more source claims or set privacy.near_duplicate_distance",
    ),
    "privacy_small_source": GateAdvice(
        (), "the source is below synthesizer.small_source_rows training rows: supply more source claims, coarsen "
        "privacy.age_band_years / date_granularity, or stop the GAN earlier (synthesizer.memorisation_margin)",
    ),
    "notes_free_of_phi": GateAdvice(
        ("max_phi_hits",), "the offending claim ids are in the check's metadata; review the narrative engine's prompts"
    ),
    "judge_thresholds": GateAdvice(
        ("min_judge_relevance", "max_low_note_share"),
        "review the failing claim ids in the check's metadata; "
        "narratives.symptom_relevance_threshold tightens symptoms",
    ),
}


def advice_lines(check: str, spec: ReleaseSpec, spec_path: str) -> list[str]:
    """Lines naming the spec fields to change for `check` with their current values."""
    advice = GATE_ADVICE.get(check)
    if advice is None:
        return [f"its threshold is set under `gates:` in {spec_path}"]
    if not advice.threshold_fields:
        return [f"no threshold to relax: {advice.remedy}"]
    fields = ", ".join(f"gates.{name} (now {getattr(spec.gates, name)})" for name in advice.threshold_fields)
    return [f"threshold: {fields} in {spec_path}", f"or: {advice.remedy}"]
