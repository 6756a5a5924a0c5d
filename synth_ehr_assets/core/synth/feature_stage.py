"""The feature stage of a release by `synthesizer.kind`: the train/holdout split and fitted transformer every kind
needs, plus what a kind fits beside them on the training rows (the DP marginals of `dp_latent_gan`, the journey
model of `journey`, the whole MST model of `dp_mst`). Returns the split, the features and the DP figures the
asset shows as metadata."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def _train(rows: pl.DataFrame, split: pl.DataFrame) -> pl.DataFrame:
    return rows.join(split.filter(pl.col("split") == "train").select("claim_id"), on="claim_id")


def encode_for_kind(rows: pl.DataFrame, spec, index, folder: Path, planted: tuple[str, ...]):
    """(split, features, dp metadata) for the release's kind; canary ids in `planted` stay in train."""
    from synth_ehr_assets.core.synth.claims import encode_claim_features

    kind = spec.synthesizer.kind
    if kind == "dp_latent_gan":
        from synth_ehr_assets.core.synth.dp.stages import dp_encode_claim_features, dx_domain

        split, features, budget = dp_encode_claim_features(rows, spec, index.vector_of,
                                                           dx_domain(index.codes, spec.codes.embed), folder,
                                                           train_only=planted)
        return split, features, {"dp_epsilon_spent": budget.epsilon_spent, "dp_delta": budget.delta,
                                 "dp_bounded_rows": budget.rows}
    split, features = encode_claim_features(rows, spec.synthesizer, spec.seed, index.vector_of, folder,
                                            train_only=planted)
    if kind == "journey":  # the patient model of the train patients, beside the features
        from synth_ehr_assets.core.synth.journey_model import JourneyModel

        JourneyModel.fit(_train(rows, split)).save(folder)
    if kind == "dp_mst":  # fitted here, where the training rows are; gan_checkpoint saves it
        from synth_ehr_assets.core.synth.dp.mst import DPMSTSynthesizer
        from synth_ehr_assets.core.synth.dp.stages import dx_domain

        mst = DPMSTSynthesizer(spec, index.vector_of, dx_domain(index.codes, spec.codes.embed))
        mst.fit(_train(rows, split))
        mst.save(folder / "dp_mst")
        return split, features, {"dp_epsilon_spent": mst.budget["epsilon_spent"], "dp_delta": mst.budget["delta"],
                                 "dp_bounded_rows": mst.budget["rows"], "dp_mst_tree": str(mst.model["tree"])}
    return split, features, {}
