"""Source formats users have: YYYYMMDD dates, per-column formats, CMS-style claim lines aggregated to claims."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synth_ehr_assets.core.sources import load_source
from synth_ehr_assets.core.spec import SpecError, parse_spec

FIXTURES = Path(__file__).parents[1] / "fixtures"
CMS_MAP = {
    "claim_id": "CLM_ID", "patient_id": "BENE_ID", "claim_type": "CLM_TYPE", "service_date": "CLM_FROM_DT",
    "age": "BENE_AGE", "sex": "BENE_SEX", "region": "REGION", "payer": "PAYER", "los_days": "LOS",
    "drg": "DRG_CD", "dx_1": "ICD_DGNS_CD1", "dx_2": "ICD_DGNS_CD2", "dx_3": "ICD_DGNS_CD3", "dx_4": "ICD_DGNS_CD4",
    "px_1": "HCPCS_CD", "provider_specialty": "PRVDR_SPCLTY", "charge_amount": "LINE_SBMTD_CHRG_AMT",
    "allowed_amount": "LINE_ALOWD_CHRG_AMT", "paid_amount": "LINE_NCH_PMT_AMT",
}
CMS_SOURCE = {"kind": "file", "path": str(FIXTURES / "cms_claim_lines.csv"), "line_level": True,
              "column_map": CMS_MAP}


def test_cms_claim_lines_aggregate_to_claims_with_yyyymmdd_dates_and_dotted_codes():
    lines = pl.read_csv(FIXTURES / "cms_claim_lines.csv", infer_schema_length=0)
    result = load_source(parse_spec({"source": CMS_SOURCE}, "cms"))
    claims = result.claims
    assert result.quarantine.height == 0 and claims.height == lines["CLM_ID"].n_unique() == 1500
    assert result.stats["lines_in"] == lines.height
    first = claims.filter(pl.col("claim_id") == "C000001").row(0, named=True)
    assert first["dx_1"] == "F419" and first["dx_4"] == "J45909"  # dotted in the file
    assert str(first["service_date"]) == "2024-08-19"
    multi = lines.group_by("CLM_ID").agg(pl.len(), pl.col("LINE_SBMTD_CHRG_AMT").cast(pl.Float64).sum(),
                                         pl.col("HCPCS_CD").drop_nulls().n_unique().alias("codes"))
    joined = claims.join(multi, left_on="claim_id", right_on="CLM_ID")
    assert (joined["charge_amount"] - joined["LINE_SBMTD_CHRG_AMT"]).abs().max() < 0.005
    px = joined.select(pl.sum_horizontal(pl.col(f"px_{k}").is_not_null() for k in range(1, 7)).alias("n"), "codes")
    assert (px["n"] == px["codes"].clip(upper_bound=6)).all() and (joined["len"] > 1).any()


def _one_claim(tmp_path: Path, date: str) -> Path:
    header = "claim_id,patient_id,claim_type,service_date,age,sex,region,payer,dx_1,charge_amount,allowed_amount,paid_amount"
    (tmp_path / "c.csv").write_text(f"{header}\nC1,P1,professional,{date},40,F,pacific,commercial,J20.9,100,80,60\n")
    return tmp_path / "c.csv"


def test_yyyymmdd_dates_parse_out_of_the_box_and_formats_can_be_named(tmp_path):
    path = str(_one_claim(tmp_path, "20240317"))
    assert str(load_source(parse_spec({"source": {"kind": "file", "path": path}}, "d")).claims["service_date"][0]) == "2024-03-17"
    path = str(_one_claim(tmp_path, "17.03.2024"))
    assert load_source(parse_spec({"source": {"kind": "file", "path": path}}, "d")).claims.height == 0
    named = load_source(parse_spec({"source": {"kind": "file", "path": path, "date_format": "DD.MM.YYYY"}}, "d"))
    assert str(named.claims["service_date"][0]) == "2024-03-17"
    per_column = {"kind": "file", "path": path, "column_map": {"service_date": {"column": "service_date",
                                                                                 "format": "%d.%m.%Y"}}}
    assert str(load_source(parse_spec({"source": per_column}, "d")).claims["service_date"][0]) == "2024-03-17"
    with pytest.raises(SpecError, match="use YYYY, MM and DD"):
        parse_spec({"source": {"kind": "file", "path": path, "date_format": "DD/MON/YYYY"}}, "d")


def test_a_free_text_column_holding_identifiers_is_blanked_with_its_reason():
    kept = load_source(parse_spec({"source": CMS_SOURCE}, "cms"))
    assert kept.stats["identifier_columns"] == "none" and kept.claims["provider_specialty"].null_count() == 0
    for column, why in (("BENE_EMAIL", "look like email values"), ("CLM_ID", "unique per row")):
        source = CMS_SOURCE | {"column_map": CMS_MAP | {"provider_specialty": column}}
        result = load_source(parse_spec({"source": source}, "cms"))
        assert result.claims["provider_specialty"].null_count() == result.claims.height == 1500
        assert result.stats["identifier_columns"].startswith("provider_specialty: ") and why in \
            result.stats["identifier_columns"] and "blanked" in result.stats["identifier_columns"]
