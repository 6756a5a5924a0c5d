"""Sources: turn a release's `source` block into validated canonical claims plus a quarantine of rejected rows.

`load_source(spec)` dispatches on `spec.source.kind`:
- `reference`: the built-in reference population (`core.reference`), nothing to quarantine;
- `file`: CSV or Parquet, canonical or mapped with `column_map` (`files.py`);
- `mimic_iv`: the MIMIC-IV hosp tables, ICD-9 mapped through the CMS GEMs (`mimic.py`).
The row rules live in `validation.py`; each broken rule is one quarantine row naming rule, column and row.
Identifiers: `claim_id` and `patient_id` are always minted anew by synthesis; a free-text column of the schema
(`provider_specialty`) whose values behave like identifiers (contact details, or 20+ values nearly unique per row)
is blanked here and named in `stats["identifier_columns"]`, so no source value of it can reach a release.
"""

from __future__ import annotations

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.sources.result import (
    Progress,
    SourceError,
    SourceResult,
    fingerprint_params,
)
from synth_ehr_assets.core.spec import ReleaseSpec

__all__ = ["SourceError", "SourceResult", "load_source"]
FREE_TEXT_COLUMNS = ("provider_specialty",)  # modelled as categories; every other string column is validated


def load_source(spec: ReleaseSpec, progress: Progress | None = None) -> SourceResult:
    """Load and validate the release's source; see the module docstring for the kinds."""
    kind = spec.source.kind
    if kind == "reference":
        return _load_reference(spec, progress)
    if kind == "file":
        from synth_ehr_assets.core.sources.files import load_file_source

        return blank_identifier_columns(load_file_source(spec, progress))
    if kind == "mimic_iv":
        from synth_ehr_assets.core.sources.mimic import load_mimic_source

        return blank_identifier_columns(load_mimic_source(spec, progress))
    raise SourceError(f"release spec field 'source.kind': unknown source kind {kind!r}")


def blank_identifier_columns(result: SourceResult) -> SourceResult:
    """Null out the free-text columns whose values behave like identifiers (module docstring), with the reason."""
    from synth_ehr_assets.core.synth.identifiers import PER_PATIENT_MIN_DISTINCT, identifier_reasons

    claims = result.claims
    reasons = identifier_reasons(claims, list(FREE_TEXT_COLUMNS))
    # a short specialty list can be nearly unique per row on a tiny source; an identifier has many values
    reasons = {c: why for c, why in reasons.items()
               if "look like" in why or claims[c].n_unique() >= PER_PATIENT_MIN_DISTINCT}
    if reasons:
        claims = claims.with_columns(pl.lit(None, pl.String).alias(c) for c in reasons)
    named = "; ".join(f"{c}: {why}, blanked (never modelled)" for c, why in reasons.items())
    result.stats["identifier_columns"] = named or "none"
    result.claims = claims
    return result


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
