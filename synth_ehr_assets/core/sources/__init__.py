"""Sources: turn a release's `source` block into validated canonical claims plus a quarantine of rejected rows.

`load_source(spec)` dispatches on `spec.source.kind`:
- `reference`: the built-in reference population (`core.reference`), nothing to quarantine;
- `file`: CSV or Parquet, canonical or mapped with `column_map` (`files.py`);
- `mimic_iv`: the MIMIC-IV hosp tables, ICD-9 mapped through the CMS GEMs (`mimic.py`).
The row rules live in `validation.py`; each broken rule is one quarantine row naming rule, column and row.
"""

from __future__ import annotations

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.sources.result import (
    Progress,
    SourceError,
    SourceResult,
    fingerprint_params,
)
from synth_ehr_assets.core.spec import ReleaseSpec

__all__ = ["SourceError", "SourceResult", "load_source"]


def load_source(spec: ReleaseSpec, progress: Progress | None = None) -> SourceResult:
    """Load and validate the release's source; see the module docstring for the kinds."""
    kind = spec.source.kind
    if kind == "reference":
        return _load_reference(spec, progress)
    if kind == "file":
        from synth_ehr_assets.core.sources.files import load_file_source

        return load_file_source(spec, progress)
    if kind == "mimic_iv":
        from synth_ehr_assets.core.sources.mimic import load_mimic_source

        return load_mimic_source(spec, progress)
    raise SourceError(f"release spec field 'source.kind': unknown source kind {kind!r}")


def _load_reference(spec: ReleaseSpec, progress: Progress | None) -> SourceResult:
    from synth_ehr_assets.core.reference import REFERENCE_PROCEDURES, generate_reference_claims

    claims = generate_reference_claims(spec.source.claims, spec.seed, spec.release_id, progress)
    params = {"kind": "reference", "claims": spec.source.claims, "seed": spec.seed}
    stats = {"rows_in": claims.height, "rows_rejected": 0, "codes_dropped": 0, "quarantine_share": 0.0}
    return SourceResult(
        claims=schema.conform(claims),
        quarantine=schema.empty_quarantine(),
        fingerprint=fingerprint_params(params),
        procedure_descriptions=dict(REFERENCE_PROCEDURES),
        stats=stats,
    )
