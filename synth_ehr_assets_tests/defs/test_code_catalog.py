"""The code catalog keys codes by system: HCPCS G0439 (subsequent wellness visit) is not ICD-10-CM G04.39."""

from __future__ import annotations

import dagster as dg
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.defs.codes import code_catalog


def test_a_billed_g0439_counts_for_the_procedure_not_the_encephalitis_code():
    claims = schema.conform(pl.DataFrame({
        "claim_id": ["C1", "C2"], "dx_1": ["Z0000", "I10"], "px_1": ["G0439", "99213"],
    }))
    with dg.build_asset_context(partition_key="demo") as context:
        catalog = code_catalog(context, claims)
    g0439 = catalog.filter(pl.col("code") == "G0439").sort("code_system")
    assert g0439.select("code_system", "source_count", "in_source").rows() == [
        ("cpt_hcpcs", 1, True), ("icd10cm", 0, False)]
    assert catalog.filter(pl.col("code") == "I10")["source_count"].to_list() == [1]
