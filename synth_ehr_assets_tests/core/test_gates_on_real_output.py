"""Real, deliberately bad synthesizer output through the gates: a claims synthesizer fitted for one epoch, its rows
decoded by the argmax nearest code and released without the clinical edits. The code-structure gate and the
age/sex gate fire on it; the gates that this output does not break (codes are decoded from the catalog, no row
copies a source row) pass, so each verdict is the gate's own. The same model behind a decoder with an injected
fault (a vocabulary of categories) trips the code-validity gate, and source rows planted among its rows trip the
copies gate."""

from __future__ import annotations

import polars as pl
import pytest

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.evaluation import code_structure as cs
from synth_ehr_assets.core.evaluation import table_gates
from synth_ehr_assets.core.evaluation.figures import figures_frame
from synth_ehr_assets.core.evaluation.gates import code_structure_gate
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import GateThresholds, PrivacyConfig
from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors

DEFAULTS = GateThresholds()


def fitted_claims_model(claims: int, seed: int, holdout_rows: int, epochs: tuple[int, int], probe_rows: int):
    """(reference claims, train, holdout, code index, claims synthesizer fitted for `epochs` = (autoencoder, GAN))."""
    import torch

    from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, MODEL_COLUMN_KINDS, model_frame
    from synth_ehr_assets.core.synth.config import SynthesizerConfig
    from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    torch.set_num_threads(1)
    real = generate_reference_claims(claims, seed=seed, release_id="bad")
    # held out by patient (the release default), about `holdout_rows` claims: the privacy gates' null applies
    patients = real["patient_id"].unique(maintain_order=True).shuffle(seed=seed - 1)
    counts = real.group_by("patient_id").len()
    order = pl.DataFrame({"patient_id": patients}).join(counts, on="patient_id", how="left").with_columns(
        before=pl.col("len").cum_sum() - pl.col("len"))
    holdout = pl.col("patient_id").is_in(order.filter(pl.col("before") < holdout_rows)["patient_id"].implode())
    train = real.filter(~holdout)
    catalog = sorted(pl.concat([real[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique())
    index = NearestCodeIndex(catalog, hierarchy_vectors(catalog))
    config = SynthesizerConfig(code_dims=6, latent_dim=12, autoencoder_epochs=epochs[0], gan_epochs=epochs[1],
                               batch_size=128, autoencoder_hidden=[64], gan_hidden=[64],
                               memorisation_probe_rows=probe_rows)
    model = TableSynthesizer(MODEL_COLUMN_KINDS, config, seed=3, code_vectors=index.vector_of,
                             condition_column=CONDITION_COLUMN)
    model.fit(model_frame(train))
    return real, train, real.filter(holdout), index, model


@pytest.fixture(scope="module")
def one_epoch_output() -> dict[str, pl.DataFrame]:
    from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, claims_frame

    real, train, held, index, model = fitted_claims_model(2500, 1, 500, epochs=(1, 1), probe_rows=100)
    sampled = model.sample(1000, seed=7).with_columns(pl.col(CONDITION_COLUMN).cast(pl.String))
    synthetic = schema.conform(claims_frame(sampled))
    return {"source": real, "train": train, "holdout": held, "synthetic": synthetic, "model": model, "index": index}


def test_the_code_structure_gate_fires_on_a_one_epoch_synthesizer(one_epoch_output):
    report = cs.code_structure_report(one_epoch_output["train"], one_epoch_output["holdout"],
                                      one_epoch_output["synthetic"])
    figures = figures_frame("bad", "fidelity", cs.code_structure_headline(report), cs.code_structure_detail(report))
    result = code_structure_gate(figures, DEFAULTS)
    assert not result.passed
    assert {"all_dx_prevalence_r2", "cooccurrence_r2", "max_overrepresentation"} <= set(result.failing)
    assert result.failing["all_dx_prevalence_r2"] < 0.9 < report["holdout"]["all_dx_prevalence_r2"]


def test_the_age_sex_gate_fires_on_unedited_rows_and_the_unbroken_gates_pass(one_epoch_output):
    synthetic = one_epoch_output["synthetic"]
    edits = table_gates.age_sex_gate(synthetic, DEFAULTS)
    assert not edits.passed and edits.value > 0 and edits.failing
    assert table_gates.codes_valid_gate(synthetic, DEFAULTS).passed
    assert table_gates.source_copies_gate(synthetic, one_epoch_output["source"], DEFAULTS, PrivacyConfig()).passed


def test_the_codes_valid_gate_fires_on_a_decoder_whose_vocabulary_lost_the_code_subdivisions(one_epoch_output):
    """Fault: the decoder's vocabulary holds three-character categories (as a category-level code table would),
    so the real synthesizer's slots decode to E11 instead of E11.9; the gate, reading simple-icd-10-cm itself,
    blocks the rows and names them."""
    from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, claims_frame
    from synth_ehr_assets.core.synth.code_mapper import CodeMapper

    model, train = one_epoch_output["model"], one_epoch_output["train"]
    broken = CodeMapper(model.transformer, train, one_epoch_output["index"])
    broken.vocabulary = broken.vocabulary.str.slice(0, 3)  # the injected fault
    sampled = model.sample(600, code_decoder=broken, seed=8).with_columns(pl.col(CONDITION_COLUMN).cast(pl.String))
    synthetic = schema.conform(claims_frame(sampled))
    verdict = table_gates.codes_valid_gate(synthetic, DEFAULTS)
    assert not verdict.passed and verdict.value < 0.9 and verdict.failing
    intact = model.sample(600, code_decoder=CodeMapper(model.transformer, train, one_epoch_output["index"]), seed=8)
    assert table_gates.codes_valid_gate(schema.conform(claims_frame(intact)), DEFAULTS).passed


def test_the_source_copies_gate_counts_source_rows_planted_in_real_synthetic_output(one_epoch_output):
    """Five training rows planted among the one-epoch synthesizer's rows (what a synthesizer that memorises, or a
    pipeline that leaks its input, releases): the gate counts exactly those five, slot order shuffled or not."""
    synthetic, source = one_epoch_output["synthetic"], one_epoch_output["source"]
    planted = source.sample(5, seed=9).with_columns(dx_2=pl.col("dx_3"), dx_3=pl.col("dx_2"))
    released = pl.concat([synthetic, planted.select(synthetic.columns).cast(synthetic.schema)])
    verdict = table_gates.source_copies_gate(released, source, DEFAULTS, PrivacyConfig())
    assert not verdict.passed and verdict.value == 5
    assert table_gates.source_copies_gate(synthetic, source, DEFAULTS, PrivacyConfig()).passed


def test_the_code_structure_gate_blocks_the_argmax_decoder_and_the_calibrated_one_keeps_the_structure():
    """The same fitted synthesizer through the whole synthesis loop (edits and resampling on), decoded two ways:
    the argmax nearest code piles secondary slots onto a few hub codes and the gate blocks it; the calibrated
    decoder keeps the training prevalences and co-occurrences."""
    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.core.synth.claims import release_blocks, synthesize_claims

    real, train, held, index, model = fitted_claims_model(3000, 2, 600, epochs=(15, 30), probe_rows=200)
    spec = parse_spec({"rows": 2400, "seed": 6}, "dec")
    verdicts = {}
    for decoding in ("argmax", "calibrated"):
        blocks = {**release_blocks(spec), "decoding": decoding}
        claims, _ = synthesize_claims(model, 2400, code_index=index, train_claims=train, **blocks)
        report = cs.code_structure_report(train, held, claims)
        figures = figures_frame("dec", "fidelity", cs.code_structure_headline(report), cs.code_structure_detail(report))
        verdicts[decoding] = (report["synthetic"], code_structure_gate(figures, DEFAULTS))
    argmax, calibrated = verdicts["argmax"], verdicts["calibrated"]
    assert not argmax[1].passed and "all_dx_prevalence_r2" in argmax[1].failing
    assert calibrated[0]["all_dx_prevalence_r2"] > argmax[0]["all_dx_prevalence_r2"] + 0.2
    assert calibrated[0]["cooccurrence_r2"] > argmax[0]["cooccurrence_r2"]


def test_the_dcr_and_membership_gates_fire_on_training_rows_planted_in_real_synthetic_output(one_epoch_output):
    """Half of the one-epoch synthesizer's rows replaced by training rows (new ids, as a memorising model would
    release them): the DCR and membership gates block; the real rows alone pass both."""
    from synth_ehr_assets.core.evaluation.gates import dcr_overfitting_gate, membership_inference_gate
    from synth_ehr_assets.core.evaluation.privacy import privacy_figures, privacy_report

    synthetic, train, held = one_epoch_output["synthetic"], one_epoch_output["train"], one_epoch_output["holdout"]
    copies = train.sample(500, seed=4).with_columns(pl.concat_str(pl.lit("S"), "claim_id").alias("claim_id"))
    planted = pl.concat([synthetic.head(500), copies.select(synthetic.columns).cast(synthetic.schema)])
    small = {"max_rows": 1000, "dcr_rows": 1000, "sdmetrics_library_rows": 50, "attack_rows": 200}
    verdicts = {}
    for name, rows in {"real": synthetic, "planted": planted}.items():
        figures = privacy_figures("bad", privacy_report(train, held, rows, 5, **small))
        verdicts[name] = (dcr_overfitting_gate(figures, DEFAULTS), membership_inference_gate(figures, DEFAULTS))
    assert all(gate.passed for gate in verdicts["real"]), [gate.detail for gate in verdicts["real"]]
    assert not any(gate.passed for gate in verdicts["planted"]), [gate.detail for gate in verdicts["planted"]]
