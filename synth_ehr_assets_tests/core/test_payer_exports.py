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
