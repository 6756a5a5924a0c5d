"""Features and model groups: the fitted transformer + split, the feature autoencoder and the latent GAN (MLflow)."""

import time
from typing import Any

import dagster as dg
import polars as pl

from synth_ehr_assets.defs.metadata import table_metadata
from synth_ehr_assets.defs.partitions import release_partitions
from synth_ehr_assets.defs.resources import ArtifactStore, ReleaseSpecs
from synth_ehr_assets.io.duckdb_io import DUCKDB_POOL, RELEASE_PARTITION_METADATA

REGISTERED_MODEL_PREFIX = "synth-ehr-"


def epoch_logger(context: dg.AssetExecutionContext, what: str, every: int = 5):
    def progress(done: int, total: int) -> None:
        if done == total or done % every == 0:
            context.log.info(f"{what}: epoch {done}/{total}")

    return progress


def mlflow_run_id(mlflow, context: dg.AssetExecutionContext) -> str:
    """The MLflow run of this Dagster run. dagster-mlflow keeps one run active per process, so a run left active
    by an earlier Dagster run in the same process (in-process execution) is ended and a fresh one started."""
    active = mlflow.active_run()
    if active is None or mlflow.get_run(active.info.run_id).data.tags.get("dagster_run_id") != context.run_id:
        if active is not None:
            mlflow.end_run()
        mlflow.start_run(run_name=context.job_name, tags={"dagster_run_id": context.run_id})
    return mlflow.active_run().info.run_id


def memorisation_table(curve: list[dict]) -> str:
    """Markdown table of the anti-memorisation probes: median distance of generated rows to train vs holdout."""
    lines = ["| epoch | to train | to holdout | ratio |", "|---|---|---|---|"]
    lines += [f"| {p['epoch']} | {p['dist_train']:.4f} | {p['dist_holdout']:.4f} | {p['ratio']:.3f} |" for p in curve]
    return "\n".join(lines) if curve else "no probe (holdout too small)"


def register_checkpoint(mlflow, release: str, run_id: str) -> str:
    """Register the run's `gan_checkpoint` artifacts (state_dicts + JSON) as a new version of `synth-ehr-<release>`."""
    name = f"{REGISTERED_MODEL_PREFIX}{release}"
    client = mlflow.MlflowClient()
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name, description=f"synth-ehr synthesizer of release {release}")
    version = client.create_model_version(name, source=f"runs:/{run_id}/gan_checkpoint", run_id=run_id)
    return f"{name}/{version.version}"


