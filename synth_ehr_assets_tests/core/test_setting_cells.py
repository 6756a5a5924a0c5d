"""Each principal's inpatient share: planned cells, their bookkeeping across reallocation, and claim type decoded
to a round's planned share (the most inpatient-leaning generated rows become inpatient)."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core.synth.setting_cells import InpatientProfile, SettingCells, SettingQuotaDecoder
from synth_ehr_assets.core.synth.transformer import TableTransformer

TYPES = ["inpatient", "outpatient", "professional"]


def _train() -> pl.DataFrame:
    # J189: 40% inpatient; I10: never inpatient; O80: always inpatient
    rows = [("J189", "inpatient")] * 40 + [("J189", "professional")] * 60
    rows += [("I10", "professional")] * 50 + [("O80", "inpatient")] * 20
    return pl.DataFrame(rows, schema=["dx_1", "claim_type"], orient="row")


class _Plain:
    """A code decoder without hooks of its own (the wrapped decoder's calls must pass through)."""

    pool_sizes = {"secondary": 3}

    def __call__(self, slot, vectors, present, context=None):
        return pl.Series(slot, [None] * len(vectors), dtype=pl.String)


def test_the_most_inpatient_leaning_rows_of_a_principal_take_its_planned_share():
    scores = np.array([[0.9, 0.0, 0.1], [0.1, 0.0, 0.8], [0.5, 0.4, 0.0], [0.2, 0.9, 0.0], [0.7, 0.0, 0.2],
                       [0.3, 0.2, 0.1]], dtype=np.float32)
    context = pl.DataFrame({"dx_1": ["J189", "J189", "J189", "J189", "J189", "I10"]})
    decoder = SettingQuotaDecoder(_Plain(), {"J189": 0.4}, np.random.default_rng(0))
    chosen = decoder.category_quota("claim_type", TYPES, scores, context)
    # 0.4 × 5 rows = 2 inpatient: margins 0.8, -0.7, 0.1, -0.7, 0.5 → rows 0 and 4; the rest their best other type
    assert chosen.tolist() == [0, 2, 1, 1, 0, -1]
    assert decoder.category_quota("sex", ["F", "M"], scores[:, :2], context) is None
    assert decoder.pool_sizes == {"secondary": 3}  # everything else is the wrapped decoder's


def test_rows_whose_allowed_types_leave_no_choice_keep_them():
    scores = np.array([[-np.inf, 0.2, 0.1], [0.3, -np.inf, -np.inf], [0.1, 0.5, 0.0], [0.9, 0.1, 0.0]])
    context = pl.DataFrame({"dx_1": ["J189"] * 4})
    chosen = SettingQuotaDecoder(_Plain(), {"J189": 0.5}, np.random.default_rng(0)).category_quota(
        "claim_type", TYPES, scores, context
    )
    assert chosen[0] == -1 and chosen[1] == -1  # only one type allowed: decoded as the mask says
    assert sorted(chosen[2:].tolist()) == [0, 1] and chosen[3] == 0


def test_the_transformer_decodes_the_quota_it_is_given():
    frame = pl.DataFrame({"dx_1": ["J189"] * 30 + ["I10"] * 30,
                          "claim_type": (["professional"] * 27 + ["inpatient"] * 3) + ["professional"] * 30})
    transformer = TableTransformer({"dx_1": "categorical", "claim_type": "categorical"}).fit(frame)
    matrix = transformer.transform(frame)
    known = frame.select("dx_1")
    decoder = SettingQuotaDecoder(_Plain(), {"J189": 0.5, "I10": 0.0}, np.random.default_rng(1))
    decoded = transformer.inverse_transform(matrix, code_decoder=decoder, known=known)
    inpatient = decoded.group_by("dx_1").agg((pl.col("claim_type") == "inpatient").sum()).sort("dx_1")
    assert dict(inpatient.iter_rows()) == {"I10": 0, "J189": 15}
    # the three rows that were inpatient lean most toward it and stay inpatient
    assert (decoded["claim_type"][27:30] == "inpatient").all()


def test_cells_follow_the_training_share_and_hold_it_while_filling():
    cells = SettingCells({"J189": 1000, "I10": 50, "O80": 20, "Z0000": 5}, _train(), np.random.default_rng(3))
    assert 340 < cells.planned["J189"][0] < 460 and cells.planned["I10"] == [0, 50] and cells.planned["O80"] == [20, 0]
    assert "Z0000" not in cells.planned  # unseen in training: any setting fills it
    rows, share = cells.need("J189", rate=0.5, min_rate=0.02)
    assert abs(rows - 2000) < 1e-6 and abs(share - cells.planned["J189"][0] / 1000) < 1e-9
    accepted = pl.DataFrame({"dx_1": ["I10"] * 60 + ["Z0000"] * 7, "claim_type": ["professional"] * 67})
    kept = cells.keep(accepted)
    assert kept.filter(pl.col("dx_1") == "I10").height == 50  # the cell's room
    assert kept.filter(pl.col("dx_1") == "Z0000").height == 7  # no cell: the plan limits it later
    assert cells.need("I10", 0.5, 0.02) is None and cells.report()["inpatient_rows_filled_in_cells"] == 0


def test_reallocated_rows_resize_the_cells_so_receivers_can_fill():
    plan = {"J189": 1000, "I10": 50}
    cells = SettingCells(plan, _train(), np.random.default_rng(3))
    cells.filled["J189"] = [100, 500]
    plan["J189"], plan["I10"] = 700, 350  # J189 gave 300 of its missing rows to I10
    cells.resize(plan, np.random.default_rng(4))
    assert sum(cells.planned["J189"]) == 700 and sum(cells.planned["I10"]) == 350
    assert cells.planned["I10"] == [0, 350]  # a principal never inpatient in training gains other rows only
    assert cells.planned["J189"][0] >= cells.filled["J189"][0] and cells.planned["J189"][1] >= cells.filled["J189"][1]


def test_inpatient_rows_a_shrinking_principal_gives_away_stay_inpatient_elsewhere():
    train = pl.concat([_train(), pl.DataFrame({"dx_1": ["A419"] * 10, "claim_type": ["inpatient"] * 5 + ["professional"] * 5})])
    plan = {"J189": 1000, "A419": 1000}
    cells = SettingCells(plan, train, np.random.default_rng(3))
    total = cells.inpatient_planned
    cells.filled["J189"] = [0, cells.planned["J189"][1]]  # J189's other rows are all filled: only inpatient is short
    plan["J189"], plan["A419"] = 1000 - 100, 1000 + 100
    cells.resize(plan, np.random.default_rng(4))
    assert sum(cells.planned["J189"]) == 900 and sum(cells.planned["A419"]) == 1100
    assert sum(c[0] for c in cells.planned.values()) == total  # the 100 inpatient rows J189 lost, A419 gained


def test_a_cell_whose_rows_keep_failing_gives_its_inpatient_rows_to_principals_that_can_take_them():
    plan = {"J189": 1000, "A419": 100, "I10": 50}
    train = pl.concat([_train(), pl.DataFrame({"dx_1": ["A419"] * 10, "claim_type": ["inpatient"] * 5 + ["professional"] * 5})])
    cells = SettingCells(plan, train, np.random.default_rng(3))
    inpatient, other = cells.planned["J189"]
    total, a419_other = cells.inpatient_planned, cells.planned["A419"][1]
    cells.sampled["J189"], cells.survived["J189"], cells.filled["J189"] = [200, 800], [2, 600], [2, 600]
    assert cells.release_failing(overall=0.6, rng=np.random.default_rng(1)) == inpatient - 2
    assert cells.planned["J189"] == [2, other + inpatient - 2] and cells.need("J189", 0.6, 0.02)[1] == 0.0
    # A419 (half inpatient in training) takes them, up to its unfilled rows; I10, never inpatient, takes none
    assert cells.planned["A419"] == [100, 0] and cells.planned["I10"] == [0, 50]
    assert cells.report()["inpatient_rows_moved_between_principals"] == a419_other
    assert sum(c[0] for c in cells.planned.values()) == total - (inpatient - 2) + a419_other
    assert sum(cells.planned["A419"]) == 100 and sum(cells.planned["J189"]) == 1000
    assert cells.release_failing(overall=0.6, rng=np.random.default_rng(1)) == 0  # nothing short any more


def test_when_receivers_are_never_inpatient_an_inpatient_principal_takes_the_lost_inpatient_rows():
    train = pl.concat([_train(), pl.DataFrame({"dx_1": ["A419"] * 10, "claim_type": ["inpatient"] * 5 + ["professional"] * 5})])
    plan = {"J189": 1000, "I10": 1000, "A419": 200}
    cells = SettingCells(plan, train, np.random.default_rng(3))
    total, lost, a419 = cells.inpatient_planned, 100, list(cells.planned["A419"])
    cells.filled["J189"] = [cells.planned["J189"][0] - lost, cells.planned["J189"][1]]  # only 100 inpatient short
    plan["J189"], plan["I10"] = 1000 - lost, 1000 + lost  # reallocate gave them to I10, never inpatient
    cells.resize(plan, np.random.default_rng(4))
    assert sum(plan.values()) == 2200 and plan["A419"] == 200 + lost and plan["I10"] == 1000
    assert cells.planned["A419"] == [a419[0] + lost, a419[1]]  # the lost inpatient rows, as inpatient rows
    assert sum(c[0] for c in cells.planned.values()) == total
    assert all(sum(cells.planned[c]) == plan[c] for c in plan)


def test_with_a_profile_the_rows_that_look_like_training_inpatients_become_inpatient():
    train = pl.DataFrame({
        "dx_1": ["J189"] * 200,
        "claim_type": ["inpatient"] * 50 + ["professional"] * 150,
        "age": [80] * 50 + [30] * 150,
        "payer": ["medicare"] * 50 + ["commercial"] * 150,
    })
    profile = InpatientProfile(train)
    context = pl.DataFrame({"dx_1": ["J189"] * 4, "age": [31, 82, 35, 78], "payer": ["commercial", "medicare", "commercial", "medicare"]})
    scores = np.array([[0.6, 0.0, 0.5], [0.1, 0.0, 0.5], [0.7, 0.0, 0.5], [0.2, 0.0, 0.5]])  # the GAN leans the other way
    chosen = SettingQuotaDecoder(_Plain(), {"J189": 0.5}, np.random.default_rng(0), profile).category_quota(
        "claim_type", TYPES, scores, context
    )
    assert chosen.tolist() == [2, 0, 2, 0]
    assert profile.score(context)[1] > 1.0 > 0 > profile.score(context)[0]
