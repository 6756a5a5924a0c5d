"""Features and model groups: the fitted transformer + split, the feature autoencoder and the latent GAN (MLflow)."""

import time

import dagster as dg
import polars as pl

from synth_ehr_assets.defs.metadata import table_metadata
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.progress import step_progress
from synth_ehr_assets.defs.resources import ArtifactStore, MlflowTracking, ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA


def memorisation_table(curve: list[dict]) -> str:
    """Markdown table of the anti-memorisation probes: median distance of generated rows to train vs holdout."""
    lines = ["| epoch | to train | to holdout | ratio |", "|---|---|---|---|"]
    lines += [f"| {p['epoch']} | {p['dist_train']:.4f} | {p['dist_holdout']:.4f} | {p['ratio']:.3f} |" for p in curve]
    return "\n".join(lines) if curve else "no probe (holdout too small)"


@dg.asset(
    partitions_def=release_partitions,
    group_name="features",
    kinds={"duckdb", "polars", "numpy"},
    metadata=RELEASE_PARTITION_METADATA,
    pool=DUCKDB_POOL,
)
def encoded_features(
    context: dg.AssetExecutionContext,
    release_specs: ReleaseSpecs,
    artifacts: ArtifactStore,
    source_claims: pl.DataFrame,
    code_embeddings: pl.DataFrame,
) -> pl.DataFrame:
    """Invertible transformer fitted on the train split (quantile numerics, one-hot categoricals, PCA code-slot
    vectors + presence flags) and the seeded train/holdout split; the table lists each source claim's split."""
    from synth_ehr_assets.core.evaluation.canaries import make_canaries
    from synth_ehr_assets.core.synth.feature_stage import encode_for_kind
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    spec, release = release_specs.load(context.partition_key), context.partition_key
    started = time.perf_counter()
    index = NearestCodeIndex.from_frame(code_embeddings)
    folder = artifacts.folder(release, "encoded_features")
    canaries = make_canaries(source_claims, spec.privacy.canaries, spec.seed, release)
    rows, planted = pl.concat([source_claims, canaries]), tuple(canaries["claim_id"])
    split, features, dp = encode_for_kind(rows, spec, index, folder, planted)
    seconds = time.perf_counter() - started
    context.log.info(
        f"encoded {split.height:,} claims into {features.transformer.output_dim} features in {seconds:.1f}s"
    )
    context.add_output_metadata(
        table_metadata(
            split,
            train_rows=len(features.train_rows),
            holdout_rows=len(features.holdout_rows),
            validation_rows=0 if features.validation_rows is None else len(features.validation_rows),
            canaries_planted=canaries.height,
            encoded_dim=features.transformer.output_dim,
            codes_in_training=len(features.transformer.codes),
            seconds=round(seconds, 2),
            folder=dg.MetadataValue.path(str(folder)),
            **dp,
        )
    )
    return split


@dg.asset(
    partitions_def=release_partitions,
    group_name="model",
    kinds={"torch", "mlflow"},
    deps=[encoded_features],
)
def feature_autoencoder(
    context: dg.AssetExecutionContext,
    release_specs: ReleaseSpecs,
    artifacts: ArtifactStore,
    mlflow: MlflowTracking,
) -> dg.MaterializeResult:
    """Autoencoder compressing the encoded row ("advanced data encoding"); weights as state_dict + JSON, run in MLflow."""
    from synth_ehr_assets.core.synth.synthesizer import EncodedFeatures, fit_feature_autoencoder

    spec, release = release_specs.load(context.partition_key), context.partition_key
    features = EncodedFeatures.load(artifacts.folder(release, "encoded_features"))
    progress = step_progress(context, "autoencoder epochs")
    if spec.synthesizer.kind == "dp_mst":
        return dg.MaterializeResult(metadata={"skipped": "synthesizer.kind dp_mst has no autoencoder"})
    if spec.synthesizer.kind == "dp_latent_gan":
        from synth_ehr_assets.core.synth.dp.stages import dp_fit_autoencoder

        model, report = dp_fit_autoencoder(features, spec, artifacts.folder(release, "encoded_features"), progress)
    else:
        model, report = fit_feature_autoencoder(features, spec.synthesizer, spec.seed, progress)
    folder = model.save(artifacts.folder(release, "feature_autoencoder"))
    config = spec.synthesizer
    figures = {
        k: float(report[k]) for k in ("final_loss", "linear_rmse", "flag_accuracy", "category_accuracy", "seconds")
    }
    params = {
        "release_id": release,
        "seed": spec.seed,
        "ae_latent_dim": config.latent_dim,
        "ae_hidden": config.autoencoder_hidden,
        "ae_epochs": config.autoencoder_epochs,
        "ae_batch_size": config.batch_size,
        "ae_learning_rate": config.autoencoder_learning_rate,
        "ae_input_dim": report["input_dim"],
        "train_rows": report["rows"],
    }
    run_id = mlflow.log_stage(context, "feature_autoencoder", params, {f"ae_{k}": v for k, v in figures.items()},
                              {"ae": report["epochs"]}, folder)
    context.log.info(
        f"autoencoder: loss {figures['final_loss']:.3f} in {figures['seconds']:.1f}s (MLflow run {run_id})"
    )
    return dg.MaterializeResult(
        metadata={
            **figures,
            "epochs": len(report["epochs"]),
            "mlflow_run_id": run_id,
            "dagster/uri": dg.MetadataValue.path(str(folder)),
        }
    )


