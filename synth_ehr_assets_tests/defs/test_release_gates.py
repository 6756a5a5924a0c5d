"""Planted failures: every blocking gate stops the release, and no release folder is written.

Upstream tables are planted in DuckDB; `synthetic_claims` is replaced by an asset that returns a planted table
but keeps the real check specs and the real gate code (`defs.synthesis.gate_results`). A clean control run with
the same set-up writes the release, so each blocked run is blocked by its planted fault and nothing else.
"""

import json
import os
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import polars as pl
import pytest

from synth_ehr_assets.cli import release_card
from synth_ehr_assets.core.schema import DX_COLUMNS
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import RELEASE_PARTITION_METADATA
from synth_ehr_assets_tests.defs.helpers import release_instance

RELEASE = "gated"
SPEC = {"rows": 600, "seed": 5, "source": {"kind": "reference", "claims": 2000}, "codes": {"embed": "used"},
        "narratives": {"engine": "design", "sample_size": 12}}
SMALL_EVALUATION = {"quality_rows": 600, "distance_rows": 2000, "dcr_rows": 600, "sdmetrics_library_rows": 60}
REPORTS_AND_RELEASE = ["synthetic_claims", "fidelity_report", "privacy_report", "release"]


@lru_cache(maxsize=1)
def planted_tables() -> dict[str, pl.DataFrame]:
    """A release's upstream tables: reference source with a seeded 80/20 claim split (as the synthesizer splits), a
    synthetic table that is an independent sample of the same population (other claims of it, ids prefixed so
    they never equal a source id; a sample of another seed carries other rare codes and fails code structure) and
    a few symptoms, notes and judge scores."""
    from synth_ehr_assets.core.reference import generate_reference_claims

    population = generate_reference_claims(2600, seed=1, release_id=RELEASE)
    drawn = pl.int_range(pl.len()).shuffle(seed=1) < 600
    source = population.filter(~drawn)
    split = source.select(
        "release_id", "claim_id",
        pl.when(pl.int_range(pl.len()).shuffle(seed=0) < 400).then(pl.lit("holdout")).otherwise(pl.lit("train"))
        .alias("split"),
    )
    synthetic = population.filter(drawn).with_columns(
        pl.concat_str(pl.lit("S"), "claim_id").alias("claim_id"),
        pl.concat_str(pl.lit("S"), "patient_id").alias("patient_id"),
    )
    narrated = synthetic.head(12)
    symptoms = narrated.select(
        "release_id", "claim_id", pl.lit(1, pl.Int32).alias("slot"), pl.lit(1, pl.Int32).alias("attempts"),
        pl.lit("R05").alias("symptom_code"), pl.lit("cough").alias("symptom_text"), pl.lit(0.7).alias("relevance"),
        pl.lit(True).alias("accepted"), pl.lit(None, pl.String).alias("review_reason"),
    )
    notes = narrated.select(
        "release_id", "claim_id", pl.lit("design").alias("engine"), pl.lit("design/planted").alias("model"),
        pl.format("S: cough. A: {}. P: follow up in two weeks.", "dx_1").alias("note"),
        pl.lit(None, pl.String).alias("prompt_hash"), pl.lit("ok").alias("status"),
        pl.lit(None, pl.String).alias("failure_reason"),
    )
    judge = narrated.select(
        "release_id", "claim_id", *[pl.lit(4, pl.Int8).alias(c) for c in ("plausibility", "relevance", "coherence")],
        pl.lit(0, pl.Int32).alias("phi_hits"), pl.lit(0.8).alias("combined_score"), pl.lit(True).alias("passed"),
    )
    return {"source_claims": source, "encoded_features": split, "synthetic_claims": synthetic,
            "synthetic_symptoms": symptoms, "provider_notes": notes, "judge_scores": judge}


def plant(tables: dict[str, pl.DataFrame]) -> None:
    with duckdb.connect(os.environ["SYNTH_EHR_DUCKDB_PATH"]) as con:
        con.execute("create schema if not exists synth_ehr")
        for name, frame in tables.items():
            con.register("planted", frame.to_arrow())
            con.execute(f"create or replace table synth_ehr.{name} as select * from planted")
            con.unregister("planted")


def planted_synthetic_claims(claims: pl.DataFrame) -> dg.AssetsDefinition:
    """`synthetic_claims` returning `claims` instead of sampling the GAN, gated by the real check specs and code."""
    from synth_ehr_assets.defs import synthesis

    @dg.asset(name="synthetic_claims", partitions_def=release_partitions, group_name="synthesis",
              metadata=RELEASE_PARTITION_METADATA, check_specs=list(synthesis.synthetic_claims.check_specs))
    def planted(context: dg.AssetExecutionContext, release_specs: ReleaseSpecs, source_claims: pl.DataFrame):
        spec = release_specs.load(context.partition_key)
        yield dg.Output(claims)
        yield from synthesis.gate_results(claims, source_claims, spec.gates, spec.privacy)

    return planted


