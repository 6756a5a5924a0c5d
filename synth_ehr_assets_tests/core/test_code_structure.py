"""Code-structure figures and their gate: an independent real sample passes against the holdout null; a code
injected into a fifth of the rows and ages shuffled across rows are each blocked, naming the figure."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import polars as pl
import pytest

from synth_ehr_assets.core.evaluation import code_structure as cs
from synth_ehr_assets.core.evaluation.figures import figures_frame, headline
from synth_ehr_assets.core.evaluation.gates import code_structure_gate, code_structure_rows
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import GateThresholds

DEFAULTS = GateThresholds()


@pytest.fixture(scope="module")
def population() -> dict[str, pl.DataFrame]:
    """A reference population split by claim (as the synthesizer splits) 70 / 15 / 15: train, holdout (the
    null) and an independent real sample that stands in for a faithful synthetic table."""
    real = generate_reference_claims(16_000, seed=3, release_id="cs")
    part = pl.int_range(pl.len()).shuffle(seed=0) * 20 // pl.len()
    return {"train": real.filter(part < 14), "holdout": real.filter(part.is_in([14, 15, 16])),
            "sample": real.filter(part >= 17)}


def gate(population, candidate: pl.DataFrame, gates: GateThresholds = DEFAULTS):
    report = cs.code_structure_report(population["train"], population["holdout"], candidate)
    figures = figures_frame("cs", "fidelity", cs.code_structure_headline(report), cs.code_structure_detail(report))
    return report, figures, code_structure_gate(figures, gates)


def test_a_table_against_itself_has_perfect_figures(population):
    figures = cs.code_structure_figures(population["train"], population["train"])
    assert figures["all_dx_prevalence_r2"] == pytest.approx(1.0)
    assert figures["cooccurrence_r2"] == pytest.approx(1.0) and figures["cooccurrence_pairs"] > 100
    assert figures["max_overrepresentation"] == pytest.approx(1.0)
    assert all(figures[f"unsupported_{name}_share"] == 0.0 for name in cs.UNSUPPORTED)
    assert figures["claim_type_joint_deviation"] == 0.0
    assert 0 < figures["inpatient_share"] < 0.2
    assert figures["inpatient_los_p10"] <= figures["inpatient_los_p50"] <= figures["inpatient_los_p90"]
    assert figures["charge_p50_professional"] < figures["charge_p50_inpatient"]


def test_an_independent_real_sample_passes_against_the_holdout_null(population):
    report, figures, result = gate(population, population["sample"])
    assert result.passed, result.detail
    assert result.value == 0.0 and result.failing == {}
    assert report["holdout"]["all_dx_prevalence_r2"] > 0.95 and report["holdout"]["cooccurrence_r2"] > 0.8
    assert "all_dx_prevalence_r2" in result.detail and "null" in result.detail


def test_one_code_injected_into_a_fifth_of_the_rows_fails_on_over_representation(population):
    sample = population["sample"]
    injected = sample.with_columns(
        pl.when(pl.int_range(pl.len()).shuffle(seed=1) < sample.height // 5).then(pl.lit("G10"))
        .otherwise(pl.col("dx_3")).alias("dx_3")
    )
    report, _, result = gate(population, injected)
    assert not result.passed
    assert result.failing["max_overrepresentation"] > 100
    over = report["synthetic"]["tables"]["overrepresented"]
    assert over["code"][0] == "G10" and over["description"][0] == "Huntington's disease"
    assert over["candidate_share"][0] == pytest.approx(0.2, abs=0.01)
    assert report["holdout"]["max_overrepresentation"] <= DEFAULTS.max_overrepresentation


def test_ages_shuffled_across_rows_fail_on_unsupported_principal_diagnosis_by_age(population):
    shuffled = population["sample"].with_columns(pl.col("age").shuffle(seed=2))
    report, _, result = gate(population, shuffled)
    assert not result.passed
    share = result.failing["unsupported_dx1_age_share"]
    null = report["holdout"]["unsupported_dx1_age_share"]
    assert share > max(2 * null, 0.01) and share == report["synthetic"]["unsupported_dx1_age_share"]
    assert "max_overrepresentation" not in result.failing


def test_a_code_absent_from_the_reference_counts_as_half_a_claim_there(population):
    train = population["train"]
    candidate = population["sample"].with_columns(
        pl.when(pl.int_range(pl.len()) < 100).then(pl.lit("A000")).otherwise(pl.col("dx_2")).alias("dx_2")
    )
    figures = cs.code_structure_figures(train, candidate)
    expected = (100 / candidate.height) / (0.5 / train.height)
    assert figures["max_overrepresentation"] == pytest.approx(expected)
    assert math.isfinite(figures["max_overrepresentation"])


def test_settings_missing_from_the_candidate_fail_the_setting_gap(population):
    outpatient_only = population["sample"].filter(pl.col("claim_type") != "inpatient")
    report, _, result = gate(population, outpatient_only)
    assert report["synthetic"]["inpatient_share"] == 0.0
    joint = report["synthetic"]["tables"]["claim_type_joint"]
    assert joint.filter(pl.col("figure").str.contains("inpatient"))["relative_gap"].to_list() == [1.0] * 6
    assert not result.passed
    assert any(name.startswith("claim_type_joint_deviation: ") for name in result.failing)


def test_unsupported_shares_are_bounded_by_the_null_or_the_floor():
    figures = {"code_structure.unsupported_dx1_sex_share": 0.015, "code_structure_null.unsupported_dx1_sex_share": 0.0,
               "code_structure.unsupported_px_dx1_share": 0.05, "code_structure_null.unsupported_px_dx1_share": 0.03,
               "code_structure.inpatient_share": 0.04, "code_structure_null.inpatient_share": 0.037}
    rows = {row["figure"]: row for row in code_structure_rows(figures, DEFAULTS)}
    assert rows["unsupported_dx1_sex_share"]["threshold"] == 0.01 and not rows["unsupported_dx1_sex_share"]["passed"]
    assert rows["unsupported_px_dx1_share"]["threshold"] == pytest.approx(0.06)
    assert rows["unsupported_px_dx1_share"]["passed"]
    assert rows["inpatient_share"]["operator"] is None and rows["inpatient_share"]["passed"] is None


def test_a_missing_or_nan_figure_fails_or_names_itself(population):
    _, figures, _ = gate(population, population["sample"])
    nan = figures.with_columns(
        pl.when(pl.col("metric") == "code_structure.cooccurrence_r2").then(float("nan")).otherwise("value")
        .alias("value")
    )
    assert "cooccurrence_r2" in code_structure_gate(nan, DEFAULTS).failing
    with pytest.raises(ValueError, match="code_structure.max_overrepresentation"):
        code_structure_gate(figures.filter(pl.col("metric") != "code_structure.max_overrepresentation"), DEFAULTS)


def test_the_code_tables_come_back_from_the_figures_table(population):
    shuffled = population["sample"].with_columns(pl.col("dx_2").shuffle(seed=4))
    report, figures, _ = gate(population, shuffled)
    tables = cs.code_structure_tables(figures)
    over = report["synthetic"]["tables"]["overrepresented"]
    assert [row["code"] for row in tables["overrepresented"]] == over["code"].to_list()
    assert tables["overrepresented"][0]["ratio"] == pytest.approx(over["ratio"][0])
    assert all(row["description"] for row in tables["underrepresented"])
    assert set(headline(figures)) >= {"code_structure.cooccurrence_r2", "code_structure_null.cooccurrence_r2"}


def test_the_figures_are_computed_without_the_synthesizer_code():
    """The gate must not re-run the code that produced the rows: no import of core.synth or the edit tables."""
    folder = Path(cs.__file__).parent
    for name in ("code_structure.py", "table_gates.py", "gates.py"):
        tree = ast.parse((folder / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {m for m in imported if m and (".synth" in m or m.endswith("age_sex_edits"))}, name


def test_the_data_card_prints_each_figure_next_to_its_null_and_threshold(population):
    from synth_ehr_assets.core.export.bundle import jsonable
    from synth_ehr_assets.core.export.data_card import render_data_card

    injected = population["sample"].with_columns(pl.lit("G10").alias("dx_4"))
    _, figures, _ = gate(population, injected)
    manifest = jsonable({"release_id": "cs", "metrics": {"fidelity": headline(figures), "privacy": {}},
                         "spec": {"gates": DEFAULTS.model_dump()}, "code_structure": cs.code_structure_tables(figures)})
    card = render_data_card(manifest, {})
    section = card[card.index("<h2>Code structure</h2>"):card.index("<h2>Figures</h2>")]
    assert "<th>real holdout (null)</th>" in section and "<td>≥ 0.9</td>" in section
    assert "largest over-representation" in section and "<td>FAIL</td>" in section
    assert "<td>G10</td><td>Huntington&#x27;s disease</td>" in section
    fidelity_rows = card[card.index("<h2>Figures</h2>"):]
    assert "code_structure." not in fidelity_rows
