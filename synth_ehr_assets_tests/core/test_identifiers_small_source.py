"""Identifier columns never reach `synthesize` output; small sources that would be memorised are refused."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.identifiers import identifier_reasons
from synth_ehr_assets.core.synth.small_source import SmallSourceError, check_small_source_privacy
from synth_ehr_assets.core.synth.synthesizer import split_three
from synth_ehr_assets.core.synth.tabular import synthesize_table

FAST = SynthesizerConfig(
    latent_dim=8, autoencoder_epochs=3, autoencoder_hidden=[32], gan_hidden=[32], gan_noise_dim=4, gan_epochs=3,
    torch_threads=1, small_source_rows=0,
)


def members(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Claims-like rows with planted identifiers: member ids, phones, e-mails, and a per-patient member number."""
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, n // 3, n)
    return pl.DataFrame({
        "member_id": [f"M{100000 + i}" for i in rng.permutation(n)],
        "phone": [f"({rng.integers(200, 999)}) {rng.integers(200, 999)}-{rng.integers(1000, 9999)}" for _ in range(n)],
        "email": [f"person{i}@example.org" for i in rng.permutation(n)],
        "subscriber": [f"S{p:05d}" for p in patient],
        "household": [f"H{p:05d}" for p in patient],
        "age": rng.integers(18, 90, n),
        "sex": rng.choice(["F", "M"], n).tolist(),
        "payer": rng.choice(["medicare", "medicaid", "commercial"], n).tolist(),
        "charge": rng.lognormal(6, 1, n),
    })


def test_identifier_like_columns_are_detected_with_a_reason():
    table = members()
    reasons = identifier_reasons(table, ["member_id", "phone", "email", "subscriber", "household", "sex", "payer"])
    assert set(reasons) == {"member_id", "phone", "email", "subscriber", "household"}
    assert "phone" in reasons["phone"] and "email" in reasons["email"] and "unique per row" in reasons["member_id"]
    assert "one value per" in reasons["subscriber"]


def test_no_planted_identifier_reaches_synthesize_output(tmp_path):
    table = members()
    table.write_csv(tmp_path / "members.csv")
    report = synthesize_table(tmp_path / "members.csv", tmp_path / "out.csv", 200, seed=1, config=FAST)
    out = pl.read_csv(tmp_path / "out.csv", infer_schema_length=0)
    assert set(report["identifier_columns"]) >= {"member_id", "phone", "email", "subscriber", "household"}
    source_values = {v for c in ("member_id", "phone", "email", "subscriber", "household") for v in table[c]}
    released = {v for c in out.columns for v in out[c].to_list()}
    assert not source_values & released
    assert out["member_id"].n_unique() == 200 and out.columns == table.columns


def test_explicit_meta_kind_wins_over_detection(tmp_path):
    table = members()
    table.write_csv(tmp_path / "members.csv")
    (tmp_path / "meta.json").write_text('{"columns": {"household": {"sdtype": "categorical"}}}')
    report = synthesize_table(tmp_path / "members.csv", tmp_path / "out.csv", 50, tmp_path / "meta.json", 1, FAST)
    assert report["columns"]["household"] == "categorical" and "household" not in report["identifier_columns"]


def _small(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"age": rng.integers(18, 90, n), "charge": rng.lognormal(6, 1, n),
                         "payer": rng.choice(["medicare", "medicaid", "commercial"], n).tolist()})


KINDS = {"age": "numerical", "charge": "numerical", "payer": "categorical"}


def test_small_source_copying_training_rows_is_refused_naming_size_and_remedy():
    table, config = _small(300, 0), SynthesizerConfig()
    train_rows, _, _ = split_three(table.height, config, 3)
    copies = table[train_rows].sample(500, with_replacement=True, seed=0)
    with pytest.raises(SmallSourceError, match=r"300 rows \(210 training rows, below synthesizer.small_source_rows"
                       r" = 500\).*Supply at least 500 training rows"):
        check_small_source_privacy(table, copies, KINDS, config, seed=3)


def test_small_source_with_fresh_rows_passes_and_large_sources_are_not_scored():
    table, config = _small(300, 0), SynthesizerConfig()
    scores = check_small_source_privacy(table, _small(500, 9), KINDS, config, seed=3)
    assert scores["synthetic_protection"] >= scores["real_holdout_protection"] and scores["train_rows"] == 210
    assert check_small_source_privacy(_small(800, 0), _small(10, 1), KINDS, config, seed=3) == {}