def run(instance: dg.DagsterInstance, selection: list[str], synthetic: pl.DataFrame | None = None):
    from synth_ehr_assets.definitions import build_resources
    from synth_ehr_assets.defs import codes, evaluation, model, narratives, release, source, synthesis

    assets = [a for a in dg.load_assets_from_modules([source, codes, model, synthesis, narratives, evaluation, release])
              if dg.AssetKey("synthetic_claims") not in a.keys]
    assets.append(planted_synthetic_claims(planted_tables()["synthetic_claims"] if synthetic is None else synthetic))
    job = dg.Definitions(assets=assets, resources=build_resources()).resolve_implicit_global_asset_job_def()
    job = job.get_subset(asset_selection={dg.AssetKey(name) for name in selection})
    reports = [name for name in selection if name in ("fidelity_report", "privacy_report")]
    run_config = {"ops": {name: {"config": SMALL_EVALUATION} for name in reports}}
    return job.execute_in_process(partition_key=RELEASE, instance=instance, run_config=run_config,
                                  raise_on_error=False)


def materialized(result) -> set[str]:
    return {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}


def failed_check(result, name: str):
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert name in evaluations, f"check {name} did not run; ran: {sorted(evaluations)}"
    assert not evaluations[name].passed
    return evaluations[name]


def assert_not_released(result, stores: Path) -> None:
    assert "release" not in materialized(result)
    assert not (stores / "releases" / RELEASE).exists()
    assert [p.name for p in (stores / "releases").iterdir()] == [f"{RELEASE}.yaml"], "no staging folder left"


@pytest.fixture
def instance():
    with release_instance(RELEASE) as temporary:
        yield temporary


@pytest.fixture
def planted_release(write_spec, stores):
    def _plant(**spec_overrides) -> Path:
        write_spec(RELEASE, {**SPEC, **spec_overrides})
        plant({k: v for k, v in planted_tables().items() if k != "synthetic_claims"})
        return stores

    return _plant


@pytest.mark.slow
def test_a_clean_release_is_written_and_a_later_failed_gate_keeps_it_from_being_replaced(planted_release, instance):
    stores = planted_release()
    result = run(instance, REPORTS_AND_RELEASE)
    assert result.success and "release" in materialized(result)
    folder = stores / "releases" / RELEASE
    manifest = json.loads((folder / "manifest.json").read_text())
    gates = {(g["asset"], g["check"]): g for g in manifest["gates"]}
    for key in [("synthetic_claims", "synthetic_codes_valid"), ("fidelity_report", "fidelity_quality_score"),
                ("fidelity_report", "fidelity_code_structure"),
                ("privacy_report", "privacy_dcr_overfitting"), ("privacy_report", "privacy_membership_inference"),
                ("privacy_report", "privacy_attack_risk")]:
        assert gates[key]["passed"] and gates[key]["blocking"], key
    assert manifest["metrics"]["fidelity"]["quality_score"] >= 0.8
    patients = planted_tables()["synthetic_claims"]["patient_id"].n_unique()
    assert manifest["row_counts"] == {"claims": 600, "patients": patients, "symptoms": 12, "notes": 12,
                                      "judge_scores": 12}
    card = release_card(folder / "manifest.json").splitlines()
    assert card[1] == f"release gated: claims 600, judge_scores 12, notes 12, patients {patients}, symptoms 12"
    assert any(line.strip().startswith("pass  fidelity_report.fidelity_quality_score (0.") for line in card)
    assert card[-1] == f"  data card: {folder / 'data_card.html'}"
    assert "<h2>Code structure</h2>" in (folder / "data_card.html").read_text()
    assert manifest["code_structure"]["overrepresented"]
    assert 0 < manifest["metrics"]["fidelity"]["code_structure_null.cooccurrence_r2"] <= 1  # recorded, a real R²

    copies = planted_tables()["source_claims"].head(3)
    result = run(instance, ["synthetic_claims"], pl.concat([planted_tables()["synthetic_claims"], copies]))
    failed_check(result, "synthetic_no_source_copies")
    result = run(instance, ["release"])
    assert not result.success and "release" not in materialized(result)
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "synthetic_claims.synthetic_no_source_copies" in failure.event_specific_data.error.message
    assert json.loads((folder / "manifest.json").read_text()) == manifest


def test_copies_of_source_rows_block_the_release(planted_release, instance):
    stores = planted_release()
    copies = planted_tables()["source_claims"].sample(5, seed=1)
    result = run(instance, REPORTS_AND_RELEASE, pl.concat([planted_tables()["synthetic_claims"], copies]))
    check = failed_check(result, "synthetic_no_source_copies")
    assert check.metadata["value"].value == 5
    assert all(f"| {claim_id} |" in check.metadata["failing"].value for claim_id in copies["claim_id"])
    assert_not_released(result, stores)


