"""X12 837P / 837I validated by pyx12 and HL7 v2 ADT / DFT validated by hl7apy, for reference and synthetic rows."""

from __future__ import annotations

import json
import polars as pl
import pytest

from synth_ehr_assets.core.export import hl7, x12
from synth_ehr_assets.core.export.payer_files import write_payer_files
from synth_ehr_assets.core.reference import generate_reference_claims


@pytest.fixture(scope="module")
def claims() -> pl.DataFrame:
    return generate_reference_claims(400, seed=4, release_id="exports")


def test_837_files_pass_pyx12_and_carry_every_billed_claim(claims, tmp_path) -> None:
    counts = x12.write_837(tmp_path, claims, "exports")
    billed = claims.filter(pl.col("payer") != "self_pay")
    assert counts == {"837P": billed.filter(pl.col("claim_type") == "professional").height,
                      "837I": billed.filter(pl.col("claim_type") != "professional").height}
    assert x12.validate(tmp_path / "837P.x12") == [] and x12.validate(tmp_path / "837I.x12") == []
    institutional = (tmp_path / "837I.x12").read_text()
    assert "HI*DR:" in institutional and "HI*BBR:" in institutional and "SV2*0450*HC:9928" in institutional


def test_pyx12_catches_a_broken_837(claims, tmp_path) -> None:
    x12.write_837(tmp_path, claims, "exports")
    text = (tmp_path / "837I.x12").read_text()
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("CL1*"))
    (tmp_path / "broken.x12").write_text(broken + "\n")
    assert any("CL1" in error for error in x12.validate(tmp_path / "broken.x12"))


def test_hl7_messages_are_valid_and_the_validator_bites(claims) -> None:
    stay = claims.filter(pl.col("claim_type") == "inpatient").row(0, named=True)
    visit = claims.filter(pl.col("claim_type") == "professional").row(0, named=True)
    messages = [hl7.adt(stay, "A01"), hl7.adt(stay, "A03"), hl7.dft(stay), hl7.dft(visit)]
    assert all(hl7.validate(m) == [] for m in messages)
    assert "FT1|1" in messages[3].to_er7() and f"DG1|1||{visit['dx_1']}^^I10" in messages[3].to_er7()
    without_pid = "\r".join(s for s in messages[0].to_er7().split("\r") if not s.startswith("PID"))
    assert hl7.validate(without_pid)


def test_synthetic_rows_with_gaps_export_and_the_manifest_entry_reports_validation(claims, tmp_path) -> None:
    synthetic = claims.head(80).with_columns(
        px_2=pl.lit(None, dtype=pl.String), drg=pl.when(pl.col("claim_type") == "inpatient").then(pl.col("drg")),
        claim_id=pl.format("SYN-{}", pl.int_range(pl.len())), release_id=pl.lit("synthetic"),
    )
    synthetic = pl.concat([synthetic, synthetic.head(1).with_columns(dx_1=pl.lit(None, dtype=pl.String),
                                                                      claim_id=pl.lit("SYN-nodx"))])
    entry = write_payer_files(tmp_path, synthetic, "synthetic")
    assert entry["claims_exported"] == synthetic.height
    assert entry["x12_errors"] == {"837P": 0, "837I": 0} and entry["hl7_errors"] == {"adt": 0, "dft": 0}
    assert entry["dft_messages"] == synthetic.height and entry["adt_messages"] == 2 * synthetic.filter(
        pl.col("claim_type") == "inpatient").height
    assert json.loads(json.dumps(entry)) == entry  # the manifest entry is plain JSON


def test_direct_er7_writer_matches_hl7apy_message_for_message(claims) -> None:
    for kind in ("inpatient", "outpatient", "professional"):
        for row in claims.filter(pl.col("claim_type") == kind).head(15).iter_rows(named=True):
            assert hl7.dft_er7(row) == hl7.dft(row).to_er7()
            if kind == "inpatient":
                assert [hl7.adt_er7(row, t) for t in ("A01", "A03")] == [hl7.adt(row, t).to_er7() for t in ("A01", "A03")]


def test_a_release_past_one_transaction_is_exported_whole_and_validated(tmp_path, monkeypatch) -> None:
    from synth_ehr_assets.core.export.payer_files import hl7_messages

    monkeypatch.setattr(x12, "CLAIMS_PER_TRANSACTION", 300)
    monkeypatch.setattr(x12, "ROWS_PER_SLICE", 128)
    monkeypatch.setattr(hl7, "ROWS_PER_SLICE", 128)
    many = generate_reference_claims(1_200, seed=5, release_id="whole")
    entry = write_payer_files(tmp_path, many, "whole")
    professional = many.filter((pl.col("payer") != "self_pay") & (pl.col("claim_type") == "professional")).height
    assert entry["837P"] == professional > 600 and entry["dft_messages"] == many.height
    assert entry["x12_errors"] == {"837P": 0, "837I": 0} and entry["hl7_errors"] == {"adt": 0, "dft": 0}
    text = (tmp_path / "x12" / "837P.x12").read_text()
    assert text.count("\nST*837*") == -(-professional // 300) and text.count("\nCLM*") == professional
    assert text.splitlines()[-2] == f"GE*{-(-professional // 300)}*1~"
    dft = list(hl7_messages(tmp_path / "hl7" / "dft.hl7"))
    assert len(dft) == many.height and dft[-1].split("\r")[3].split("|")[19] == many["claim_id"][-1]


def test_hl7_sample_is_even_and_keeps_both_ends() -> None:
    from synth_ehr_assets.core.export.payer_files import sample_positions

    assert sample_positions(5, 300) == [0, 1, 2, 3, 4]
    picked = sample_positions(100_000, 300)
    assert len(picked) == 300 and picked[0] == 0 and picked[-1] == 99_999
    assert max(b - a for a, b in zip(picked, picked[1:])) <= 335
