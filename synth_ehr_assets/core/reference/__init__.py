"""Design-driven reference population (DESIGN §5): the default source and the fidelity ground truth."""

from synth_ehr_assets.core.reference.conditions import AGE_BAND_LABELS, AGE_BANDS, CONDITION_TARGETS, Condition
from synth_ehr_assets.core.reference.generator import REFERENCE_VERSION, generate_reference_claims
from synth_ehr_assets.core.reference.procedures import REFERENCE_PROCEDURES
from synth_ehr_assets.core.reference.targets import condition_targets_table, measured_prevalence
from synth_ehr_assets.core.reference.tables import validate_design

__all__ = [
    "AGE_BANDS",
    "AGE_BAND_LABELS",
    "CONDITION_TARGETS",
    "Condition",
    "REFERENCE_PROCEDURES",
    "REFERENCE_VERSION",
    "condition_targets_table",
    "generate_reference_claims",
    "measured_prevalence",
    "validate_design",
]
