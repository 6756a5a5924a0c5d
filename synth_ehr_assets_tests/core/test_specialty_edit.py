"""`specialty_unsupported`: a principal category or procedure that training ties to a few specialties, billed by
another; keys every specialty bills stay free, the table round-trips with the support, and no claim of the
reference population's own holdout is rarely flagged (a real specialty's tail unseen in train: 4 of 4,000
holdout claims at 20,000 reference claims, 0 on the demo's split; the demo release had 228 of 5,000)."""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core.synth.edits_specialty import MIN_SPECIALTY_EVIDENCE, specialty_support
from synth_ehr_assets.core.synth.edits_support import TrainingSupport
from synth_ehr_assets.core.synth.rules import RULES, SUPPORT_RULES, check_claims
from synth_ehr_assets_tests.core.test_synth_rules import claim, frame

RULE = "specialty_unsupported"
OFFICE = ("family_medicine", "internal_medicine", "cardiology", "neurology", "dermatology", "psychiatry")


def _train() -> pl.DataFrame:
    deliveries = [claim(claim_type="inpatient", los_days=2, drg="775", age=29, sex="F", dx_1="O80", dx_2="Z3A39",
                        dx_3="Z370", px_1="10E0XZZ", provider_specialty="obstetrics_gynecology")
                  for _ in range(MIN_SPECIALTY_EVIDENCE)]
    visits = [claim(dx_1="I10", dx_2=None, px_1="99213", provider_specialty=OFFICE[i % len(OFFICE)])
              for i in range(5 * MIN_SPECIALTY_EVIDENCE)]
    return frame(*[dict(c, claim_id=f"t{i}") for i, c in enumerate(deliveries + visits)])


def test_the_rule_is_registered_as_a_support_rule():
    assert RULE in RULES and RULE in SUPPORT_RULES


def test_a_delivery_billed_by_oncology_is_flagged_and_an_office_visit_by_any_specialty_is_not():
    support = TrainingSupport.from_claims(_train())
    assert set(support.specialties["key"]) == {"O80", "10E0XZZ"}  # I10 and 99213: billed by six specialties
    stay = dict(claim_type="inpatient", los_days=2, drg="775", age=31, sex="F", dx_1="O80", dx_2="Z3A39",
                dx_3="Z370", px_1="10E0XZZ")
    found = check_claims(frame(dict(claim(**stay, provider_specialty="oncology"), claim_id="bad"),
                               dict(claim(**stay, provider_specialty="obstetrics_gynecology"), claim_id="ok"),
                               dict(claim(dx_1="I10", dx_2=None, px_1="99213", provider_specialty="oncology"),
                                    claim_id="visit")), support)
    hits = found.filter(pl.col("rule") == RULE)
    assert sorted(hits["detail"].to_list()) == [
        "principal O80 billed by oncology: training bills it only by obstetrics_gynecology",
        "procedure 10E0XZZ billed by oncology: training bills it only by obstetrics_gynecology",
    ]
    assert set(hits["claim_id"]) == {"bad"} and set(hits["column"]) == {"provider_specialty"}


def test_the_table_round_trips_and_a_source_without_specialties_gets_none():
    support = TrainingSupport.from_claims(_train())
    assert TrainingSupport.from_dict(support.to_dict()).specialties.equals(support.specialties)
    assert specialty_support(_train().drop("provider_specialty")) is None


def test_the_reference_populations_holdout_is_rarely_flagged():
    from synth_ehr_assets.core.reference.generator import generate_reference_claims

    claims = generate_reference_claims(6000, 3, "specialty")
    patients = claims["patient_id"].unique().sort()
    held = patients.sample(fraction=0.2, seed=3)
    train, holdout = (claims.filter(pl.col("patient_id").is_in(held.implode()) == side) for side in (False, True))
    support = TrainingSupport.from_claims(train)
    assert support.specialties.height > 50
    found = check_claims(holdout, support)
    assert found.filter(pl.col("rule") == RULE)["claim_id"].n_unique() <= 0.005 * holdout.height
