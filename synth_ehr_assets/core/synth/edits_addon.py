"""`addon_without_primary`: a code billed on a professional or outpatient claim without the service it adds to.

CPT add-on and companion codes are reported only with their primary service on the same claim (`COMPANIONS`):
psychotherapy with an E/M (90833, 90836, 90838 need an E/M 99202-99499), an immunization administration with the
vaccine product it gives (90460, 90471-90474, G0008-G0010 need a product 90476-90759), and the additional-component
or additional-vaccine administration with its first (90461 with 90460, 90472 / 90474 with 90471 or 90473). A claims
review of the demo found 90833 billed alone by psychiatry and 90460 on a well-baby claim with no vaccine; the
mirror rule, a product without its administration, is `edits_encounter.vaccine_without_administration`.
"""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.synth.edits_base import ROW, violations
from synth_ehr_assets.core.synth.edits_encounter import BILLED_BY_LINE, vaccine_product

EM_RANGE = ("99202", "99499")
ADMINISTRATION = ("90460", "90471", "90472", "90473", "90474", "G0008", "G0009", "G0010")


def _em() -> pl.Expr:
    return pl.col("code").str.contains(r"^\d{5}$") & pl.col("code").is_between(pl.lit(EM_RANGE[0]), pl.lit(EM_RANGE[1]))


# (add-on codes, what the claim must also carry, that primary in words)
COMPANIONS = (
    (("90833", "90836", "90838"), _em, "an E/M service (99202-99499)"),
    (ADMINISTRATION, vaccine_product, "a vaccine product (90476-90759)"),
    (("90461",), lambda: pl.col("code") == "90460", "90460"),
    (("90472", "90474"), lambda: pl.col("code").is_in(["90471", "90473"]), "90471 or 90473"),
)


def addon_violations(long_px: pl.DataFrame) -> pl.DataFrame:
    """One violation per add-on line whose claim lacks its primary service."""
    lines = long_px.rechunk().filter(pl.col("claim_type").is_in(BILLED_BY_LINE))
    found = []
    for addons, primary, words in COMPANIONS:
        with_primary = lines.filter(primary()).select(ROW).unique()
        alone = lines.filter(pl.col("code").is_in(list(addons))).join(with_primary, on=ROW, how="anti")
        found.append(violations(alone, "addon_without_primary", pl.format(
            "{} is billed only with {}; the claim has none", pl.col("code"), pl.lit(words))))
    return pl.concat(found)
