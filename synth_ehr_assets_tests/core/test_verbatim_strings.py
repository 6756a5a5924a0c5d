"""The privacy report counts source string values that reach the release verbatim."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.evaluation.privacy import verbatim_source_strings


def test_verbatim_source_strings_count_copied_values_and_flag_the_identifying_ones():
    train = pl.DataFrame({"patient_id": ["P1", "P2", "P3", "P3"], "sex": ["F", "M", "F", "F"], "age": [1, 2, 3, 4],
                          "release_id": ["r"] * 4})
    minted = pl.DataFrame({"patient_id": ["SP1", "SP2"], "sex": ["F", "M"], "age": [1, 2], "release_id": ["r"] * 2})
    totals, table = verbatim_source_strings(minted, train)
    assert totals == {"verbatim_source_values": 2.0, "verbatim_unique_source_values": 1.0}  # "M": one source row
    assert table.filter(pl.col("column") == "patient_id")["values"].item() == 0
    leaked = minted.with_columns(pl.Series("patient_id", ["P1", "P3"]))
    totals, table = verbatim_source_strings(leaked, train)
    assert table.filter(pl.col("column") == "patient_id").row(0) == ("patient_id", 2, 1)
    assert set(table["column"]) == {"patient_id", "sex"}
