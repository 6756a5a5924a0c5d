"""The patients of a `journey` release, assembled once from every row the release kept (issue 15).

`claims.synthesize_claims` screens and keeps rows round by round; each round's rows arrive grouped into that
round's patients (`JourneySynthesizer.sample`), and the rows an edit, a privacy filter or the matched draw leaves
out are missing from their patients, while the few rows of a later round become small patients of their own.
After the last round `assemble_release` groups all kept rows into patients again with the `JourneyModel`, so the
claims per patient and the gaps are the model's, then makes sure the new values still pass what the rows passed:

1. every assembled row is checked as the release screen checks a row (the claim edits with the training support,
   the exact-copy filter, the near-duplicate filter; on the generalised values, as released). The assembly moves
   a row to a patient of its sex and, if any, of about its age (`journey_model.AGE_SLACK`), keeps newborn codes in
   the first 28 days after birth and puts birth before the first claim, but a new age or month can still break an
   edit (an age-specific secondary code, a principal in a month training never saw it);
2. a synthetic patient whose principal diagnoses and dates copy a source patient's run of claims
   (`journey_privacy.sequence_copies`, against `protected`, train and holdout alike) is flagged;
3. a patient with a failing row or a copied run is moved in time, birth date included, so every age stays what
   it was (uniformly inside the training window, at most `REPAIR_ROUNDS` times); only the moved rows are
   checked again;
4. rows still failing go back to the values they were screened with; a patient still copying goes back entirely.
   Those values passed the screen, and a patient of one claim copies no run;
5. `evaluation.journey_checks.journey_violations` (written apart from the assembly's `journey_edits`) checks
   the released patients; a row it still flags goes back the same way (`journey_violation_rows`);
6. last, each row gone back is offered to an assembled patient of its sex (`journey_attach`: the row keeps its age
   and codes, takes the patient's region and payer and a date before the first or after the last claim, at a
   model-drawn gap, where a birth date the patient's claims allow gives the row's age) instead of becoming a
   patient of one claim. A moved row must pass the release screen again, and a patient that then breaks a journey
   edit or copies a source run gives its new rows back (`rows_attached`; `rows_left_alone` counts the rows still
   patients of one).

The release keeps exactly the kept rows (same principal codes, so coverage and the plan hold) in new patients.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.evaluation.journey_checks import journey_violations
from synth_ehr_assets.core.synth import privacy_filters, rules
from synth_ehr_assets.core.synth.journey_attach import KEY as ROW
from synth_ehr_assets.core.synth.journey_attach import attach_alone
from synth_ehr_assets.core.synth.journey_privacy import sequence_copies

REPAIR_ROUNDS = 4


def assemble_release(model, claims: pl.DataFrame, seed: int, screen, protected: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """`claims` (every kept row, screened) regrouped into patients by `model` (`JourneyModel`); `screen` is the
    release's screen (its privacy block, training support, source copy keys and training features); returns the
    rows (same count and principals, generalised like the screen's output) and what the assembly changed."""
    stats = {"patients": 0, "patients_moved": 0, "rows_left_alone": 0, "rows_attached": 0, "sequence_copy_patients": 0,
             "sequence_copy_patients_split": 0, "journey_violation_rows": 0}
    if claims.height == 0:
        return claims, stats
    original = claims.with_row_index(ROW)
    rows = model.assemble(original, seed, key_prefix=f"R{seed}-")
    source = _source_runs(protected, screen.privacy)
    rng = np.random.default_rng([seed, 15, 2])
    failing: set[int] = set()
    to_check = rows[ROW]
    moved: set[str] = set()
    for attempt in range(REPAIR_ROUNDS + 1):
        released = privacy_filters.generalise(rows, screen.privacy)
        checked = released.filter(pl.col(ROW).is_in(to_check.implode()))
        failing -= set(checked[ROW].to_list())
        failing |= set(checked.filter(pl.Series(_failing(checked.drop(ROW), screen)))[ROW].to_list())
        copies = sequence_copies(released, source) if source is not None else pl.DataFrame({"patient_id": []})
        if attempt == 0:
            stats["sequence_copy_patients"] = copies["patient_id"].n_unique()
        bad = set(released.filter(pl.col(ROW).is_in(list(failing)))["patient_id"].to_list())
        bad |= set(copies["patient_id"].to_list())
        if not bad or attempt == REPAIR_ROUNDS:
            break
        rows = _moved(rows, sorted(bad), model.window, rng)
        moved |= bad
        to_check = rows.filter(pl.col("patient_id").is_in(list(bad)))[ROW]
    copying = set(copies["patient_id"].to_list())
    alone = failing | set(rows.filter(pl.col("patient_id").is_in(list(copying)))[ROW].to_list())
    alone |= set(original[ROW].to_list()) - set(rows[ROW].to_list())  # rows the assembly could not place
    rows = _left_alone(rows, original, alone, seed)
    released = privacy_filters.generalise(rows, screen.privacy)
    if source is not None:  # a patient that lost a row may now show another run: it goes back entirely
        still = set(sequence_copies(released, source)["patient_id"].to_list())
        if still:
            extra = set(released.filter(pl.col("patient_id").is_in(list(still)))[ROW].to_list())
            alone |= extra
            copying |= still
            released = privacy_filters.generalise(_left_alone(rows, original, extra, seed), screen.privacy)
    violating = set(released[ROW].gather(journey_violations(released.drop(ROW))["_row"]).to_list())
    alone |= violating  # the independent check (`evaluation.journey_checks`) still finds a violation: those rows alone
    final, attached = _attached(_left_alone(rows, original, alone, seed), alone, model, rng, source, screen)
    released = privacy_filters.generalise(final, screen.privacy)
    stats.update(patients=released["patient_id"].n_unique(), patients_moved=len(moved),
                 rows_left_alone=len(alone) - attached, rows_attached=attached,
                 sequence_copy_patients_split=len(copying), journey_violation_rows=len(violating))
    return released.sort(ROW).drop(ROW), stats


def _attached(rows: pl.DataFrame, alone: set[int], model, rng: np.random.Generator, source, screen):
    """`rows` with the rows left alone given to fitting patients (`journey_attach.attach_alone`) where the row, at
    its new date, region and payer, still passes the release screen, except the rows of a patient that then breaks
    a journey edit or copies a source run (that patient is back as it was); and how many rows were given."""
    moves = attach_alone(rows, pl.Series(sorted(alone), dtype=rows.schema[ROW]), model, rng)
    if moves.is_empty():
        return rows, 0

    def apply(frame: pl.DataFrame, moves: pl.DataFrame) -> pl.DataFrame:
        return frame.update(moves, on=ROW, how="left").select(frame.columns)

    moved = privacy_filters.generalise(apply(rows, moves).filter(pl.col(ROW).is_in(moves[ROW].implode())), screen.privacy)
    moves = moves.filter(~pl.col(ROW).is_in(moved.filter(pl.Series(_failing(moved.drop(ROW), screen)))[ROW].implode()))
    released = privacy_filters.generalise(apply(rows, moves), screen.privacy)
    failing = set(released["patient_id"].gather(journey_violations(released.drop(ROW))["_row"]).to_list())
    if source is not None:
        failing |= set(sequence_copies(released, source)["patient_id"].to_list())
    moves = moves.filter(~pl.col("patient_id").is_in(list(failing)))
    return apply(rows, moves), moves.height


def _source_runs(protected: pl.DataFrame, privacy) -> pl.DataFrame | None:
    """The source claims as `sequence_copies` compares them (generalised like the release), or None without patients."""
    if "patient_id" not in protected.columns:
        return None
    return privacy_filters.generalise(protected.select("patient_id", "service_date", "dx_1", "age"), privacy)


def _failing(frame: pl.DataFrame, screen) -> np.ndarray:
    """True for each row the release screen would drop: an edit violation, an exact source copy, a near duplicate."""
    from synth_ehr_assets.core.synth.claims import model_frame

    frame = schema.conform(frame)
    bad = np.zeros(frame.height, dtype=bool)
    if not frame.height:
        return bad
    bad[rules.violations_by_row(frame, screen.support)["_row"].unique().to_numpy()] = True
    if screen.privacy.drop_exact_matches:
        bad |= privacy_filters.copy_mask(frame, screen.copy_keys).to_numpy()
    if screen.train_features is not None:
        features = screen.transformer.transform(model_frame(frame))
        bad |= privacy_filters.near_duplicate_mask(features, screen.train_features,
                                                   screen.privacy.near_duplicate_distance)
    return bad


def _moved(rows: pl.DataFrame, patients: list[str], window: list[int], rng: np.random.Generator) -> pl.DataFrame:
    """`patients`' journeys moved to a uniform start inside the training window; birth moves with them, so ages
    (stored, not recomputed) stay right."""
    spans = (rows.filter(pl.col("patient_id").is_in(patients))
             .group_by("patient_id").agg(first=pl.col("service_date").min().cast(pl.Int32),
                                         last=pl.col("service_date").max().cast(pl.Int32)).sort("patient_id"))
    room = np.maximum(window[1] - window[0] - (spans["last"] - spans["first"]).to_numpy(), 0)
    start = window[0] + np.floor(rng.random(spans.height) * (room + 1)).astype(np.int64)
    shift = spans.select("patient_id", shift=pl.Series(start) - pl.col("first").cast(pl.Int64))
    return (rows.join(shift, on="patient_id", how="left")
            .with_columns(service_date=(pl.col("service_date").cast(pl.Int64) + pl.col("shift").fill_null(0))
                          .cast(pl.Int32).cast(pl.Date))
            .drop("shift").select(rows.columns))


def _left_alone(rows: pl.DataFrame, original: pl.DataFrame, alone: set[int], seed: int) -> pl.DataFrame:
    """Rows in `alone` back to the values they were screened with, each its own patient."""
    if not alone:
        return rows
    chosen = pl.col(ROW).is_in(sorted(alone))
    back = original.filter(chosen).with_columns(patient_id=pl.format(f"R{seed}-alone-{{}}", pl.col(ROW)))
    return pl.concat([rows.filter(~chosen), back.select(rows.columns).cast(rows.schema)]).sort(ROW)
