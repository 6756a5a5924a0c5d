"""TableSynthesizer (conditional counts, determinism, persistence) and the `synth-ehr synthesize` path."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from synth_ehr_assets.cli import main
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.synthesizer import SynthesizerVersionError, TableSynthesizer, split_rows, split_three
from synth_ehr_assets.core.synth.tabular import infer_column_kinds, read_meta, synthesize_table
from synth_ehr_assets_tests.core.test_transformer import KINDS, code_vectors, small_table

CONFIG = SynthesizerConfig(
    code_dims=6,
    latent_dim=16,
    autoencoder_epochs=15,
    autoencoder_learning_rate=1e-2,
    autoencoder_hidden=[64, 32],
    gan_hidden=[32, 32],
    gan_noise_dim=8,
    gan_epochs=6,
    batch_size=64,
    memorisation_check_every=3,
    torch_threads=1,
)


@pytest.fixture(scope="module")
def fitted() -> tuple[TableSynthesizer, pl.DataFrame, dict]:
    table = small_table(400)
    synthesizer = TableSynthesizer(KINDS, CONFIG, seed=5, code_vectors=code_vectors, condition_column="dx_1")
    report = synthesizer.fit(table)
    return synthesizer, table, report.to_dict()


def test_fit_report_and_split(fitted):
    _, table, report = fitted
    assert report["train_rows"] == 280 and report["holdout_rows"] == 80 and report["validation_rows"] == 40
    assert len(report["autoencoder"]["epochs"]) == CONFIG.autoencoder_epochs
    assert report["gan"]["memorisation_curve"] and report["seconds"] > 0
    train, holdout = split_rows(table.height, 0.2, seed=5)
    assert len(np.intersect1d(train, holdout)) == 0 and len(train) + len(holdout) == table.height


def test_a_three_way_split_carves_validation_rows_from_train_and_keeps_the_holdout():
    config = CONFIG.model_copy(update={"validation_fraction": 0.1})
    patients = pl.Series([f"P{i // 3}" for i in range(400)])
    train, validation, holdout = split_three(400, config, seed=5, groups=patients)
    assert len(validation) == pytest.approx(40, abs=3) and np.array_equal(holdout, split_rows(400, 0.2, 5, patients)[1])
    sides = [set(patients.gather(rows)) for rows in (train, validation, holdout)]
    assert not sides[0] & sides[1] and not sides[1] & sides[2] and not sides[0] & sides[2]
    assert len(train) + len(validation) + len(holdout) == 400
    two_way = CONFIG.model_copy(update={"validation_fraction": 0.0})
    assert split_three(400, two_way, seed=5)[1].size == 0  # validation_fraction 0: the two-way split


def test_conditional_sampling_meets_exact_counts_even_for_rare_and_unseen_codes(fitted):
    synthesizer, table, _ = fitted
    rare = "A001"  # 1% of the source
    sample = synthesizer.sample(300, conditions={rare: 40, "I10": 25, "K219": 7})
    counts = sample["dx_1"].value_counts().to_dict(as_series=False)
    counts = dict(zip(counts["dx_1"], counts["count"]))
    assert len(sample) == 300 and sample.columns == table.columns
    assert counts[rare] >= 40 and counts["K219"] == 7 and counts["I10"] >= 25
    with pytest.raises(ValueError, match="only 10"):
        synthesizer.sample(10, conditions={"I10": 11})


def test_same_seed_same_rows_other_seed_other_rows(fitted):
    synthesizer, _, _ = fitted
    first = synthesizer.sample(200, conditions={"E119": 20}, seed=11)
    assert first.equals(synthesizer.sample(200, conditions={"E119": 20}, seed=11))
    assert not first.equals(synthesizer.sample(200, conditions={"E119": 20}, seed=12))


def test_sampled_rows_are_valid(fitted):
    synthesizer, table, _ = fitted
    sample = synthesizer.sample(500, seed=1)
    assert sample.schema == table.schema
    assert set(sample["dx_2"].drop_nulls()) <= set(table["dx_2"].drop_nulls()) | set(table["dx_1"])
    assert set(sample["sex"]) <= {"F", "M"} and sample["age"].min() >= 18 and sample["age"].max() <= 94


def test_save_load_same_samples_and_version_check(tmp_path, fitted):
    synthesizer, _, _ = fitted
    synthesizer.save(tmp_path / "model")
    loaded = TableSynthesizer.load(tmp_path / "model", code_vectors)
    assert loaded.sample(150, conditions={"J449": 9}, seed=2).equals(synthesizer.sample(150, conditions={"J449": 9}, seed=2))
    manifest = json.loads((tmp_path / "model" / "synthesizer.json").read_text())
    (tmp_path / "model" / "synthesizer.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(SynthesizerVersionError, match="format_version 99"):
        TableSynthesizer.load(tmp_path / "model")


def test_column_kind_inference_and_meta_errors(tmp_path):
    table = pl.DataFrame({"n": [1, 2], "code": ["E11.9", "I10"], "word": ["x", "y"], "flag": [True, False]})
    assert infer_column_kinds(table) == {"n": "numerical", "code": "icd10cm", "word": "categorical", "flag": "categorical"}
    assert infer_column_kinds(table, {"n": "categorical"})["n"] == "categorical"
    bad = tmp_path / "meta.json"
    bad.write_text(json.dumps({"columns": {"n": {"sdtype": "text"}}}))
    with pytest.raises(ValueError, match="'n' has sdtype 'text'"):
        read_meta(bad)
    with pytest.raises(ValueError, match="missing_column"):
        infer_column_kinds(table, {"missing_column": "numerical"})


def test_synthesize_cli_on_a_tiny_csv_with_meta(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYNTH_EHR_TORCH_THREADS", "1")
    rng = np.random.default_rng(0)
    n = 200
    table = pl.DataFrame(
        {
            "person": np.arange(1000, 1000 + n),
            "zip3": rng.choice([100, 200, 300], n),
            "score": pl.Series(rng.normal(50, 10, n)).set(pl.Series(rng.random(n) < 0.25), None),
            "group": pl.Series([None if r < 0.1 else g for r, g in zip(rng.random(n), rng.choice(["a", "b"], n))], dtype=pl.String),
        }
    )
    table.write_csv(tmp_path / "train.csv")
    meta = {"columns": {"person": {"sdtype": "id"}, "zip3": {"sdtype": "categorical"}}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    args = ["synthesize", "--train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "out.csv"),
            "--rows", "300", "--meta", str(tmp_path / "meta.json"), "--seed", "3"]
    assert main(args) == 2  # 140 training rows: the small-source check refuses, naming the size and the remedy
    assert "small source: 200 rows (140 training rows" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
    report = synthesize_table(tmp_path / "train.csv", tmp_path / "out.csv", 300, tmp_path / "meta.json", seed=3,
                              config=SynthesizerConfig(small_source_rows=0, validation_fraction=0.0))  # check off
    assert report["columns"] == {"person": "id", "zip3": "categorical", "score": "numerical", "group": "categorical"}
    out = pl.read_csv(tmp_path / "out.csv")
    assert out.columns == table.columns and len(out) == 300
    assert out["person"].n_unique() == 300 and set(out["zip3"]) <= {100, 200, 300}
    assert out["score"].dtype == pl.Float64 and 0.05 < out["score"].null_count() / 300 < 0.5
    assert main(["synthesize", "--train", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"), "--rows", "5"]) == 2


def test_a_grouped_split_keeps_each_patient_on_one_side_near_the_holdout_share():
    rng = np.random.default_rng(2)
    patients = pl.Series(rng.integers(0, 400, size=3000)).cast(pl.String)
    train, holdout = split_rows(3000, 0.2, seed=9, groups=patients)
    assert not set(patients.gather(train).to_list()) & set(patients.gather(holdout).to_list())
    assert sorted(np.concatenate([train, holdout]).tolist()) == list(range(3000))
    assert abs(len(holdout) / 3000 - 0.2) < 0.02
    again = split_rows(3000, 0.2, seed=9, groups=patients)
    assert np.array_equal(again[1], holdout) and not np.array_equal(split_rows(3000, 0.2, 10, patients)[1], holdout)
    assert len(split_rows(5, 0.2, seed=1, groups=pl.Series(["a"] * 5))[1]) == 1  # one patient: falls back to rows


def test_validation_rows_are_encoded_saved_and_probed_instead_of_the_holdout(tmp_path):
    from synth_ehr_assets.core.synth.synthesizer import EncodedFeatures, encode_features

    table = small_table(200, seed=4)
    config = SynthesizerConfig(validation_fraction=0.1)
    features = encode_features(table, KINDS, config, seed=2, code_vectors=code_vectors)
    assert features.validation.shape[0] == len(features.validation_rows) == 20
    assert not set(features.validation_rows) & (set(features.train_rows) | set(features.holdout_rows))
    loaded = EncodedFeatures.load(features.save(tmp_path), code_vectors)
    assert np.array_equal(loaded.validation, features.validation)
