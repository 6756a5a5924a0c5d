"""A screening encounter whose test the claim does not bill (a 6-epoch GAN writes such claims): the design note
calls the test ordered, not done, so the judge's result_without_test detector has nothing to object to."""

import pytest

from synth_ehr_assets.core.narratives.design import design_note, names_unbilled_test
from synth_ehr_assets.core.narratives.detectors import detect

# A synthetic claim of the Celery release test's sample: screening mammogram principal, colonoscopies billed.
CLAIM = {"release_id": "r", "claim_id": "SC08644990816961", "patient_id": "SP1", "claim_type": "outpatient",
         "los_days": 0, "age": 43, "sex": "M", "dx_1": "Z1231", "dx_2": "E785", "dx_3": "F319", "px_1": "45378",
         "px_2": "45380", "provider_specialty": "pulmonology", **{f"dx_{i}": None for i in range(4, 11)},
         **{f"px_{i}": None for i in range(3, 7)}}


def test_the_lexicon_names_the_missing_test():
    assert names_unbilled_test("screening mammogram for breast cancer", ["45378"])
    assert not names_unbilled_test("screening mammogram for breast cancer", ["77067"])
    assert not names_unbilled_test("hyperlipidemia", [])


@pytest.mark.parametrize("seed", range(8))
def test_an_unbilled_screening_test_is_ordered_and_a_billed_one_is_not(seed):
    note = design_note(CLAIM, seed)
    assert "(Z12.31), ordered" in note or "(Z12.31), planned" in note, note
    assert "result_without_test" not in {f.kind for f in detect(note, CLAIM)}, note
    billed = {**CLAIM, "px_1": "77067", "px_2": None}
    note = design_note(billed, seed)
    assert "(Z12.31), ordered" not in note and "(Z12.31), planned" not in note, note
    assert "result_without_test" not in {f.kind for f in detect(note, billed)}, note
