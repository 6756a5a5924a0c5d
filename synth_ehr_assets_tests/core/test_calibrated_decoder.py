"""Calibrated code decoding: the prior follows training co-occurrence, the posterior draw does not collapse onto
hub codes the way the argmax nearest code does, and the condition profile tells the GAN whom a code occurs in."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.synth.calibrated_decoder import CalibratedCodeMapper
from synth_ehr_assets.core.synth.code_mapper import CodeMapper
from synth_ehr_assets.core.synth.code_prior import CodePrior, PairLift, secondary_columns
from synth_ehr_assets.core.synth.condition_profile import ConditionProfile
from synth_ehr_assets.core.synth.registry import UnknownSynthesizerKind, load_synthesizer, synthesizer_class
from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer

from synth_ehr_assets_tests.core.test_synth_claims import small_claims


@pytest.fixture(scope="module")
def claims() -> pl.DataFrame:
    return small_claims(1500, seed=9)


def _share(prior: CodePrior, principal: str, setting: str, code: str) -> float:
    return float(np.exp(prior.log_prior(principal, setting)[prior.pool.index(code)]))


def test_prior_follows_the_principal_and_backs_off_to_its_category_then_the_setting(claims):
    pool = sorted(pl.concat([claims[c] for c in secondary_columns()]).drop_nulls().unique().to_list())
    prior = CodePrior(claims, pool, secondary_columns())
    principal = claims.filter(pl.col("dx_1") == "E119")
    real = principal.filter(pl.any_horizontal(pl.col(c) == "I10" for c in secondary_columns())).height
    estimate = _share(prior, "E119", "professional", "I10")
    assert abs(estimate - real / principal.height) < 0.12
    # a principal code never seen borrows from its category, an unknown category from the setting
    np.testing.assert_allclose(prior.log_prior("E1165", "professional"), prior.log_prior("E11", "professional"))
    np.testing.assert_allclose(prior.log_prior("Q999", "inpatient"), np.log(prior.setting["inpatient"]), rtol=1e-5)


def test_pair_lift_is_positive_for_codes_that_co_occur_and_zero_without_evidence():
    rows = [{"dx_1": "E119", "claim_type": "professional", "dx_2": "I10", "dx_3": "E785"}] * 40
    rows += [{"dx_1": "E119", "claim_type": "professional", "dx_2": "J449", "dx_3": None}] * 40
    frame = pl.DataFrame(rows)
    lift = PairLift(frame, ["E785", "I10", "J449"], ("dx_2", "dx_3"))
    table = lift.rows([pl.Series(["I10", "J449"])])
    assert table[0, 0] > 0.3  # E785 after I10
    assert table[1, 0] < 0  # E785 never with J449
    assert lift.rows([pl.Series([None, None], dtype=pl.String)]) is None


def test_condition_profile_separates_codes_that_read_alike_but_occur_in_other_people():
    frame = pl.DataFrame({
        "dx_1": ["F0390"] * 50 + ["F419"] * 50,
        "age": [82] * 50 + [24] * 50,
        "sex": ["F", "M"] * 50,
        "claim_type": ["professional"] * 100,
        "payer": ["medicare"] * 50 + ["commercial"] * 50,
    })
    profile = ConditionProfile.fit(frame, "dx_1", ("sex", "claim_type", "payer"))
    old, young = profile.encode(pl.Series(["F0390", "F419"]))
    age_old = profile.features.index("age>=75")
    assert old[age_old] > 0.7 and young[age_old] < 0.2
    unseen = profile.encode(pl.Series(["F0391", None]))
    np.testing.assert_allclose(unseen[0], profile.vectors["cat:F03"], rtol=1e-6)
    np.testing.assert_allclose(unseen[1], profile.vectors[""], rtol=1e-6)


def test_posterior_draws_spread_blurred_vectors_where_argmax_makes_a_hub(tmp_path):
    from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors

    frame = small_claims(1200, seed=4)
    used = sorted(pl.concat([frame[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().to_list())
    vectors = dict(zip(used, hierarchy_vectors(used)))

    class Transformer:  # the two methods the mappers use, over the test vectors (identity "PCA")
        codes = used
        code_dims = vectors[used[0]].shape[0]

        def code_pca_vectors(self, codes):
            return np.stack([vectors[c] for c in codes])

    argmax = CodeMapper(Transformer(), frame, None)
    calibrated = CalibratedCodeMapper(Transformer(), frame, None, seed=3, sigma=5.0)
    n = 3000
    blurred = np.tile(np.mean([vectors[c] for c in used], axis=0), (n, 1)).astype(np.float32)
    context = pl.DataFrame({
        "dx_1": ["E119"] * n, "claim_type": ["professional"] * n, "age": [60] * n, "sex": ["F"] * n,
    })
    present = np.ones(n, dtype=bool)
    hub = argmax("dx_2", blurred, present, context)
    drawn = calibrated("dx_2", blurred, present, context)
    assert hub.n_unique() == 1
    real = frame.filter(pl.col("dx_1") == "E119")["dx_2"].drop_nulls().value_counts(normalize=True)
    got = drawn.value_counts(normalize=True).rename({"proportion": "got"})
    joined = real.join(got, on="dx_2", how="left").fill_null(0)
    assert drawn.n_unique() >= 4 and (joined["proportion"] - joined["got"]).abs().max() < 0.12
    # a code already on the claim is never drawn again
    again = calibrated("dx_3", blurred, present, context.with_columns(dx_2=drawn))
    assert not (again == drawn).any()


def test_registry_names_the_field_for_an_unknown_kind_and_loads_saved_synthesizers(tmp_path):
    assert synthesizer_class("latent_gan") is TableSynthesizer
    with pytest.raises(UnknownSynthesizerKind, match="synthesizer.kind 'ctgan'"):
        synthesizer_class("ctgan")
    with pytest.raises(FileNotFoundError):
        load_synthesizer(tmp_path)


def test_secondary_codes_are_drawn_only_at_ages_training_saw_them():
    from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors

    frame = small_claims(1200, seed=6)  # adults 18-89 only
    used = sorted(pl.concat([frame[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().to_list())
    vectors = dict(zip(used, hierarchy_vectors(used)))

    class Transformer:
        codes = used
        code_dims = vectors[used[0]].shape[0]

        def code_pca_vectors(self, codes):
            return np.stack([vectors[c] for c in codes])

    mapper = CalibratedCodeMapper(Transformer(), frame, None, seed=1, sigma=5.0)
    n = 500
    queries = np.tile(vectors["I10"], (n, 1)).astype(np.float32)
    context = pl.DataFrame({"dx_1": ["E119"] * n, "claim_type": ["professional"] * n, "age": [45] * n, "sex": ["F"] * n})
    adult = mapper("dx_2", queries, np.ones(n, dtype=bool), context)
    assert adult.n_unique() > 1
    seen_young = set(pl.concat([frame.filter(pl.col("age") < 20)[c] for c in schema.DX_COLUMNS]).drop_nulls().to_list())
    teen = mapper("dx_2", queries, np.ones(n, dtype=bool), context.with_columns(age=pl.lit(15)))
    assert set(teen.drop_nulls().to_list()) <= seen_young | set(
        code for code in used if frame.select(pl.any_horizontal(pl.col(c) == code for c in schema.DX_COLUMNS)).sum().item() < 8
    )


def test_a_sex_specific_principal_decodes_only_the_sex_its_cms_edit_allows():
    """The mask reads only the principal and the CMS edits, so it is tested on the two methods alone."""
    sex_of = CalibratedCodeMapper._principal_sex
    holder = type("Holder", (), {"_sex_of_principal": {}})()
    assert sex_of(holder, "C61") == {"M"}  # prostate cancer
    assert sex_of(holder, "O480") == {"F"}  # post-term pregnancy
    assert sex_of(holder, "I10") is None and sex_of(holder, "Z3800") is None  # any sex; an age-only edit
    holder._principal_sex = lambda code: sex_of(holder, code)
    holder._principal_settings = None
    context = pl.DataFrame({"dx_1": ["C61", "O480", "I10"]})
    mask = CalibratedCodeMapper.category_mask(holder, "sex", ["F", "M"], context)
    assert mask.tolist() == [[False, True], [True, False], [True, True]]
    assert CalibratedCodeMapper.category_mask(holder, "region", ["south"], context) is None
