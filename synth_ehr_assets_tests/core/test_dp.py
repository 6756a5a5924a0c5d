"""The `dp_latent_gan` kind: the accountant's figures, the sensitivity its mechanisms assume, the spec refusals,
and a small DP release whose rows pass the code and age/sex gates and whose summary names ε, δ and public inputs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.spec import SpecError, parse_spec
from synth_ehr_assets.core.synth.dp import marginals as dpm
from synth_ehr_assets.core.synth.dp.budget import ALPHAS, PrivacyBudgetError, plan_budget, steps_for
from synth_ehr_assets.core.synth.dp.sgd import DPStep, call

DP = {"synthesizer": {"kind": "dp_latent_gan"}, "privacy": {"dp_epsilon": 4.0, "drop_exact_matches": False}}


def _plan(epsilon=4.0, delta=1e-5, rows=10_000, epochs=(10, 20)):
    rate, ae_steps = steps_for(rows, 256, epochs[0])
    _, critic_steps = steps_for(rows, 256, epochs[1])
    return plan_budget(epsilon, delta, rows, {"marginals": 0.2, "autoencoder": 0.4, "critic": 0.4}, 17,
                       {"autoencoder": rate, "critic": rate}, {"autoencoder": ae_steps, "critic": critic_steps})


def test_the_composed_epsilon_is_within_the_request_and_the_accountant_recomputes_it():
    from opacus.accountants import RDPAccountant

    budget = _plan()
    assert 0.97 * 4.0 <= budget.epsilon_spent <= 4.0
    accountant = RDPAccountant()
    for z, rate, steps in budget.history():
        accountant.history.append((z, rate, steps))
    assert accountant.get_epsilon(budget.delta_rdp, alphas=ALPHAS) == pytest.approx(budget.epsilon_spent)
    assert budget.delta_rdp + budget.delta_threshold == pytest.approx(1e-5)
    assert budget.steps["autoencoder"] == int(np.ceil(10 / (256 / 10_000)))


def test_noise_grows_with_a_smaller_epsilon_more_epochs_and_a_higher_sample_rate():
    base = _plan().noise_multipliers
    assert all(_plan(epsilon=1.0).noise_multipliers[m] > base[m] for m in base)
    assert _plan(epochs=(40, 80)).noise_multipliers["critic"] > base["critic"]
    assert _plan(rows=2_000).noise_multipliers["autoencoder"] > base["autoencoder"]  # same batch: q five times higher


def test_a_delta_not_below_one_over_rows_is_refused_naming_the_field():
    with pytest.raises(PrivacyBudgetError, match=r"privacy\.dp_delta .* 1/rows"):
        _plan(delta=1e-3, rows=1_000)


@pytest.mark.parametrize("fields, named", [
    ({"privacy": {"dp_epsilon": 4.0}}, r"privacy\.dp_epsilon .* synthesizer\.kind 'latent_gan' trains without it"),
    ({"synthesizer": {"kind": "dp_latent_gan"}}, r"synthesizer\.kind 'dp_latent_gan' .* needs privacy\.dp_epsilon"),
    ({**DP, "privacy": {"dp_epsilon": 4.0}}, r"privacy\.drop_exact_matches cannot be honoured"),
    ({**DP, "privacy": {**DP["privacy"], "near_duplicate_distance": 0.1}}, r"privacy\.near_duplicate_distance"),
    ({**DP, "codes": {"embed": "used", "widen_to_catalog": True}}, r"codes\.widen_to_catalog cannot be honoured"),
    ({"privacy": {"dp_delta": 1e-6}}, r"privacy\.dp_delta is set but privacy\.dp_epsilon is not"),
])
def test_dp_settings_the_dp_path_cannot_honour_fail_naming_the_field(fields, named):
    with pytest.raises(SpecError, match=named):
        parse_spec(fields, "dp")


def test_a_dp_spec_the_path_can_honour_is_accepted():
    spec = parse_spec({**DP, "codes": {"embed": "all", "widen_to_catalog": True}, "privacy": {**DP["privacy"],
                       "canaries": 3}}, "dp")
    assert spec.privacy.dp_unit == "patient" and spec.synthesizer.kind == "dp_latent_gan"


def _source(n: int) -> pl.DataFrame:
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.synth.claims import model_frame

    return model_frame(generate_reference_claims(n, 4, "dp"))


def test_each_row_moves_every_histogram_by_at_most_l2_one():
    """The sensitivity the accountant charges: remove one row, compare the exact histograms cell by cell."""
    table = _source(400)
    bounds = parse_spec({}, "x").privacy.dp_public_date_range
    for domain in (sorted(set(table["dx_1"]) | {c for col in dpm.SECONDARY for c in table[col].drop_nulls()}), None):
        full = dpm.raw_histograms(table, domain, bounds)
        assert sorted(full) == sorted(dpm.histogram_names()) and len(full) == 17
        for row in (0, 17, 123):
            fewer = dpm.raw_histograms(table.filter(pl.int_range(pl.len()) != row), domain, bounds)
            for name in full:
                a, b = (dict(zip(h[name]["keys"], h[name]["counts"])) for h in (full, fewer))
                change = np.sqrt(sum((a.get(k, 0.0) - b.get(k, 0.0)) ** 2 for k in set(a) | set(b)))
                assert change <= 1.0 + 1e-9, (name, row, change)


def test_noisy_marginals_release_observed_keys_only_above_the_threshold():
    table = _source(400)
    bounds = parse_spec({}, "x").privacy.dp_public_date_range
    released = dpm.noisy_marginals(table, None, bounds, 2.0, 1e-6, np.random.default_rng(1))
    raw = dpm.raw_histograms(table, None, bounds)
    px = dict(zip(raw["px"]["keys"], raw["px"]["counts"]))
    assert released["px"]["threshold"] > 1 + 2.0 * 4  # δ_h = 1e-6 / 5 histograms / 6 keys: Φ⁻¹ ≈ 5.2
    assert all(px[k] > 1 for k in released["px"]["keys"])  # no single-row procedure can clear ~11.5 by noise
    assert released["claim_type"]["public_domain"] and not released["drg"]["public_domain"]


def test_the_dp_noise_is_not_replayed_by_the_release_seed(tmp_path):
    """Two encodings of the same source under the same spec and seed release different noisy marginals."""
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.synth.dp.sgd import entropy_generator
    from synth_ehr_assets.core.synth.dp.stages import dp_encode_claim_features
    from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors

    assert not torch.equal(torch.randn(4, generator=entropy_generator()), torch.randn(4, generator=entropy_generator()))
    source = generate_reference_claims(1500, 2, "dp")
    used = sorted(pl.concat([source[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique())
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    index = NearestCodeIndex(used, hierarchy_vectors(used))
    spec = parse_spec({**DP, "codes": {"embed": "used"}, "synthesizer": {"kind": "dp_latent_gan", "code_dims": 4},
                       "privacy": {**DP["privacy"], "dp_unit": "claim", "dp_epsilon": 20.0}}, "dp")
    seeded = spec.model_copy(update={"privacy": spec.privacy.model_copy(update={"dp_noise_seed": 5})})
    counts = []
    for run, run_spec in (("a", spec), ("b", spec), ("c", seeded), ("d", seeded)):
        (tmp_path / run).mkdir()
        dp_encode_claim_features(source, run_spec, index.vector_of, None, tmp_path / run)
        counts.append((tmp_path / run / dpm.MARGINALS_FILE).read_text())
    assert counts[0] != counts[1]
    # privacy.dp_noise_seed (tests only) replays the noise, and the summary then withdraws the guarantee
    from synth_ehr_assets.core.synth.dp.synthesizer import load_budget

    assert counts[2] == counts[3] != counts[0]
    assert load_budget(tmp_path / "c")["guarantee"].startswith("none") and load_budget(tmp_path / "a")["guarantee"][0] == "("


def test_a_dp_step_bounds_one_rows_influence_by_the_clipping_norm():
    """Without noise and with every row in the batch, adding an extreme row moves the update by ≤ C / (q·n)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    rows = torch.randn(20, 3)
    outlier = torch.full((1, 3), 1e4)

    def update(data: torch.Tensor, n: int) -> torch.Tensor:
        clone = torch.nn.Linear(3, 1)
        clone.load_state_dict(model.state_dict())
        step = DPStep(clone, torch.optim.SGD(clone.parameters(), lr=1.0),
                      lambda p, x: call(clone, p, x).pow(2).mean(), n, 1.0, 0.0, 0.5)
        step.step((data,))
        return torch.cat([p.detach().flatten() for p in clone.parameters()])

    moved = update(torch.cat([rows, outlier]), 20) - update(rows, 20)
    assert float(moved.norm()) <= 0.5 / 20 + 1e-6


