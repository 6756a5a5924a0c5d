"""The `dp_latent_gan` stages, one Dagster asset each like the `latent_gan` ones (`claims.encode_claim_features`,
`synthesizer.fit_feature_autoencoder`, `fit_latent_gan`): split → bound → plan the budget → noisy marginals →
pseudo table → transformer; DP autoencoder; DP critic + generator → `DPTableSynthesizer`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, CONDITION_POOL_FILE, MODEL_COLUMN_KINDS, model_frame
from synth_ehr_assets.core.synth.dp import marginals as dpm
from synth_ehr_assets.core.synth.dp.budget import DPBudget, plan_budget, steps_for
from synth_ehr_assets.core.synth.dp.sgd import noise_sequence
from synth_ehr_assets.core.synth.synthesizer import EncodedFeatures, split_three
from synth_ehr_assets.core.synth.transformer import TableTransformer

PSEUDO_FILE = "dp_pseudo.parquet"
PSEUDO_ROWS = 20_000
POOL_ROWS = 8_192


def dx_domain(codes_with_vectors, embed: str = "all") -> list[str] | None:
    """The public diagnosis domain: billable FY2026 ICD-10-CM codes that have an embedding, when every catalog code
    is embedded (`codes.embed: all`); None otherwise (the index then holds the source's codes: not public)."""
    from synth_ehr_assets.core.codes import billable_codes

    if embed != "all":
        return None
    have = set(map(str, codes_with_vectors))
    return sorted(c for c in billable_codes() if c in have)


def plan_for(spec, rows: int) -> DPBudget:
    """The release's budget for `rows` bounded training rows (batch as the non-DP path sizes it)."""
    from synth_ehr_assets.core.synth.autoencoder import effective_batch_size

    config, privacy = spec.synthesizer, spec.privacy
    batch = effective_batch_size(config.batch_size, rows)
    rate_ae, steps_ae = steps_for(rows, batch, config.autoencoder_epochs)
    rate_c, steps_c = steps_for(rows, batch, config.gan_epochs)
    delta = privacy.dp_delta if privacy.dp_delta is not None else rows ** -1.1
    budget = plan_budget(privacy.dp_epsilon, delta, rows, dict(config.dp_budget_split), len(dpm.histogram_names()),
                         {"autoencoder": rate_ae, "critic": rate_c}, {"autoencoder": steps_ae, "critic": steps_c},
                         config.dp_max_grad_norm, unit=privacy.dp_unit)
    budget.noise_seed = privacy.dp_noise_seed
    return budget


def dp_encode_claim_features(source_claims: pl.DataFrame, spec, code_vectors, domain: list[str] | None, folder: Path,
                             train_only: tuple[str, ...] = ()) -> tuple[pl.DataFrame, EncodedFeatures, DPBudget]:
    """Split as the `latent_gan` kind does, then fit the transformer on the pseudo table of DP marginals; saves the
    budget, the noisy marginals, the pseudo table, the split and the DP principal pool under `folder`."""
    config, seed, folder = spec.synthesizer, spec.seed, Path(folder)
    source = source_claims.sort("claim_id")
    patients = source["patient_id"] if config.holdout_by_patient and "patient_id" in source.columns else None
    forced = source["claim_id"].is_in(list(train_only)).to_numpy()
    train_rows, validation_rows, holdout_rows = split_three(source.height, config, seed, patients, forced)
    bounded = train_rows[dpm.bound_rows(source[train_rows], spec.privacy.dp_unit, seed)]
    budget = plan_for(spec, len(bounded))
    budget.public_dx_domain = domain is not None
    budget.save(folder)
    train_model = model_frame(source[bounded])
    noise = np.random.default_rng(noise_sequence(budget.noise_seed, 0))  # OS entropy unless a test seeds it
    marginals = dpm.noisy_marginals(train_model, domain, spec.privacy.dp_public_date_range,
                                    budget.noise_std("marginals"), budget.delta_threshold, noise)
    dpm.save_marginals(marginals, folder)
    pseudo = dpm.pseudo_table(marginals, PSEUDO_ROWS, dict(train_model.schema), np.random.default_rng([seed, 72]))
    pseudo.write_parquet(folder / PSEUDO_FILE)
    transformer = TableTransformer(MODEL_COLUMN_KINDS, code_vectors, config.code_dims, seed).fit(pseudo)
    validation = transformer.transform(model_frame(source[validation_rows])) if len(validation_rows) else None
    features = EncodedFeatures(transformer, transformer.transform(train_model),
                               transformer.transform(model_frame(source[holdout_rows])), bounded, holdout_rows,
                               validation=validation, validation_rows=validation_rows if validation is not None else None)
    features.save(folder)
    principal = marginals["dx_1"]
    (folder / CONDITION_POOL_FILE).write_text(json.dumps(
        {"values": principal["keys"], "weights": [max(1, int(round(c))) for c in principal["counts"]]}))
    label = (pl.when(pl.int_range(pl.len()).is_in(holdout_rows.tolist())).then(pl.lit("holdout"))
             .when(pl.int_range(pl.len()).is_in(validation_rows.tolist())).then(pl.lit("validation"))
             .otherwise(pl.lit("train")))
    split = source.select("release_id", "claim_id").with_columns(split=label)
    return split, features, budget


def pseudo_model_matrix(features: EncodedFeatures, folder: Path) -> tuple[pl.DataFrame, np.ndarray]:
    pseudo = pl.read_parquet(Path(folder) / PSEUDO_FILE)
    return pseudo, features.transformer.transform(pseudo)


def dp_fit_autoencoder(features: EncodedFeatures, spec, features_folder: Path, progress=None):
    """DP-SGD autoencoder on the bounded training rows (budget from `features_folder`)."""
    from synth_ehr_assets.core.synth.dp.training import train_dp_autoencoder

    _, pseudo = pseudo_model_matrix(features, features_folder)
    budget = DPBudget.load(features_folder)
    return train_dp_autoencoder(features.train, pseudo, features.transformer.segments, spec.synthesizer, budget,
                                spec.seed, progress)


def dp_fit_gan(features: EncodedFeatures, autoencoder, spec, features_folder: Path, progress=None):
    """DP-SGD critic on the training latents + principal conditions; generator conditions from the DP pool."""
    from synth_ehr_assets.core.synth.dp.training import train_dp_gan

    _, pseudo = pseudo_model_matrix(features, features_folder)
    budget = DPBudget.load(features_folder)
    transformer = features.transformer
    conditions = features.train[:, transformer.column_slices[CONDITION_COLUMN]]
    pool = json.loads((Path(features_folder) / CONDITION_POOL_FILE).read_text())
    weights = np.asarray(pool["weights"], dtype=np.float64)
    drawn = np.random.default_rng([spec.seed, 73]).choice(len(weights), POOL_ROWS, p=weights / weights.sum())
    pool_conditions = transformer.transform_column(
        CONDITION_COLUMN, pl.Series(CONDITION_COLUMN, [pool["values"][i] for i in drawn], dtype=pl.String))
    return train_dp_gan(autoencoder.encode(features.train), conditions, pool_conditions, autoencoder.encode(pseudo),
                        spec.synthesizer, budget, spec.seed, progress)


def assemble_dp_synthesizer(features_folder: Path, transformer, autoencoder, generator, config, seed: int):
    """The `DPTableSynthesizer` of the stages (condition: dx_1 from the DP pool; no condition profile)."""
    from synth_ehr_assets.core.synth.claims import claims_frame
    from synth_ehr_assets.core.synth.dp.synthesizer import DPTableSynthesizer
    from synth_ehr_assets.core.synth.synthesizer import ConditionPool

    synthesizer = DPTableSynthesizer(MODEL_COLUMN_KINDS, config, seed, transformer.code_vectors, CONDITION_COLUMN)
    synthesizer.transformer, synthesizer.autoencoder, synthesizer.generator = transformer, autoencoder, generator
    synthesizer.condition_pool = ConditionPool(**json.loads((Path(features_folder) / CONDITION_POOL_FILE).read_text()))
    synthesizer.pseudo_claims = claims_frame(pl.read_parquet(Path(features_folder) / PSEUDO_FILE))
    synthesizer.budget = DPBudget.load(features_folder)
    return synthesizer


def fit_dp_claims(source_claims: pl.DataFrame, spec, code_vectors, domain: list[str], folder: Path, progress=None):
    """All three stages in one call (what `DPTableSynthesizer.fit` and the tests run): (synthesizer, reports)."""
    split, features, budget = dp_encode_claim_features(source_claims, spec, code_vectors, domain, folder)
    autoencoder, ae_report = dp_fit_autoencoder(features, spec, folder, progress)
    generator, gan_report = dp_fit_gan(features, autoencoder, spec, folder, progress)
    synthesizer = assemble_dp_synthesizer(folder, features.transformer, autoencoder, generator, spec.synthesizer,
                                          spec.seed)
    synthesizer.spec = spec
    return synthesizer, {"split": split, "features": features, "autoencoder": ae_report, "gan": gan_report,
                         "budget": budget.to_dict()}
