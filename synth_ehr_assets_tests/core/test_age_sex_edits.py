"""The vectorised age/sex edit table agrees with `codes.age_sex_violation` for every code, age and sex."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core import age_sex_edits, codes


def test_the_table_gives_the_verdict_of_the_row_by_row_edit_for_every_age_and_sex():
    billable = sorted(codes.billable_codes())
    edited = [c for c in billable if c[0] in "OPZNCDQR"][::40] + sorted(codes.hcc_age_edits())
    sample = list(dict.fromkeys(edited + billable[::2000]))
    table = age_sex_edits.conflicts(sample)
    ages = [*range(0, 127), None]
    bands = age_sex_edits.age_bands(pl.Series(ages, dtype=pl.Int64))
    for sex in ("F", "M", "U", None):
        key = age_sex_edits.sex_keys(pl.Series([sex], dtype=pl.String))[0]
        expected = np.array([[codes.age_sex_violation(c, a, sex) is not None for a in ages] for c in sample])
        np.testing.assert_array_equal(table[:, bands, key], expected, err_msg=f"sex {sex}")
    assert table.any(axis=(1, 2)).sum() > 100, "the sample must hold codes that the edits reject"


def test_row_masks_flag_only_codes_the_row_may_not_carry():
    rows = pl.DataFrame(
        {
            "code": ["O210", "O210", "Z00129", "Z00129", "C61", "E119", None, "C50911", "C50921", "C50911"],
            "age": [30, 30, 8, 40, 70, 70, 70, 45, 45, 45],
            "sex": ["F", "M", "M", "M", "F", "M", "M", "F", "M", "M"],
        }
    )
    mask = age_sex_edits.conflict_mask(rows["code"], rows["age"], rows["sex"])
    # C50.911 is the right female breast (a man's is C50.921); below 50 hccinfhir only overrides a risk score
    assert mask.tolist() == [False, True, False, True, True, False, False, False, False, True]
