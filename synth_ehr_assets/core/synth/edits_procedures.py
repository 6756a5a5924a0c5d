"""`px_age_sex_band`: procedure codes billed outside the ages or the sex they are defined for.

CPT/HCPCS and ICD-10-PCS bands (code ranges inclusive, compared on codes of the same length):
- preventive E/M 99381-99387 (new) / 99391-99397 (established) by the age band in their descriptor:
  <1, 1-4, 5-11, 12-17, 18-39, 40-64, 65+;
- newborn and pediatric-only care: newborn care 99460-99463, neonatal critical and intensive care 99468-99469
  and 99477 (28 days or younger, age 0), pediatric critical care 99471-99472 (29 days-24 months, ages 0-2) and
  99475-99476 (2-5 years); immunization administration with counselling 90460-90461 (through age 18); DTaP
  90700 and DT 90702 (younger than 7); hepatitis B vaccine, pediatric/adolescent dose 90744 (through age 19); MMR 90707 (from 12 months), Tdap 90715
  (7 or older) and 9-valent HPV 90651 (9-45, its FDA label);
- obstetric: maternity care and delivery 59000-59899, obstetric and fetal ultrasound 76801-76828 and the
  ICD-10-PCS Obstetrics section (codes starting with 1): females 9-64, the MCE maternity age range;
- sex-specific: male genital system surgery 54000-55899 and ICD-10-PCS male reproductive system (0V...) male;
  female genital system surgery 56405-58999 and ICD-10-PCS female reproductive system (0U...) female; cervical/
  vaginal cytology 88141-88175, screening Pap collection Q0091, cervical/vaginal screening exam G0101,
  screening cytopathology G0123-G0124 and G0141-G0148, screening Pap P3000-P3001, urine pregnancy test 81025
  female; prostate-specific antigen 84152-84154, PSA screening G0103 and prostate screening exam G0102 male;
  screening mammography 77067 and screening tomosynthesis 77063 female. Diagnostic mammography (77065-77066)
  is left out: men with a breast mass or gynaecomastia receive it.
Age is the claim's age in whole years, so "younger than 1 year" is age 0.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from synth_ehr_assets.core.synth.edits_base import violations

ADULT_MAX = 124
_PREVENTIVE_BANDS = ((0, 0, "under 1"), (1, 4, "1-4"), (5, 11, "5-11"), (12, 17, "12-17"), (18, 39, "18-39"),
                     (40, 64, "40-64"), (65, ADULT_MAX, "65+"))
# (first code, last code, youngest age, oldest age, sex or None, label)
_OTHER_BANDS: list[tuple[str, str, int, int, str | None, str]] = [
    ("99460", "99463", 0, 0, None, "newborn care"),
    ("99468", "99469", 0, 0, None, "neonatal critical care"),
    ("99477", "99477", 0, 0, None, "neonatal intensive care"),
    ("99471", "99472", 0, 2, None, "pediatric critical care, 29 days-24 months"),
    ("99475", "99476", 2, 5, None, "pediatric critical care, 2-5 years"),
    ("90460", "90461", 0, 18, None, "immunization counselling through age 18"),
    ("90700", "90700", 0, 6, None, "DTaP vaccine, younger than 7"),
    ("90702", "90702", 0, 6, None, "DT vaccine, younger than 7"),
    ("90744", "90744", 0, 19, None, "hepatitis B vaccine, pediatric/adolescent dose"),
    ("90707", "90707", 1, ADULT_MAX, None, "MMR vaccine, from 12 months"),
    ("90715", "90715", 7, ADULT_MAX, None, "Tdap vaccine, 7 years or older"),
    ("90651", "90651", 9, 45, None, "9-valent HPV vaccine, 9-45 years"),
    ("59000", "59899", 9, 64, "F", "maternity care and delivery"),
    ("76801", "76828", 9, 64, "F", "obstetric ultrasound"),
    ("1000000", "1ZZZZZZ", 9, 64, "F", "ICD-10-PCS obstetrics"),
    ("54000", "55899", 0, ADULT_MAX, "M", "male genital surgery"),
    ("0V00000", "0VZZZZZ", 0, ADULT_MAX, "M", "ICD-10-PCS male reproductive system"),
    ("56405", "58999", 0, ADULT_MAX, "F", "female genital surgery"),
    ("0U00000", "0UZZZZZ", 0, ADULT_MAX, "F", "ICD-10-PCS female reproductive system"),
    ("88141", "88175", 0, ADULT_MAX, "F", "cervical/vaginal cytology"),
    ("Q0091", "Q0091", 0, ADULT_MAX, "F", "screening Pap smear collection"),
    ("G0101", "G0101", 0, ADULT_MAX, "F", "cervical/vaginal cancer screening exam"),
    ("G0123", "G0124", 0, ADULT_MAX, "F", "screening cervical/vaginal cytopathology"),
    ("G0141", "G0148", 0, ADULT_MAX, "F", "screening cervical/vaginal cytopathology"),
    ("P3000", "P3001", 0, ADULT_MAX, "F", "screening Pap smear"),
    ("81025", "81025", 0, ADULT_MAX, "F", "urine pregnancy test"),
    ("84152", "84154", 0, ADULT_MAX, "M", "prostate-specific antigen"),
    ("G0102", "G0103", 0, ADULT_MAX, "M", "prostate cancer screening"),
    ("77063", "77063", 0, ADULT_MAX, "F", "screening breast tomosynthesis"),
    ("77067", "77067", 0, ADULT_MAX, "F", "screening mammography"),
]


def bands() -> list[tuple[str, str, int, int, str | None, str]]:
    """Every band: the fourteen preventive E/M codes first, then `_OTHER_BANDS`."""
    preventive = []
    for digit, (low, high, label) in enumerate(_PREVENTIVE_BANDS, start=1):
        for first, kind in (("9938", "new"), ("9939", "established")):
            code = f"{first}{digit}"
            preventive.append((code, code, low, high, None, f"preventive visit, {kind} patient, age {label}"))
    return preventive + _OTHER_BANDS


@lru_cache(maxsize=64)
def _band_table(present: tuple[str, ...]) -> pl.DataFrame:
    """code → (min_age, max_age, sex, label) for the `present` procedure codes that fall in a band."""
    rows = []
    for code in present:
        for low, high, min_age, max_age, sex, label in bands():
            if len(code) == len(low) and low <= code <= high:
                rows.append((code, min_age, max_age, sex, label))
                break
    schema = {"code": pl.String, "min_age": pl.Int64, "max_age": pl.Int64, "band_sex": pl.String, "label": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def band_violations(long_px: pl.DataFrame) -> pl.DataFrame:
    table = _band_table(tuple(sorted(long_px["code"].unique().drop_nulls().to_list())))
    hits = long_px.join(table, on="code", how="inner")
    age_bad = ~pl.col("age").is_between(pl.col("min_age"), pl.col("max_age"))
    sex_bad = pl.col("band_sex").is_not_null() & (pl.col("sex") != pl.col("band_sex"))
    bad = hits.filter((age_bad | sex_bad).fill_null(True))
    sex_word = pl.col("band_sex").replace_strict({"F": "female ", "M": "male "}, default="")
    any_age = (pl.col("min_age") == 0) & (pl.col("max_age") == ADULT_MAX)
    ages = pl.when(any_age).then(pl.lit("patients")).otherwise(pl.format("ages {}-{}", "min_age", "max_age"))
    detail = pl.format(
        "{} ({}) is for {}{}, patient {} age {}", "code", "label", sex_word, ages,
        pl.col("sex").fill_null("unknown sex"), pl.col("age").cast(pl.String).fill_null("unknown"),
    )
    return violations(bad, "px_age_sex_band", detail)
