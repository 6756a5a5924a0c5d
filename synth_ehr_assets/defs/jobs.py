"""The release job: every asset of one release partition, checks included."""

import dagster as dg

from synth_ehr_assets.defs.partitions import release_partitions

SPEC_FINGERPRINT_TAG = "synth_ehr/spec_fingerprint"

release_job = dg.define_asset_job(
    "release_job",
    selection=dg.AssetSelection.all(),
    partitions_def=release_partitions,
    description="Materialize one release end to end; blocking checks stop it before anything downstream.",
)
