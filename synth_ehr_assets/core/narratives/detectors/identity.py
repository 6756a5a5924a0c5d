"""`demographics` (wording against the claim's age and sex) and `phi` (identifier patterns)."""

from __future__ import annotations

from synth_ehr_assets.core.narratives.detectors.reading import Case, Finding
from synth_ehr_assets.core.narratives.phi import phi_kinds, scan_phi


def demographics(case: Case) -> list[Finding]:
    from synth_ehr_assets.core.narratives.judge import demographic_issues

    return [Finding("demographics", case.note.text[:80], issue)
            for issue in demographic_issues(case.note.text, case.age, case.claim.get("sex"))]


def phi(case: Case) -> list[Finding]:
    hits = scan_phi(case.note.text)
    if not hits:
        return []
    where = next((s for _, s in case.note.sentences if hits[0].text in s), case.note.text[:80])
    return [Finding("phi", where, phi_kinds(hits))]
