"""Synthetic claims end to end on a small fitted synthesizer: valid codes only, edits hold, copies filtered,
coverage targets met exactly (also for a code rare in the source), same seed → same table."""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import polars as pl
import pytest
import torch

from synth_ehr_assets.core import age_sex_edits, codes, schema
from synth_ehr_assets.core.spec import parse_spec
from synth_ehr_assets.core.synth.claims import (
    CONDITION_COLUMN,
    MODEL_COLUMN_KINDS,
    SynthesisError,
    claims_frame,
    model_frame,
    release_blocks,
    synthesize_claims,
)
from synth_ehr_assets.core.synth.code_mapper import CodeMapper
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.privacy_filters import exact_copy_mask
from synth_ehr_assets.core.synth.rules import check_claims, unacceptable_principal_codes
from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer
from synth_ehr_assets.core.vector_store import NearestCodeIndex

PRINCIPAL = ["E119", "I10", "J449", "I5023", "N1831", "E785", "M545", "J189", "K219", "F329"]
SECONDARY = ["I10", "E785", "E669", "Z7984", "N179", "F17210", "G4733", "K5900"]
OFFICE_PX = ["99213", "99214", "93000", "80053", "G0439"]
INPATIENT_PX = ["0DTJ4ZZ", "5A1955Z", "30233N1", "0SR90J9"]
RARE_CODE = "E840"


