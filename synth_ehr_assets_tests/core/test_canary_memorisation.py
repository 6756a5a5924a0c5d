"""Issue 12 item 3: the canary gate catches a model that memorises, on the real synthesizer's own output.

Canaries are planted into a small training table as the release plants them (`make_canaries`, kept in train),
then the real latent GAN is fitted and sampled through the release path (`synthesize_claims`: principal plan,
decoding, edits, filters), twenty times as many rows as train holds so that each canary's principal is drawn. A
deliberately memorising configuration (4,000 epochs on 34 rows, no early stopping, no memorisation probe, no
latent noise, argmax decoding, no exact-copy filter) reproduces canaries (measured: all 4 within the radius, 2
exact; at 600 epochs on 84 rows none was) and the gate blocks it; the release defaults on the same table do not."""

from __future__ import annotations

import polars as pl
import pytest
import torch

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.evaluation.canaries import canary_gate, canary_report, make_canaries
from synth_ehr_assets.core.evaluation.figures import figures_frame
from synth_ehr_assets.core.reference import generate_reference_claims
from synth_ehr_assets.core.spec import parse_spec
from synth_ehr_assets.core.synth.claims import (CONDITION_COLUMN, MODEL_COLUMN_KINDS, model_frame, release_blocks,
                                              synthesize_claims)
from synth_ehr_assets.core.synth.config import SynthesizerConfig
from synth_ehr_assets.core.synth.registry import synthesizer_class
from synth_ehr_assets.core.vector_store import NearestCodeIndex
from synth_ehr_assets_tests.core.test_synth_claims import hierarchy_vectors

CANARIES = 4
TRAIN_ROWS = 30
ROWS_PER_TRAIN_ROW = 20


@pytest.fixture(scope="module")
def table() -> dict[str, pl.DataFrame]:
    real = generate_reference_claims(3 * TRAIN_ROWS, seed=21, release_id="cm").sample(fraction=1.0, shuffle=True,
                                                                                      seed=0)
    train, holdout = real.head(TRAIN_ROWS), real.tail(TRAIN_ROWS)
    canaries = make_canaries(real, CANARIES, seed=5, release_id="cm")
    train = pl.concat([train, canaries])
    used = sorted(pl.concat([real[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]
                            + [canaries[c] for c in schema.DX_COLUMNS + schema.PX_COLUMNS]).drop_nulls().unique().to_list())
    return {"train": train, "holdout": holdout, "canaries": canaries,
            "index": NearestCodeIndex(used, hierarchy_vectors(used))}


def _release(table, config: SynthesizerConfig, privacy: dict):
    torch.set_num_threads(2)
    train, holdout, index = table["train"], table["holdout"], table["index"]
    rows = ROWS_PER_TRAIN_ROW * train.height
    model = synthesizer_class(config.kind)(MODEL_COLUMN_KINDS, config, seed=3, code_vectors=index.vector_of,
                                           condition_column=CONDITION_COLUMN)
    model.fit(model_frame(train), model_frame(holdout))
    spec = parse_spec({"rows": rows, "seed": 9, "privacy": privacy}, "cm")
    synthetic, _ = synthesize_claims(model, rows, code_index=index, train_claims=train, **release_blocks(spec))
    figures, rows = canary_report(table["canaries"], train, holdout, synthetic, spec.privacy)
    return figures, canary_gate(figures_frame("cm", "privacy", figures, rows))


def test_a_memorising_configuration_reproduces_canaries_and_the_gate_blocks_it(table):
    memorising = SynthesizerConfig(code_dims=6, latent_dim=12, latent_noise=0.0, code_decoding="argmax",
                                   autoencoder_epochs=4000, gan_epochs=4000, gan_patience=4000,
                                   memorisation_warmup_epochs=4000, memorisation_min_rows=10_000, batch_size=32,
                                   autoencoder_hidden=[256], gan_hidden=[256, 256])
    figures, gate = _release(table, memorising, {"drop_exact_matches": False})
    assert not gate.passed and figures["canaries_in_release"] >= 1, gate.detail
    assert set(gate.failing) <= set(table["canaries"]["claim_id"])
    assert figures["canary_mia_rank_max"] >= 0.99  # a reproduced canary stands out as a member


def test_the_release_defaults_on_the_same_table_leave_no_canary_in_the_release(table):
    defaults = SynthesizerConfig(code_dims=6, latent_dim=12).adapted_to(table["train"].height)
    figures, gate = _release(table, defaults, {})
    assert gate.passed and figures["canaries_planted"] == CANARIES, gate.detail
