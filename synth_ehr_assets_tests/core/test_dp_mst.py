"""The `dp_mst` kind: save/load round trip, seeded sampling, conditions, the zCDP budget, marginals that approach
the truth as ε grows, and the spec refusals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core.spec import SpecError, parse_spec
from synth_ehr_assets.core.synth.dp import mst_fit
from synth_ehr_assets.core.synth.dp.mst import DPMSTSynthesizer

MST = {"synthesizer": {"kind": "dp_mst"}, "privacy": {"dp_epsilon": 4.0, "drop_exact_matches": False,
                                                      "dp_unit": "claim", "dp_noise_seed": 3}}


@pytest.fixture(scope="module")
def source() -> pl.DataFrame:
    from synth_ehr_assets.core.reference import generate_reference_claims

    return generate_reference_claims(3000, 3, "mst")


def _fit(source: pl.DataFrame, epsilon: float, noise_seed: int = 3) -> DPMSTSynthesizer:
    spec = parse_spec({**MST, "seed": 5, "privacy": {**MST["privacy"], "dp_epsilon": epsilon,
                                                     "dp_noise_seed": noise_seed}}, "mst")
    synthesizer = DPMSTSynthesizer(spec=spec)
    synthesizer.fit(source)
    return synthesizer


@pytest.fixture(scope="module")
def fitted(source) -> DPMSTSynthesizer:
    return _fit(source, 4.0)


def test_sampling_is_seeded_and_survives_save_and_load(fitted, tmp_path):
    from synth_ehr_assets.core.synth.claims import MODEL_COLUMN_KINDS
    from synth_ehr_assets.core.synth.registry import load_synthesizer

    rows = fitted.sample(800, seed=1)
    assert rows.columns == list(MODEL_COLUMN_KINDS) and rows.height == 800
    assert rows.equals(fitted.sample(800, seed=1)) and not rows.equals(fitted.sample(800, seed=2))
    fitted.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and (tmp_path / "mst_tables.npz").is_file()
    loaded = load_synthesizer(tmp_path)
    assert type(loaded) is DPMSTSynthesizer and loaded.sample(800, seed=1).equals(rows)
    inpatient = rows.filter(pl.col("claim_type") == "inpatient")
    assert inpatient["stay_days"].min() >= 1 and rows.filter(pl.col("claim_type") != "inpatient")["drg"].null_count() \
        == rows.filter(pl.col("claim_type") != "inpatient").height


def test_conditions_are_honoured_exactly_even_for_a_value_the_noise_dropped(fitted, source):
    kept = fitted.model["keys"]["dx_1"]
    rare = next(c for c in source["dx_1"].unique().sort().to_list() if c not in kept)
    rows = fitted.sample(500, conditions={kept[0]: 120, rare: 7}, seed=4)
    counts = dict(rows["dx_1"].value_counts().iter_rows())
    assert counts[rare] == 7 and counts[kept[0]] >= 120 and rows.height == 500


def test_the_budget_converts_to_at_most_the_requested_epsilon(fitted):
    budget = fitted.budget
    assert budget["epsilon_spent"] <= 4.0 and budget["epsilon_spent"] > 3.99
    assert mst_fit.cdp_epsilon(budget["rho"], budget["delta_rdp"]) == pytest.approx(budget["epsilon_spent"])
    assert budget["delta_rdp"] + budget["delta_threshold"] == pytest.approx(budget["delta"])
    assert budget["delta"] < 1 / budget["rows"] and budget["measurements"]["two_way"] == len(mst_fit.ATTRIBUTES) - 1
    summary = fitted.params()["dp"]
    assert "MST" in summary["mechanism"] and "zCDP" in summary["accountant"] and summary["public_inputs"]
    assert summary["guarantee"].startswith("none")  # dp_noise_seed replays the noise


def test_the_data_card_names_the_mechanism_the_accountant_and_the_public_inputs(fitted, tmp_path):
    from synth_ehr_assets.core.export.card_privacy import privacy_section
    from synth_ehr_assets.core.export.data_card import _table
    from synth_ehr_assets.core.synth.dp.synthesizer import load_budget

    fitted.save(tmp_path)
    summary = load_budget(tmp_path)
    assert summary == fitted.params()["dp"] and summary["kind"] == "dp_mst"
    card = privacy_section({"differential_privacy": summary, "spec": {"synthesizer": {"kind": "dp_mst"}}}, _table)
    assert "MST" in card and "zCDP accounting" in card and "spanning tree" in card and "ICD-10-CM" in card
    assert "No guarantee holds" in card  # dp_noise_seed


def _distance(source: pl.DataFrame, synthetic: pl.DataFrame) -> float:
    """Largest total variation over the 1-way marginals of claim type, sex, payer and the 10-year age band."""
    def shares(frame, column):
        values = (frame["age"] // 10).cast(pl.String) if column == "age" else frame[column]
        return dict(values.value_counts(normalize=True).rows())
    gaps = []
    for column in ("claim_type", "sex", "payer", "age"):
        real, fake = shares(source, column), shares(synthetic, column)
        gaps.append(0.5 * sum(abs(real.get(k, 0) - fake.get(k, 0)) for k in real.keys() | fake.keys()))
    return max(gaps)


def test_marginals_approach_the_truth_at_large_epsilon_and_are_noisier_at_small_epsilon(source):
    loose, tight = _fit(source, 50.0), _fit(source, 0.1)
    near = _distance(source, loose.sample(6000, seed=1))
    far = _distance(source, tight.sample(6000, seed=1))
    assert near < 0.03 and far > near
    real_dx = source["dx_1"].value_counts(normalize=True).sort("proportion", descending=True).head(5)
    fake = dict(loose.sample(6000, seed=2)["dx_1"].value_counts(normalize=True).iter_rows())
    assert all(abs(fake.get(code, 0) - share) < 0.02 for code, share in real_dx.iter_rows())
    assert len(tight.model["keys"]["dx_1"]) < len(loose.model["keys"]["dx_1"])  # fewer codes clear the noise


@pytest.mark.parametrize("fields, named", [
    ({"synthesizer": {"kind": "dp_mst"}}, r"synthesizer\.kind 'dp_mst' .* needs privacy\.dp_epsilon"),
    ({**MST, "privacy": {"dp_epsilon": 4.0}}, r"privacy\.drop_exact_matches cannot be honoured"),
    ({**MST, "privacy": {**MST["privacy"], "near_duplicate_distance": 0.1}}, r"privacy\.near_duplicate_distance"),
])
def test_dp_mst_settings_it_cannot_honour_fail_naming_the_field(fields, named):
    with pytest.raises(SpecError, match=named):
        parse_spec(fields, "mst")


def test_too_large_a_delta_is_refused_naming_the_field(source):
    spec = parse_spec({**MST, "privacy": {**MST["privacy"], "dp_delta": 0.0009}}, "mst")
    with pytest.raises(ValueError, match=r"privacy\.dp_delta"):
        DPMSTSynthesizer(spec=spec).fit(source.head(2000))
    assert np.isfinite(mst_fit.cdp_rho(1.0, 1e-5))
