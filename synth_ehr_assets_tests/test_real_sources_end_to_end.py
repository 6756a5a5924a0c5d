"""Releases on the sources users have, end to end: the MIMIC-IV demo (real data) and a CMS-style claim-line file.

Every blocking gate must be evaluated; the MIMIC-IV release (271 admissions, a small source) must refuse clearly
(failed gates carry their value and threshold and name the source size and what to change, nothing is released),
and no source identifier may reach a release.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from synth_ehr_assets_tests.core.test_source_formats import CMS_SOURCE, FIXTURES
from synth_ehr_assets_tests.defs.helpers import materialize, read_table, release_instance
from synth_ehr_assets_tests.test_end_to_end import BLOCKING_GATES

MIMIC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mimic-iv-demo-2.2"
FAST = {"autoencoder_epochs": 20, "gan_epochs": 40}
GATE_STEPS = {"fidelity_report", "privacy_report", "judge_scores"}  # steps whose failures are their gates
SMALL_SOURCE_GATE = ("privacy_report", "privacy_small_source")


def _run(release: str, spec: dict, write_spec) -> tuple:
    from synth_ehr_assets.definitions import build_definitions

    write_spec(release, spec)
    assets = [key.to_user_string() for key in build_definitions().resolve_asset_graph().materializable_asset_keys]
    with release_instance(release) as instance:
        result = materialize(assets, release, instance, raise_on_error=False)
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    failed_steps = {e.step_key for e in result.all_events if e.is_step_failure}
    return result, checks, failed_steps


@pytest.mark.slow  # about 60 s on 2 cores: a whole release on real data with the default synthesizer
@pytest.mark.skipif(not MIMIC.is_dir(), reason=f"the MIMIC-IV demo is not at {MIMIC} (../shared/data)")
def test_a_mimic_iv_release_completes_with_every_gate_evaluated(write_spec, stores):
    """The synthesizer's defaults, as a new user runs them. The demo is a small source (271 admissions, 180
    training rows under the patient three-way split): real unseen patients reach an sdmetrics quality of only 0.62
    against train there, under the 0.8 bar, so the release must refuse, every gate evaluated and each failure
    naming the source size and what to change."""
    spec = {"rows": 200, "seed": 3, "source": {"kind": "mimic_iv", "path": str(MIMIC)}, "codes": {"embed": "used"},
            "narratives": {"engine": "design", "sample_size": 10}}
    result, checks, failed_steps = _run("mimicdemo", spec, write_spec)
    assert BLOCKING_GATES | {SMALL_SOURCE_GATE} <= set(checks), f"never evaluated: {BLOCKING_GATES - set(checks)}"
    assert failed_steps <= GATE_STEPS, failed_steps  # the model steps ran; only gates refused
    fidelity = {r["metric"]: r["value"] for r in read_table("fidelity_report", "mimicdemo")
                .filter(pl.col("column").is_null() | (pl.col("column") == "")).iter_rows(named=True)}
    quality = checks[("fidelity_report", "fidelity_quality_score")]
    assert fidelity["quality_score_null"] < 0.8 and not quality.passed
    assert f"real holdout {fidelity['quality_score_null']:.3f}" in quality.metadata["detail"].value
    assert not result.success and not (stores / "releases" / "mimicdemo" / "manifest.json").exists()
    failed = {key for key, e in checks.items() if not e.passed}
    for key in failed:
        metadata = {k: v.value for k, v in checks[key].metadata.items()}
        assert {"value", "threshold"} <= set(metadata), (key, metadata)
        if key[0] in ("fidelity_report", "privacy_report"):
            assert metadata["source_size"].startswith("271 source claims, 180 training rows: a small source")
            assert "supply at least 500 training rows" in metadata["to_change"]
    small = {k: v.value for k, v in checks[SMALL_SOURCE_GATE].metadata.items()}
    assert small["threshold"] == small["derivation/null_dcr_overfitting_protection"]  # the null, no allowance
    assert checks[SMALL_SOURCE_GATE].passed == (small["value"] >= small["threshold"])
    synthetic, source = read_table("synthetic_claims", "mimicdemo"), read_table("source_claims", "mimicdemo")
    for column in ("claim_id", "patient_id"):  # MIMIC subject/admission ids never reach the synthetic claims
        assert not set(synthetic[column]) & set(source[column]), column


@pytest.mark.slow  # about 100 s on 2 cores: a whole release from a claim-line file
def test_a_cms_claim_line_file_releases_without_leaking_identifiers(write_spec, stores):
    spec = {"rows": 200, "seed": 4, "source": CMS_SOURCE, "codes": {"embed": "used"},
            "synthesizer": {"autoencoder_epochs": 3, "gan_epochs": 6, "batch_size": 128},
            "narratives": {"engine": "design", "sample_size": 10},
            # As in test_end_to_end: six GAN epochs reach a quality of about 0.5, not the default bar of 0.8; the
            # gate still runs against this value (broken output scores far lower), and the code-structure bounds are
            # relaxed the same way as there. Privacy gates keep their bars.
            "gates": {"min_quality_score": 0.4, "min_all_dx_prevalence_r2": -100.0, "min_cooccurrence_r2": -100.0,
                      "max_overrepresentation": 1e6, "min_unsupported_share_floor": 1.0,
                      "max_claim_type_joint_deviation": 1e6}}
    result, checks, failed_steps = _run("cms", spec, write_spec)
    assert BLOCKING_GATES <= set(checks)
    assert result.success, f"failed steps {failed_steps}, gates {[k for k, e in checks.items() if not e.passed]}"
    folder = stores / "releases" / "cms"
    lines = pl.read_csv(FIXTURES / "cms_claim_lines.csv", infer_schema_length=0)
    secrets = {v for c in ("BENE_ID", "BENE_PHONE", "BENE_EMAIL", "CLM_ID") for v in lines[c]}
    released: set = set()
    for table in (folder / "tables").glob("*.parquet"):
        frame = pl.read_parquet(table)
        released |= {v for c in frame.columns if frame[c].dtype == pl.String for v in frame[c].drop_nulls()}
    text = "\n".join(p.read_text() for p in folder.rglob("*") if p.suffix in (".ndjson", ".json", ".csv", ".html"))
    assert released and not secrets & released
    assert not [s for s in list(secrets)[:300] if s in text]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["metrics"]["privacy"]["verbatim_source_values"] >= 0


@pytest.mark.slow  # about 50 s: the synthesizer's defaults on 190 training rows (the three-way split)
@pytest.mark.skipif(not MIMIC.is_dir(), reason=f"the MIMIC-IV demo is not at {MIMIC} (../shared/data)")
def test_synthesize_on_one_row_per_admission_is_private_or_refused(tmp_path, monkeypatch):
    from synth_ehr_assets.core.sources import load_source
    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.core.synth.small_source import SmallSourceError
    from synth_ehr_assets.core.synth.tabular import synthesize_table

    monkeypatch.setenv("SYNTH_EHR_TORCH_THREADS", "1")
    claims = load_source(parse_spec({"source": {"kind": "mimic_iv", "path": str(MIMIC)}}, "m")).claims
    table = claims.select("age", "sex", "payer", "service_date", "los_days", "dx_1", "dx_2", "dx_3", "drg",
                          "charge_amount", "provider_specialty")
    table.write_csv(tmp_path / "admissions.csv")
    try:
        report = synthesize_table(tmp_path / "admissions.csv", tmp_path / "out.csv", 500, seed=0)
    except SmallSourceError as error:
        assert "271 rows (190 training rows, below synthesizer.small_source_rows = 500)" in str(error)
        assert "Supply at least 500 training rows" in str(error) and not (tmp_path / "out.csv").exists()
    else:
        scores = report["small_source_privacy"]
        assert scores["synthetic_protection"] >= scores["real_holdout_protection"]
