"""Code checks the sources need, vectorised over frames on top of `core.codes` (billable set, GEMs, age/sex edits)."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core import codes, schema


def billable_list() -> list[str]:
    """FY2026 billable ICD-10-CM codes (no dots), as a list for `is_in`."""
    return sorted(codes.billable_codes())


def map_icd9(icd9_codes: pl.Series, kind: str) -> pl.DataFrame:
    """Map distinct ICD-9 codes through the CMS GEMs: columns `icd9`, `target` (the first billable FY2026 target,
    or null) and `reason` (why there is none)."""
    rows = []
    for code in icd9_codes.drop_nulls().unique().sort().to_list():
        targets = codes.icd9_to_icd10(code, kind)
        if targets:
            rows.append((code, targets[0], None))
        elif kind == "dx":
            rows.append((code, None, f"ICD-9 {code}: the CMS GEMs give no billable FY2026 ICD-10-CM target"))
        else:
            rows.append((code, None, f"ICD-9 procedure {code}: no ICD-9 to ICD-10-PCS GEM ships with the packages"))
    return pl.DataFrame(rows, schema={"icd9": pl.String, "target": pl.String, "reason": pl.String}, orient="row")


def age_sex_reasons(triples: pl.DataFrame) -> pl.DataFrame:
    """For distinct (code, age, sex) rows return them with a `reason` column (null when the code passes the CMS
    age/sex edits). Only distinct combinations are looked up, so the cost is bounded by codes x ages x sexes."""
    unique = triples.drop_nulls().unique()
    reasons = [codes.age_sex_violation(code, age, sex) for code, age, sex in unique.iter_rows()]
    return unique.with_columns(pl.Series("reason", reasons, dtype=pl.String))


def procedure_descriptions(claims: pl.DataFrame, known: dict[str, str] | None = None) -> dict[str, str]:
    """Description of every procedure code the claims use: `known` first, then the reference population's
    CPT/HCPCS texts, then `codes.procedure_catalog` (ICD-10-PCS titles, else its generic text)."""
    from synth_ehr_assets.core.reference import REFERENCE_PROCEDURES

    used = claims.select(pl.concat_list(schema.PX_COLUMNS).explode().drop_nulls().unique()).to_series().to_list()
    known = {code: text for code, text in REFERENCE_PROCEDURES.items() if text} | (known or {})
    catalog = codes.procedure_catalog({code: known.get(code) for code in used})
    return dict(catalog.select("code", "description").iter_rows())