@pytest.fixture(scope="module")
def dp_release(tmp_path_factory):
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.synth.claims import release_blocks, synthesize_claims
    from synth_ehr_assets.core.synth.dp.stages import dx_domain, fit_dp_claims
    from synth_ehr_assets.core.vector_store import NearestCodeIndex
    from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors

    torch.set_num_threads(1)
    source = generate_reference_claims(1500, 3, "dp")
    used = pl.concat([source[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().to_list()
    catalog = sorted(set(used) | {c for c in codes.billable_codes() if c.startswith(("I1", "E11", "J4"))})
    index = NearestCodeIndex(catalog, hierarchy_vectors(catalog))
    spec = parse_spec({"rows": 300, "seed": 5, "synthesizer": {
        "kind": "dp_latent_gan", "autoencoder_epochs": 20, "gan_epochs": 30, "code_dims": 6, "latent_dim": 12,
        "autoencoder_hidden": [64], "gan_hidden": [64], "batch_size": 128},
        "privacy": {"dp_epsilon": 4.0, "drop_exact_matches": False, "dp_unit": "claim"}}, "dp")
    folder = tmp_path_factory.mktemp("dp")
    synthesizer, reports = fit_dp_claims(source, spec, index.vector_of, dx_domain(index.codes), folder)
    synthesizer.save(folder / "saved")
    train = source.join(reports["split"].filter(pl.col("split") == "train").select("claim_id"), on="claim_id")
    claims, report = synthesize_claims(synthesizer, spec.rows, code_index=index, train_claims=train,
                                       protected_claims=source, **release_blocks(spec))
    return spec, synthesizer, claims, report, folder, index


def test_a_small_dp_release_passes_the_code_and_age_sex_gates(dp_release):
    from synth_ehr_assets.core.evaluation.table_gates import age_sex_gate, codes_valid_gate

    spec, _, claims, report, _, _ = dp_release
    assert claims.height == spec.rows
    assert codes_valid_gate(claims, spec.gates).passed
    assert age_sex_gate(claims, spec.gates).passed
    assert report["dropped_by_privacy"] == {"exact_copy": 0, "near_duplicate": 0}


def test_the_saved_dp_synthesizer_records_its_guarantee_and_loads_by_kind(dp_release):
    from synth_ehr_assets.core.export.card_privacy import privacy_section
    from synth_ehr_assets.core.export.data_card import _table
    from synth_ehr_assets.core.synth.dp.synthesizer import load_budget
    from synth_ehr_assets.core.synth.registry import load_synthesizer

    spec, synthesizer, _, _, folder, index = dp_release
    summary = load_budget(folder / "saved")
    assert summary["epsilon"] == 4.0 and summary["epsilon_spent"] <= 4.0 and summary["delta"] < 1 / summary["rows"]
    assert "DP-SGD" in summary["mechanism"] and "RDPAccountant" in summary["accountant"]
    assert any("ICD-10-CM" in item for item in [summary["diagnosis_domain"], *summary["public_inputs"]])
    assert summary["not_covered"] and summary["unit"] == "claim"
    loaded = load_synthesizer(folder / "saved", index.vector_of)
    assert loaded.kind == "dp_latent_gan" and loaded.budget.epsilon_spent == synthesizer.budget.epsilon_spent
    assert loaded.sample(50, seed=1).height == 50
    card = privacy_section({"differential_privacy": summary, "spec": spec.model_dump(mode="json")}, _table)
    assert "(4, " in card and "per claim" in card and "Not covered by the guarantee" in card
    assert "No formal guarantee" in privacy_section({"spec": {}}, _table)
