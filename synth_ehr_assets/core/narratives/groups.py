"""ICD-10-CM condition groups (chapter or block ranges) and the chapter-R blocks each group's symptoms come from.

The group is the fallback key of the clinical knowledge table (`clinical.GROUPS`) and limits the embedding
neighbours `knowledge.ranked_symptoms` offers; clinical wording lives in `clinical.py`, `clinical_codes.py` and
`clinical_encounters.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

R_BLOCKS = {
    "cardiorespiratory": ("R00", "R09"), "digestive": ("R10", "R19"), "skin": ("R20", "R23"),
    "neuromuscular": ("R25", "R29"), "urinary": ("R30", "R39"), "cognition": ("R40", "R46"),
    "speech": ("R47", "R49"), "general": ("R50", "R69"),
}


@dataclass(frozen=True)
class ConditionGroup:
    """A group of ICD-10-CM categories (inclusive 3-character ranges) and its symptom blocks."""

    key: str
    ranges: tuple[tuple[str, str], ...]
    symptom_blocks: tuple[str, ...]

    def covers(self, category: str) -> bool:
        return any(low <= category <= high for low, high in self.ranges)

    def block_mask(self, r_categories: np.ndarray) -> np.ndarray:
        """1.0 for R categories inside this group's symptom blocks, else 0.0."""
        mask = np.zeros(len(r_categories), dtype=np.float32)
        for block in self.symptom_blocks:
            low, high = R_BLOCKS[block]
            mask[(r_categories >= low) & (r_categories <= high)] = 1.0
        return mask


def _g(key, ranges, blocks) -> ConditionGroup:
    return ConditionGroup(key, tuple(tuple(r) for r in ranges), tuple(blocks))


# Most specific first: the first group whose ranges cover a category wins.
CONDITION_GROUPS: tuple[ConditionGroup, ...] = (
    _g('sepsis', [('A40', 'A41')], ['general', 'cardiorespiratory', 'cognition']),
    _g('infection', [('A00', 'B99'), ('U07', 'U07')], ['general', 'cardiorespiratory', 'digestive']),
    _g('neoplasm', [('C00', 'D49')], ['general', 'digestive', 'cardiorespiratory']),
    _g('hematologic', [('D50', 'D89')], ['general', 'skin', 'cardiorespiratory']),
    _g('thyroid', [('E00', 'E07')], ['general', 'neuromuscular']),
    _g('diabetes', [('E08', 'E13')], ['general', 'urinary', 'neuromuscular']),
    _g('cystic_fibrosis', [('E84', 'E84')], ['cardiorespiratory', 'digestive', 'general']),
    _g('lipids', [('E78', 'E78')], ['general', 'cardiorespiratory']),
    _g('nutrition', [('E40', 'E68')], ['general', 'digestive']),
    _g('metabolic', [('E15', 'E39'), ('E69', 'E89')], ['general', 'neuromuscular', 'urinary']),
    _g('substance', [('F10', 'F19')], ['cognition', 'general']),
    _g('mental', [('F01', 'F99')], ['cognition', 'general', 'speech']),
    _g('nervous', [('G00', 'G99')], ['neuromuscular', 'cognition', 'speech', 'general']),
    _g('eye', [('H00', 'H59')], ['general', 'neuromuscular']),
    _g('ear', [('H60', 'H95')], ['general', 'neuromuscular']),
    _g('hypertension', [('I10', 'I1A')], ['cardiorespiratory', 'general']),
    _g('ischemic_heart', [('I20', 'I25')], ['cardiorespiratory', 'general']),
    _g('heart_failure', [('I50', 'I50')], ['cardiorespiratory', 'general']),
    _g('heart', [('I00', 'I09'), ('I26', 'I5A')], ['cardiorespiratory', 'general']),
    _g('cerebrovascular', [('I60', 'I69')], ['neuromuscular', 'speech', 'cognition']),
    _g('vascular', [('I70', 'I99')], ['cardiorespiratory', 'skin', 'general']),
    _g('upper_respiratory', [('J00', 'J06'), ('J30', 'J39')], ['cardiorespiratory', 'general']),
    _g('pneumonia', [('J09', 'J22')], ['cardiorespiratory', 'general']),
    _g('chronic_lung', [('J40', 'J4A')], ['cardiorespiratory', 'general']),
    _g('respiratory', [('J60', 'J99')], ['cardiorespiratory', 'general']),
    _g('digestive', [('K00', 'K95')], ['digestive', 'general']),
    _g('skin', [('L00', 'L99')], ['skin', 'general']),
    _g('musculoskeletal', [('M00', 'M99')], ['neuromuscular', 'general']),
    _g('kidney', [('N00', 'N29')], ['urinary', 'general']),
    _g('urinary', [('N30', 'N39')], ['urinary', 'general', 'digestive']),
    _g('genital', [('N40', 'N99')], ['urinary', 'digestive', 'general']),
    _g('pregnancy', [('O00', 'O9A')], ['digestive', 'general']),
    _g('perinatal', [('P00', 'P96')], ['general', 'digestive', 'cardiorespiratory']),
    _g('congenital', [('Q00', 'Q99')], ['general', 'neuromuscular']),
    _g('symptom', [('R00', 'R99')], ['general', 'cardiorespiratory', 'digestive']),
    _g('poisoning', [('T36', 'T65')], ['general', 'cognition', 'digestive']),
    _g('care_complication', [('T80', 'T88')], ['general']),
    _g('injury', [('S00', 'T88')], ['neuromuscular', 'skin', 'general']),
    _g('encounter', [('V00', 'Z99')], ['general']),
)
GENERAL = _g("general", [], ["general"])


def condition_group(code: str) -> ConditionGroup:
    """The most specific condition group covering the code's 3-character category."""
    return _group_of_category(code[:3].upper())


@lru_cache(maxsize=4096)
def _group_of_category(category: str) -> ConditionGroup:
    for group in CONDITION_GROUPS:
        if group.covers(category):
            return group
    return GENERAL