def log_epochs(mlflow, prefix: str, epochs: list[dict]) -> None:
    """Every numeric per-epoch figure as an MLflow metric `<prefix>_<name>` stepped by epoch."""
    for record in epochs:
        for name, value in record.items():
            if name != "epoch" and isinstance(value, (int, float)):
                mlflow.log_metric(f"{prefix}_{name}", float(value), step=int(record["epoch"]))


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
    from synth_ehr_assets.core.synth.claims import encode_claim_features
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    spec, release = release_specs.load(context.partition_key), context.partition_key
    started = time.perf_counter()
    index = NearestCodeIndex.from_frame(code_embeddings)
    folder = artifacts.folder(release, "encoded_features")
    split, features = encode_claim_features(source_claims, spec.synthesizer, spec.seed, index.vector_of, folder)
    seconds = time.perf_counter() - started
    context.log.info(
        f"encoded {split.height:,} claims into {features.transformer.output_dim} features in {seconds:.1f}s"
    )
    context.add_output_metadata(
        table_metadata(
            split,
            train_rows=len(features.train_rows),
            holdout_rows=len(features.holdout_rows),
            encoded_dim=features.transformer.output_dim,
            codes_in_training=len(features.transformer.codes),
            seconds=round(seconds, 2),
            folder=dg.MetadataValue.path(str(folder)),
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
    mlflow: dg.ResourceParam[Any],
) -> dg.MaterializeResult:
    """Autoencoder compressing the encoded row ("advanced data encoding"); weights as state_dict + JSON, run in MLflow."""
    from synth_ehr_assets.core.synth.synthesizer import EncodedFeatures, fit_feature_autoencoder

    spec, release = release_specs.load(context.partition_key), context.partition_key
    features = EncodedFeatures.load(artifacts.folder(release, "encoded_features"))
    model, report = fit_feature_autoencoder(features, spec.synthesizer, spec.seed, epoch_logger(context, "autoencoder"))
    folder = model.save(artifacts.folder(release, "feature_autoencoder"))
    run_id = mlflow_run_id(mlflow, context)
    config = spec.synthesizer
    mlflow.log_params(
        {
            "release_id": release,
            "seed": spec.seed,
            "ae_latent_dim": config.latent_dim,
            "ae_hidden": str(config.autoencoder_hidden),
            "ae_epochs": config.autoencoder_epochs,
            "ae_batch_size": config.batch_size,
            "ae_learning_rate": config.autoencoder_learning_rate,
            "ae_input_dim": report["input_dim"],
            "train_rows": report["rows"],
        }
    )
    log_epochs(mlflow, "ae", report["epochs"])
    figures = {
        k: float(report[k]) for k in ("final_loss", "linear_rmse", "flag_accuracy", "category_accuracy", "seconds")
    }
    mlflow.log_metrics({f"ae_{k}": v for k, v in figures.items()})
    mlflow.log_artifacts(str(folder), artifact_path="feature_autoencoder")
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
    mlflow: dg.ResourceParam[Any],
) -> dg.MaterializeResult:
    """WGAN-GP on the latent space conditioned on the principal diagnosis, stopped early when generated rows drift
    closer to train than to holdout; the whole synthesizer is saved, logged to MLflow and registered per release."""
    from synth_ehr_assets.core.synth.autoencoder import FeatureAutoencoder
    from synth_ehr_assets.core.synth.claims import CONDITION_COLUMN, assemble_synthesizer
    from synth_ehr_assets.core.synth.synthesizer import EncodedFeatures, fit_latent_gan

    spec, release = release_specs.load(context.partition_key), context.partition_key
    features_folder = artifacts.folder(release, "encoded_features")
    features = EncodedFeatures.load(features_folder)
    autoencoder = FeatureAutoencoder.load(artifacts.folder(release, "feature_autoencoder"))
    config = spec.synthesizer
    generator, report = fit_latent_gan(
        features, autoencoder, config, spec.seed, CONDITION_COLUMN, epoch_logger(context, "gan")
    )
    synthesizer = assemble_synthesizer(features_folder, features.transformer, autoencoder, generator, config, spec.seed)
    folder = synthesizer.save(artifacts.folder(release, "gan_checkpoint"))
    run_id = mlflow_run_id(mlflow, context)
    mlflow.log_params(
        {
            "gan_epochs": config.gan_epochs,
            "gan_hidden": str(config.gan_hidden),
            "gan_noise_dim": config.gan_noise_dim,
            "gan_learning_rate": config.gan_learning_rate,
            "gan_critic_steps": config.gan_critic_steps,
            "gan_gradient_penalty": config.gan_gradient_penalty,
            "gan_patience": config.gan_patience,
            "memorisation_margin": config.memorisation_margin,
            "condition_column": CONDITION_COLUMN,
        }
    )
    log_epochs(mlflow, "gan", report["epochs"])
    log_epochs(mlflow, "memorisation", report["memorisation_curve"])
    mlflow.log_metrics({"gan_seconds": float(report["seconds"]), "gan_best_epoch": float(report["best_epoch"])})
    mlflow.set_tag("gan_stopped_reason", report["stopped_reason"])
    mlflow.log_artifacts(str(folder), artifact_path="gan_checkpoint")
    model = register_checkpoint(mlflow, release, run_id)
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
