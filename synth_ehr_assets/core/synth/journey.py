"""`journey`: synthetic patients with longitudinal claim sequences (issue 15; registry kind, `base.Synthesizer`).

Design: claim content and patient journeys are modelled apart and joined at sampling.

- The claim content is seed 000's blueprint unchanged: the `latent_gan` `TableSynthesizer` (code embeddings,
  transformer, feature autoencoder, latent WGAN conditioned on the principal diagnosis, calibrated code decoding),
  which this class extends. `sample(n, conditions, code_decoder, seed)` first samples exactly those rows, so the
  release pipeline (`claims.synthesize_claims`: principal plan, edits, privacy filters, resampling) is unchanged.
- The journeys come from a `JourneyModel` fitted on the training patients (`journey_model.py`: claims per
  patient by age × sex, inter-claim gaps by the earlier claim's setting, principal-category transitions counted in
  distinct patients with a minimum support and smoothing, per-category recurrence). `sample` groups the decoded
  rows into patients: each patient's next claim is the unused row of the category the transition / recurrence
  model draws, with the patient's chronic conditions and sex and the closest age; the patient keeps the first
  row's sex, region and payer, gets a birth date, dates along drawn gaps and ages that follow the dates. Rows carry
  a patient key in `patient_id`; `claims._with_ids` mints one release patient id per key.
- Journey edits applied by the assembly: sex constant per patient, no claim before birth (birth precedes the first
  claim), newborn codes (chapter P, Z38) only in the patient's first 28 days; the claim edits and privacy filters
  screen each round's assembled rows.
- `assemble_release` (called by `claims.synthesize_claims` after its last round, before ids are minted) groups
  every kept row into patients once more (`journey_release`): a round's rows no longer lose the claims that
  edits, filters or the matched draw left out, and replacement rows no longer form small patients of their own.
  Each row then passes the release screen again at its new age, sex and date (next claims come from rows of the
  patient's sex and about their age, so few fail; a failing patient is moved in time with its birth date, a row
  still failing keeps its screened values as a patient of one), and a patient whose principal diagnoses and
  dates copy a run of 3 claims of a source patient (`journey_privacy`) is moved or split, counted in the
  report's `dropped_by_privacy.patient_sequence_copy`. A row still failing is given to a fitting patient
  (`journey_attach`) rather than left as a patient of one claim.
- Busy patients (`journey_intensity`): gaps and the choice of an inpatient stay follow the patient's number of
  claims, and a journey's gaps are cut to fit the training window. On 50,000 reference claims this moved the
  claims-per-patient median from 3 to 5 (holdout 5) and the 180-day admission TSTR from 0.650 to 0.764 (TRTR
  0.792; TabularARGN sequential 0.718); `benchmarks/results/journeys_50k`.
- Before this (per-round patients, with `matched_marginals` and a round generating 2.5× the rows it needs) the
  demo's journeys were short: claims per patient median 3 / p90 10 against the holdout's 4 / 16, gap median 47
  days against 35, persistence 0.756 (bar 0.751). Not yet re-measured on the demo; on the real holdout rows of a
  20,000-claim reference source screened in three rounds, `assemble_release` gave claims per patient 3 / 15
  (holdout 4 / 15), gap median 37 days (36), persistence 0.828 (0.877) against 4 / 14, 34 days, 0.735 for the
  per-round patients, with 2% of rows left as one-claim patients.

Sampling every round's rows as one batch (one conditional GAN call), then assembling, keeps the GAN's exact
per-principal counts; what the assembly cannot do is change a row's content to fit the patient (a chronic
secondary diagnosis is kept only by choosing rows that carry it).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synth_ehr_assets.core.synth.journey_model import JourneyModel
from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer


class JourneySynthesizer(TableSynthesizer):
    """The latent GAN for claim content + a `JourneyModel` grouping sampled claims into patients."""

    kind = "journey"

    def __init__(self, *args, journey: JourneyModel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.journey = journey
        self.release_assembly: dict = {}

    def fit(self, train_df: pl.DataFrame, holdout_df: pl.DataFrame | None = None, progress=None):
        """The latent GAN on the model columns, the journey model on `train_df`'s patients (`patient_id`)."""
        if "patient_id" not in train_df.columns:
            raise ValueError("synthesizer.kind 'journey' needs a source with patient_id")
        columns = list(self.column_kinds)
        report = super().fit(train_df.select(columns), None if holdout_df is None else holdout_df.select(columns),
                             progress)
        self.journey = JourneyModel.fit(train_df)
        return report

    def sample(self, n: int, conditions: dict | None = None, code_decoder=None, seed: int | None = None,
               progress=None) -> pl.DataFrame:
        """`n` rows as `TableSynthesizer.sample` draws them (same conditions), grouped into patients: a
        `patient_id` key per patient (unique to this seed), dates, ages and demographics along each journey."""
        if self.journey is None:
            raise ValueError("the journey model is not fitted")
        seed = self.seed if seed is None else seed
        rows = super().sample(n, conditions, code_decoder, seed, progress)
        return self.journey.assemble(rows, seed, key_prefix=f"J{seed}-")

    def assemble_release(self, claims: pl.DataFrame, seed: int, screen, protected: pl.DataFrame) -> pl.DataFrame:
        """Every row the release kept, grouped into patients once (`journey_release.assemble_release`); called by
        `claims.synthesize_claims` after its last round. The screen's `dropped_by_privacy` gains
        `patient_sequence_copy` (synthetic patients found copying a source patient's run of claims, moved or split);
        `release_assembly` keeps what the assembly changed."""
        from synth_ehr_assets.core.synth.journey_release import assemble_release

        if self.journey is None:
            raise ValueError("the journey model is not fitted")
        rows, self.release_assembly = assemble_release(self.journey, claims, seed, screen, protected)
        dropped = screen.privacy_dropped
        dropped["patient_sequence_copy"] = dropped.get("patient_sequence_copy", 0) + self.release_assembly[
            "sequence_copy_patients"]
        return rows

    def params(self) -> dict:
        journey = self.journey
        return {**super().params(), "journey": {"min_support": journey.min_support, "smoothing": journey.smoothing,
                                                "revisit": journey.revisit} if journey else None}

    def save(self, directory: str | Path) -> Path:
        if self.journey is None:
            raise ValueError("the journey model is not fitted")
        folder = super().save(directory)
        self.journey.save(folder)
        return folder

    @classmethod
    def load(cls, directory: str | Path, code_vectors=None) -> JourneySynthesizer:
        synthesizer = super().load(directory, code_vectors)
        synthesizer.journey = JourneyModel.load(directory)
        return synthesizer


def assemble_journey_synthesizer(features_folder: Path, transformer, autoencoder, generator, config, seed: int):
    """`claims.assemble_synthesizer`'s stages + the journey model the features stage fitted (`journey_model.json`
    in `features_folder`)."""
    from synth_ehr_assets.core.synth.claims import assemble_synthesizer

    base = assemble_synthesizer(features_folder, transformer, autoencoder, generator, config, seed)
    synthesizer = JourneySynthesizer(base.column_kinds, base.config, base.seed, base.code_vectors,
                                     base.condition_column, journey=JourneyModel.load(features_folder))
    synthesizer.transformer, synthesizer.autoencoder, synthesizer.generator = transformer, autoencoder, generator
    synthesizer.condition_pool, synthesizer.condition_profile = base.condition_pool, base.condition_profile
    return synthesizer