def test_an_invalid_code_blocks_the_release(planted_release, instance):
    stores = planted_release()
    synthetic = planted_tables()["synthetic_claims"]
    broken = synthetic.with_columns(pl.when(pl.col("claim_id") == synthetic["claim_id"][7]).then(pl.lit("E11"))
                                    .otherwise(pl.col("dx_1")).alias("dx_1"))
    result = run(instance, REPORTS_AND_RELEASE, broken)
    check = failed_check(result, "synthetic_codes_valid")
    assert check.metadata["failing"].value.splitlines()[2:] == [f"| {synthetic['claim_id'][7]} dx_1=E11 | 1 |"]
    assert_not_released(result, stores)


def test_an_age_sex_violation_blocks_the_release(planted_release, instance):
    stores = planted_release()
    synthetic = planted_tables()["synthetic_claims"]
    man = synthetic.filter(pl.col("sex") == "M")["claim_id"][0]
    broken = synthetic.with_columns(
        pl.when(pl.col("claim_id") == man).then(pl.lit("O800")).otherwise(pl.col("dx_2")).alias("dx_2")
    )
    result = run(instance, REPORTS_AND_RELEASE, broken)
    check = failed_check(result, "synthetic_age_sex_edits")
    assert f"| {man} dx_2=O800 (age" in check.metadata["failing"].value
    assert_not_released(result, stores)


def test_a_note_with_an_ssn_blocks_the_release(planted_release, instance, monkeypatch):
    from synth_ehr_assets.core.narratives import design
    from synth_ehr_assets.defs import narratives

    stores = planted_release()
    plant({"synthetic_claims": planted_tables()["synthetic_claims"]})
    honest = design.design_notes

    def notes_with_a_planted_ssn(claims, knowledge, seed, symptoms=None, progress=None):
        notes = pl.DataFrame({"release_id": claims["release_id"], "claim_id": claims["claim_id"],
                              "note": ["S: cough. A: bronchitis. P: rest."] * claims.height})
        return notes.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("SSN 123-45-6789 on file."))
                                  .otherwise(pl.col("note")).alias("note"))

    # Fault injection: the real provider_notes asset and PHI gate, with notes that carry an SSN.
    monkeypatch.setattr(narratives, "_knowledge", lambda *args: SimpleNamespace(embedding_model="planted"))
    monkeypatch.setattr(design, "design_notes", notes_with_a_planted_ssn)
    result = run(instance, ["provider_notes", "judge_scores", "privacy_report", "release"])
    assert design.design_notes is not honest
    check = failed_check(result, "notes_free_of_phi")
    assert check.metadata["phi_hits"].value >= 1
    assert_not_released(result, stores)


def test_a_quality_score_under_the_threshold_blocks_the_release(planted_release, instance):
    stores = planted_release(gates={"min_quality_score": 0.99})
    result = run(instance, REPORTS_AND_RELEASE)
    check = failed_check(result, "fidelity_quality_score")
    assert check.metadata["value"].value < 0.99 and check.metadata["threshold"].value == 0.99
    assert "shape " in check.metadata["failing"].value and "pair " in check.metadata["failing"].value
    assert_not_released(result, stores)


def test_one_code_injected_into_a_fifth_of_the_claims_blocks_the_release(planted_release, instance):
    stores = planted_release()
    synthetic = planted_tables()["synthetic_claims"]
    injected = synthetic.with_columns(
        pl.when(pl.int_range(pl.len()).shuffle(seed=1) < synthetic.height // 5).then(pl.lit("G10"))
        .otherwise(pl.col("dx_3")).alias("dx_3")
    )
    result = run(instance, REPORTS_AND_RELEASE, injected)
    check = failed_check(result, "fidelity_code_structure")
    assert "| max_overrepresentation |" in check.metadata["failing"].value
    assert check.metadata["value"].value >= 1 and "null" in check.metadata["detail"].value
    assert_not_released(result, stores)


def test_ages_shuffled_across_claims_block_the_release(planted_release, instance):
    stores = planted_release()
    synthetic = planted_tables()["synthetic_claims"]
    # Moved among adults without a maternity code, so no age/sex edit blocks the claims before the report: the
    # youngest get the oldest ages (a random shuffle sits at the threshold on 600 claims: 0.19-0.23 vs 0.22).
    maternity = pl.any_horizontal(pl.col(c).str.contains(r"^(O|Z3[34]|Z3A)").fill_null(False) for c in DX_COLUMNS)
    movable = (pl.col("age") >= 18) & ~maternity
    adults = synthetic.filter(movable).sort("age", "claim_id")
    shuffled = pl.concat([adults.with_columns(adults["age"].reverse()), synthetic.filter(~movable)])
    result = run(instance, REPORTS_AND_RELEASE, shuffled)
    check = failed_check(result, "fidelity_code_structure")
    assert "| unsupported_dx1_age_share |" in check.metadata["failing"].value
    assert_not_released(result, stores)