def test_small_source_adaptation_keeps_explicit_fields():
    config = SynthesizerConfig(gan_epochs=7)
    adapted = config.adapted_to(217)
    assert adapted.gan_epochs == 7 and adapted.gan_patience == 15 and adapted.memorisation_min_rows == 20
    assert adapted.latent_dim == config.latent_dim and config.adapted_to(500) is config


# The MIMIC-IV demo release's privacy figures (seed 3, 200 synthetic rows, 63 holdout rows per side): its real
# holdout null sits at protection 2 × (1 - 0.6062) = 0.788 with a noise of ± 0.247 at this size.
MIMIC_FIGURES = {"null_share_closer_to_train_median": 0.6062, "null_share_closer_to_train_p95": 0.7663,
                 "null_membership_inference_auc_median": 0.4974, "null_membership_inference_auc_p95": 0.5805,
                 "null_query_rows": 11.0, "null_rows": 16.0, "dcr_rows": 200.0, "dcr_reference_rows": 63.0,
                 "membership_rows": 63.0}


def test_a_small_release_is_held_to_the_real_holdout_null_without_its_noise_allowance():
    from synth_ehr_assets.core.evaluation.distance_null import privacy_gate_bounds
    from synth_ehr_assets.core.spec import GateThresholds
    from synth_ehr_assets.core.synth.small_source import small_source_gate

    gates = GateThresholds()
    null = 2 * (1 - 0.6062)
    assert privacy_gate_bounds(MIMIC_FIGURES, 0.9, 0.6, 2.0)["min_dcr_overfitting_protection"] == 0.5  # DCR gate
    above = small_source_gate(MIMIC_FIGURES | {"dcr_overfitting_protection": 0.80}, 271, 180, 500, gates)
    assert above.passed and above.threshold == pytest.approx(null)
    below = small_source_gate(MIMIC_FIGURES | {"dcr_overfitting_protection": 0.66}, 271, 180, 500, gates)
    assert not below.passed and below.failing == {"dcr_overfitting_protection": 0.66}
    assert "271 source claims, 180 training rows: a small source (below synthesizer.small_source_rows = 500)" \
        in below.detail and "supply at least 500 training rows" in below.detail
    large = small_source_gate(MIMIC_FIGURES | {"dcr_overfitting_protection": 0.66}, 900, 630, 500, gates)
    assert large.passed and "not a small source (630 training rows" in large.detail
    assert small_source_gate(MIMIC_FIGURES | {"dcr_overfitting_protection": 0.1}, 271, 180, 0, gates).passed


def test_the_small_source_gate_fires_on_copies_of_training_rows_and_not_on_unseen_patients():
    from synth_ehr_assets.core.evaluation.figures import headline
    from synth_ehr_assets.core.evaluation.privacy import privacy_figures, privacy_report
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.spec import GateThresholds
    from synth_ehr_assets.core.synth.small_source import small_source_gate

    claims = generate_reference_claims(700, seed=2, release_id="small")
    patients = claims["patient_id"].unique().sort().shuffle(seed=0)
    held, fresh = patients.head(len(patients) // 5), patients.slice(len(patients) // 5, len(patients) // 5)
    holdout = claims.filter(pl.col("patient_id").is_in(held.implode()))
    unseen = claims.filter(pl.col("patient_id").is_in(fresh.implode()))
    train = claims.filter(~pl.col("patient_id").is_in(pl.concat([held, fresh]).implode()))
    sizes = {"max_rows": 2000, "dcr_rows": 2000, "sdmetrics_library_rows": 60, "attack_rows": 100}

    def gate(synthetic: pl.DataFrame):
        figures = headline(privacy_figures("small", privacy_report(train, holdout, synthetic, 3, **sizes)))
        return small_source_gate(figures, claims.height, train.height, 500, GateThresholds())

    copied = gate(train.sample(n=300, seed=1))
    assert not copied.passed and copied.value < copied.threshold, copied.detail
    assert f"{claims.height:,} source claims, {train.height:,} training rows" in copied.detail
    real = gate(unseen)
    assert real.passed, real.detail