def small_claims(n: int, seed: int) -> pl.DataFrame:
    """A consistent little claims table: settings with matching px/drg/los, ordered amounts, pregnancies in women."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sex = "F" if rng.random() < 0.55 else "M"
        age = int(rng.integers(18, 90))
        kind = rng.choice(["professional", "outpatient", "inpatient"], p=[0.6, 0.25, 0.15])
        dx1 = str(rng.choice(PRINCIPAL))
        if sex == "F" and age < 42 and rng.random() < 0.3:
            dx1 = "O80"
        if i < 3:
            dx1 = RARE_CODE
        others = [c for c in rng.choice(SECONDARY, size=int(rng.integers(0, 4)), replace=False) if c != dx1]
        inpatient = kind == "inpatient"
        charge = float(np.round(rng.lognormal(9 if inpatient else 5, 0.8), 2))
        allowed = round(charge * float(rng.uniform(0.3, 0.9)), 2)
        rows.append(
            {
                "claim_id": f"SRC{i:06d}",
                "patient_id": f"PAT{i:06d}",
                "claim_type": str(kind),
                "service_date": dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365))),
                "los_days": int(rng.integers(1, 9)) if inpatient else 0,
                "age": age,
                "sex": sex,
                "region": str(rng.choice(schema.REGIONS)),
                "payer": str(rng.choice(schema.PAYERS)),
                **{f"dx_{j + 1}": code for j, code in enumerate([dx1, *others])},
                "px_1": str(rng.choice(INPATIENT_PX if inpatient else OFFICE_PX)),
                "drg": str(rng.choice(["291", "190", "871"])) if inpatient else None,
                "charge_amount": charge,
                "allowed_amount": allowed,
                "paid_amount": round(allowed * float(rng.uniform(0.5, 1.0)), 2),
                "provider_specialty": str(rng.choice(["internal_medicine", "cardiology", "family_practice"])),
            }
        )
    return schema.conform(pl.DataFrame(rows, infer_schema_length=None)).with_columns(pl.lit("src").alias("release_id"))


def hierarchy_vectors(code_list: list[str]) -> np.ndarray:
    """Test vectors that keep ICD structure without the embedding model: a seeded direction per 3-character
    category, plus a smaller seeded offset per code."""

    def seeded(text: str, scale: float) -> np.ndarray:
        return np.random.default_rng(zlib.crc32(text.encode())).normal(scale=scale, size=32)

    vectors = np.stack([seeded(code[:3], 1.0) + seeded(code, 0.3) for code in code_list]).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def source() -> pl.DataFrame:
    return small_claims(1500, seed=5)


@pytest.fixture(scope="module")
def code_index(source) -> NearestCodeIndex:
    used = pl.concat([source[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().to_list()
    crohn = [c for c in codes.billable_codes() if c.startswith("K50")]
    catalog = sorted(set(used) | set(crohn) | {"E8411", "E849", "W010XXA"})
    return NearestCodeIndex(catalog, hierarchy_vectors(catalog))


@pytest.fixture(scope="module")
def synthesizer(source, code_index) -> TableSynthesizer:
    torch.set_num_threads(1)
    config = SynthesizerConfig(
        code_dims=6,
        latent_dim=12,
        autoencoder_epochs=20,
        gan_epochs=20,
        batch_size=64,
        autoencoder_hidden=[64],
        gan_hidden=[64],
        memorisation_probe_rows=200,
    )
    model = TableSynthesizer(
        MODEL_COLUMN_KINDS, config, seed=3, code_vectors=code_index.vector_of, condition_column=CONDITION_COLUMN
    )
    model.fit(model_frame(source))
    return model


def release(**fields):
    return parse_spec({"rows": 300, "seed": 11, **fields}, "claims-test")


def run(synthesizer, rows, spec, code_index, source):
    return synthesize_claims(synthesizer, rows, code_index=code_index, train_claims=source, **release_blocks(spec))


def test_claims_have_the_requested_rows_schema_fresh_ids_and_pass_every_edit(synthesizer, code_index, source):
    claims, report = run(synthesizer, 300, release(), code_index, source)
    assert claims.height == 300 and claims.schema == pl.Schema(schema.CLAIM_SCHEMA)
    assert (claims["release_id"] == "claims-test").all()
    assert claims["claim_id"].n_unique() == 300 and claims["patient_id"].n_unique() == 300
    assert not claims["claim_id"].is_in(source["claim_id"].implode()).any()
    assert check_claims(claims).height == 0
    dx = pl.concat([claims[c] for c in schema.DX_COLUMNS]).drop_nulls()
    assert dx.is_in(pl.Series(sorted(codes.billable_codes())).implode()).all()
    seen = pl.concat([source[c] for c in schema.DX_COLUMNS]).drop_nulls().unique()
    assert dx.is_in(seen.implode()).all(), "without widen_to_catalog only training codes may appear"
    assert report["rows"] == 300 and report["sampled_rows"] >= 300
    assert 0 <= report["rejection_rate"] < 1 and set(report["rejected_by_rule"]) >= {"age_sex_edit", "amount_order"}


def test_the_code_mapper_returns_only_admissible_codes_for_any_vector(synthesizer, code_index, source):
    mapper = CodeMapper(synthesizer.transformer, source, code_index)
    rng = np.random.default_rng(0)
    vectors = rng.normal(scale=3.0, size=(500, synthesizer.transformer.code_dims)).astype(np.float32)
    present = rng.random(500) < 0.8
    principal = pl.Series(mapper("dx_1", vectors, present), dtype=pl.String)
    secondary = pl.Series(mapper("dx_4", vectors, present), dtype=pl.String)
    procedures = pl.Series(mapper("px_2", vectors, present), dtype=pl.String)
    assert principal.is_null().to_list() == (~present).tolist()
    billable = pl.Series(sorted(codes.billable_codes())).implode()
    assert principal.drop_nulls().is_in(billable).all() and secondary.drop_nulls().is_in(billable).all()
    assert not principal.drop_nulls().is_in(unacceptable_principal_codes()["code"].implode()).any()
    assert principal.drop_nulls().is_in(source["dx_1"].implode()).all()
    assert procedures.drop_nulls().is_in(pl.Series(OFFICE_PX + INPATIENT_PX).implode()).all()
    widened = CodeMapper(synthesizer.transformer, source, code_index, widen=True)
    assert widened.pool_sizes["secondary"] > mapper.pool_sizes["secondary"]
    assert "W010XXA" not in widened.indexes["principal"].codes, "external causes are never principal"


def test_the_code_mapper_fits_each_code_to_its_row_age_sex_and_setting(synthesizer, code_index, source):
    mapper = CodeMapper(synthesizer.transformer, source, code_index, widen=True)
    rng = np.random.default_rng(1)
    n = 2000
    context = pl.DataFrame(
        {
            "claim_type": rng.choice(["inpatient", "outpatient", "professional"], n).tolist(),
            "age": rng.choice([0, 4, 30, 70, 90], n).tolist(),
            "sex": rng.choice(["F", "M"], n).tolist(),
        }
    )
    present = np.ones(n, dtype=bool)
    dims = synthesizer.transformer.code_dims
    for slot in ("dx_2", "dx_3", "px_1", "px_2"):
        vectors = rng.normal(scale=3.0, size=(n, dims)).astype(np.float32)
        free = pl.Series(mapper(slot, vectors, present), dtype=pl.String)
        context = context.with_columns(mapper(slot, vectors, present, context))
        if slot == "dx_3":  # the free mapping breaks the edits for some rows, the contextual one for none
            assert age_sex_edits.conflict_mask(free, context["age"], context["sex"]).any()
    for slot in ("dx_2", "dx_3"):
        assert not age_sex_edits.conflict_mask(context[slot], context["age"], context["sex"]).any()
    inpatient = context.filter(pl.col("claim_type") == "inpatient")
    assert inpatient["px_1"].str.contains(r"^[0-9A-Z]{7}$").all()
    assert context.filter(pl.col("claim_type") != "inpatient")["px_2"].str.len_chars().eq(5).all()


def test_coverage_targets_are_met_exactly_even_for_rare_and_unseen_codes(synthesizer, code_index, source):
    assert source.filter(pl.col("dx_1") == RARE_CODE).height == 3
    spec = release(coverage=[{"code": "E84.0", "min_claims": 60}, {"category": "K50", "min_claims": 25}])
    claims, report = run(synthesizer, 300, spec, code_index, source)
    assert claims.height == 300
    assert claims.filter(pl.col("dx_1") == RARE_CODE).height >= 60
    assert claims.filter(pl.col("dx_1").str.starts_with("K50")).height >= 25
    achieved = {(item["code"] or item["category"]): item["achieved"] for item in report["coverage"]}
    assert achieved["E840"] >= 60 and achieved["K50"] >= 25
    assert check_claims(claims).height == 0


def test_same_seed_same_claims_and_another_seed_other_claims(synthesizer, code_index, source):
    first, _ = run(synthesizer, 200, release(), code_index, source)
    again, _ = run(synthesizer, 200, release(), code_index, source)
    other, _ = run(synthesizer, 200, release(seed=12), code_index, source)
    assert first.equals(again)
    assert not first.equals(other)


class FaultySynthesizer:
    """Injects faults into a real synthesizer's output: broken rows and verbatim copies of source rows."""

    def __init__(
        self, inner: TableSynthesizer, source: pl.DataFrame, copies: bool = False, always_broken: bool = False
    ):
        self.inner, self.source, self.copies, self.always_broken = inner, source, copies, always_broken
        self.transformer, self.autoencoder = inner.transformer, inner.autoencoder
        self.generator, self.condition_column = inner.generator, inner.condition_column
        self.condition_profile = inner.condition_profile

    def sample(self, n, conditions=None, code_decoder=None, seed=None):
        frame = self.inner.sample(n, conditions=conditions, code_decoder=code_decoder, seed=seed)
        broken = pl.int_range(pl.len()) % 3 == 0 if not self.always_broken else pl.lit(True)
        frame = frame.with_columns(
            pl.when(broken).then(pl.lit("N179")).otherwise(pl.col("dx_2")).alias("dx_3"),
            pl.when(broken).then(pl.lit("N179")).otherwise(pl.col("dx_3")).alias("dx_2"),
            pl.when(broken).then(None).otherwise(pl.col("allowed_share")).alias("allowed_share"),  # no allowed amount
        )
        if self.copies:
            copied = model_frame(self.source.sample(n // 4, seed=seed)).select(frame.columns)
            frame = pl.concat([copied, frame.tail(n - copied.height)])
        return frame


def test_edits_never_let_a_broken_row_through_and_copies_are_filtered(synthesizer, code_index, source):
    faulty = FaultySynthesizer(synthesizer, source, copies=True)
    claims, report = run(faulty, 250, release(), code_index, source)
    assert claims.height == 250 and check_claims(claims).height == 0
    assert report["rejected_by_rule"]["amount_order"] > 0 and report["rejected_by_rule"]["duplicate_dx"] > 0
    assert report["dropped_by_privacy"]["exact_copy"] > 0
    assert not exact_copy_mask(claims, source, release().privacy).any()


def test_rows_that_can_never_pass_stop_after_bounded_rounds_naming_the_rule(synthesizer, code_index, source):
    faulty = FaultySynthesizer(synthesizer, source, always_broken=True)
    with pytest.raises(SynthesisError, match="amount_order"):
        run(faulty, 50, release(rows=50), code_index, source)


def test_near_duplicates_of_training_rows_are_dropped_and_resampled(synthesizer, code_index, source):
    from synth_ehr_assets.core.synth.privacy_filters import nearest_distances

    transformer = synthesizer.transformer
    train_features = transformer.transform(model_frame(source))
    plain, _ = run(synthesizer, 200, release(), code_index, source)
    distances = nearest_distances(transformer.transform(model_frame(plain)), train_features)
    threshold = float(np.quantile(distances, 0.3))
    spec = release(privacy={"near_duplicate_distance": threshold})
    filtered, report = run(synthesizer, 200, spec, code_index, source)
    kept = nearest_distances(transformer.transform(model_frame(filtered)), train_features)
    assert report["dropped_by_privacy"]["near_duplicate"] > 0
    assert filtered.height == 200 and (kept >= threshold).all()


def test_generalised_quasi_identifiers_are_released_and_still_pass_the_edits(synthesizer, code_index, source):
    spec = release(privacy={"age_band_years": 5, "date_granularity": "month"})
    claims, _ = run(synthesizer, 150, spec, code_index, source)
    assert (claims["age"] % 5 == 0).all() and (claims["service_date"].dt.day() == 1).all()
    assert check_claims(claims).height == 0


def test_amounts_travel_as_shares_the_stay_as_inpatient_only_and_come_back_consistent(source):
    back = claims_frame(model_frame(source))
    np.testing.assert_allclose(back["allowed_amount"], source["allowed_amount"], rtol=1e-9)
    np.testing.assert_allclose(back["paid_amount"], source["paid_amount"], rtol=1e-9)
    assert back["los_days"].equals(source["los_days"]) and back["drg"].equals(source["drg"])
    assert model_frame(source).filter(pl.col("claim_type") != "inpatient")["stay_days"].null_count() == (
        source.filter(pl.col("claim_type") != "inpatient").height
    )
    wild = pl.DataFrame(
        {
            "claim_type": ["inpatient", "professional", "outpatient"],
            "stay_days": [3, 5, None],
            "drg": ["470", "470", None],
            "charge_amount": [100.0, 37.31, 5e6],
            "allowed_share": [1.7, 0.999, -0.2],
            "paid_share": [1.0, 1.3, 0.5],
        }
    )
    claims = claims_frame(wild)
    assert ((claims["paid_amount"] >= 0) & (claims["paid_amount"] <= claims["allowed_amount"])).all()
    assert (claims["allowed_amount"] <= claims["charge_amount"]).all()
    assert claims["los_days"].to_list() == [3, 0, 0] and claims["drg"].to_list() == ["470", None, None]
