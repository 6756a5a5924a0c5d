"""Codes without a knowledge-table entry (most MIMIC-IV codes) still get clinical notes: a label in a clinician's
words rather than the pasted title, acuity from the title, vitals that show diagnoses that are vital signs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from synth_ehr_assets.core.codes import describe
from synth_ehr_assets.core.narratives import lexicon as lx
from synth_ehr_assets.core.narratives.clinical import label, profile
from synth_ehr_assets.core.narratives.design import design_note
from synth_ehr_assets.core.narratives.detectors import detect

MIMIC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mimic-iv-demo-2.2"
# codes of the MIMIC-IV demo's admissions that the knowledge table does not list
UNLISTED = ("J9600", "R6521", "I308", "J90", "K7200", "R748", "J690", "S22009A", "Y92121", "I69354", "E871",
            "N170", "C3430", "D497", "K5791")


@pytest.mark.parametrize("code", UNLISTED)
def test_unlisted_codes_get_a_clinical_label_not_their_title(code):
    text = label(code, describe(code))
    assert text and (len(describe(code).split()) < 8 or text.lower() != describe(code).lower()), text
    assert not lx.CODE_IDIOMS.search(text) and len(text.split()) < 8, text


def test_examples_of_unlisted_labels_and_acuity():
    assert label("J9600", describe("J9600")) == "acute respiratory failure"
    assert label("R6521", describe("R6521")) == "septic shock"
    assert label("Y92121", describe("Y92121")) == "bathroom in nursing home"
    assert profile("K7200").acuity == "emergency" and profile("N170").acuity == "acute"
    assert not any(text.startswith("continue") for text, _ in profile("K7200").plan)


def test_a_diagnosis_that_is_a_vital_sign_shows_in_the_vitals(narrative_knowledge):
    claim = {"claim_id": "t1", "claim_type": "inpatient", "age": 70, "sex": "M", "dx_1": "J189", "dx_2": "R000",
             "dx_3": "I959", "drg": "193", "los_days": 3, "provider_specialty": "internal_medicine"}
    knowledge = narrative_knowledge(pl.DataFrame([claim]))
    for i in range(8):
        row = {**claim, "claim_id": f"t{i}"}
        note = design_note(row, 3, knowledge)
        assert not [f for f in detect(note, row) if f.kind == "symptom_vitals"], note


@pytest.mark.slow  # embeds ~1,000 MIMIC-IV code descriptions (about a minute on the 2-core box)
@pytest.mark.skipif(not MIMIC.is_dir(), reason=f"the MIMIC-IV demo is not at {MIMIC} (../shared/data)")
def test_notes_of_real_mimic_admissions_pass_the_judge(narrative_knowledge):
    from synth_ehr_assets.core.narratives.design import design_notes
    from synth_ehr_assets.core.narratives.judge import judge_frame
    from synth_ehr_assets.core.sources import load_source
    from synth_ehr_assets.core.spec import parse_spec

    claims = load_source(parse_spec({"source": {"kind": "mimic_iv", "path": str(MIMIC)}}, "m")).claims
    knowledge = narrative_knowledge(claims)
    judged = judge_frame(design_notes(claims, knowledge, 3), claims, knowledge)
    # long ICU titles (aspiration pneumonitis, metastases, SIRS, external-cause places) get a clinician's label
    assert judged["passed"].mean() >= 0.97, judged["flags"].value_counts(sort=True).head(5)