@dg.asset(
    partitions_def=release_partitions,
    group_name="model",
    kinds={"torch", "mlflow"},
    deps=[feature_autoencoder],
)
def gan_checkpoint(
    context: dg.AssetExecutionContext,
    release_specs: ReleaseSpecs,
    artifacts: ArtifactStore,
    mlflow: MlflowTracking,
) -> dg.MaterializeResult:
    """WGAN-GP on the latent space conditioned on the principal diagnosis, stopped early when generated rows drift
    closer to train than to holdout; the whole synthesizer is saved, logged to MLflow and registered per release."""
    from synth_ehr_assets.core.synth.autoencoder import FeatureAutoencoder
    from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, assemble_synthesizer
    from synth_ehr_assets.core.synth.synthesizer import EncodedFeatures, fit_latent_gan

    spec, release = release_specs.load(context.partition_key), context.partition_key
    features_folder = artifacts.folder(release, "encoded_features")
    if spec.synthesizer.kind == "dp_mst":  # fitted by encoded_features; registered like the GAN
        import shutil

        folder = artifacts.folder(release, "gan_checkpoint")
        shutil.copytree(features_folder / "dp_mst", folder, dirs_exist_ok=True)
        run_id = mlflow.log_stage(context, "gan_checkpoint", {"kind": "dp_mst"}, {}, {}, folder,
                                  tags={"gan_stopped_reason": "not_trained"})
        return dg.MaterializeResult(metadata={"stopped_reason": "not_trained", "kind": "dp_mst",
                                              "mlflow_run_id": run_id, "mlflow_model": mlflow.register(
                                                  release, run_id, "gan_checkpoint"),
                                              "dagster/uri": dg.MetadataValue.path(str(folder))})
    features = EncodedFeatures.load(features_folder)
    autoencoder = FeatureAutoencoder.load(artifacts.folder(release, "feature_autoencoder"))
    config = spec.synthesizer
    if config.kind == "dp_latent_gan":
        from synth_ehr_assets.core.synth.dp.stages import assemble_dp_synthesizer, dp_fit_gan

        generator, report = dp_fit_gan(features, autoencoder, spec, features_folder, step_progress(context, "GAN epochs"))
        assemble = assemble_dp_synthesizer
    else:
        generator, report = fit_latent_gan(
            features, autoencoder, config, spec.seed, CONDITION_COLUMN, step_progress(context, "GAN epochs")
        )
        assemble = assemble_synthesizer
        if config.kind == "journey":
            from synth_ehr_assets.core.synth.journey import assemble_journey_synthesizer as assemble
    synthesizer = assemble(features_folder, features.transformer, autoencoder, generator, config, spec.seed)
    folder = synthesizer.save(artifacts.folder(release, "gan_checkpoint"))
    params = {
        "gan_epochs": config.gan_epochs,
        "gan_hidden": config.gan_hidden,
        "gan_noise_dim": config.gan_noise_dim,
        "gan_learning_rate": config.gan_learning_rate,
        "gan_critic_steps": config.gan_critic_steps,
        "gan_gradient_penalty": config.gan_gradient_penalty,
        "gan_patience": config.gan_patience,
        "memorisation_margin": config.memorisation_margin,
        "condition_column": CONDITION_COLUMN,
    }
    metrics = {"gan_seconds": float(report["seconds"]), "gan_best_epoch": float(report["best_epoch"])}
    epochs = {"gan": report["epochs"], "memorisation": report["memorisation_curve"]}
    run_id = mlflow.log_stage(context, "gan_checkpoint", params, metrics, epochs, folder,
                              tags={"gan_stopped_reason": report["stopped_reason"]})
    model = mlflow.register(release, run_id, "gan_checkpoint")
    context.log.info(
        f"GAN stopped ({report['stopped_reason']}) after {report['epochs_run']} epochs; registered as {model}"
    )
    return dg.MaterializeResult(
        metadata={
            "stopped_reason": report["stopped_reason"],
            "epochs_run": report["epochs_run"],
            "best_epoch": report["best_epoch"],
            "seconds": float(report["seconds"]),
            "memorisation_curve": dg.MetadataValue.md(memorisation_table(report["memorisation_curve"])),
            "mlflow_run_id": run_id,
            "mlflow_model": model,
            "dagster/uri": dg.MetadataValue.path(str(folder)),
        }
    )
