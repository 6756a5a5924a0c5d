"""How many synthetic claims to sample per principal diagnosis (dx_1): coverage targets, the training
distribution for the remaining rows, and re-planning rows whose principal code keeps failing the edits."""

from __future__ import annotations

import numpy as np
import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.spec import CoverageTarget
from synth_ehr_assets.core.synth import rules


def admissible_codes(candidates: pl.Series, exclude: pl.Series | None = None) -> pl.Series:
    """Distinct billable codes among `candidates`, minus `exclude`, sorted."""
    keep = candidates.drop_nulls().unique()
    keep = keep.filter(keep.is_in(rules.billable_series().implode()))
    if exclude is not None:
        keep = keep.filter(~keep.is_in(exclude.implode()))
    return keep.sort()


def coverage_conditions(
    targets: list[CoverageTarget], train_claims: pl.DataFrame, rng: np.random.Generator
) -> tuple[dict[str, int], list[dict]]:
    """Rows to sample per principal code so every target is met: a code target asks for its code; a category
    target spreads its rows over the category's codes by training frequency as principal (else in any dx slot,
    else uniformly over the catalog's billable codes of the category that may be principal)."""
    not_principal = rules.unacceptable_principal_codes()["code"]
    conditions: dict[str, int] = {}
    described = []
    for position, target in enumerate(targets):
        if target.code is not None:
            code = schema.normalize_code(target.code)
            if code not in rules.billable_series() or code in not_principal:
                raise ValueError(
                    f"coverage[{position}].code {target.code!r} is not a billable code allowed as principal"
                )
            share = {code: target.min_claims}
        else:
            share = _spread_category(
                position, schema.normalize_code(target.category), target.min_claims, train_claims, rng
            )
        for code, count in share.items():
            conditions[code] = conditions.get(code, 0) + count
        described.append(
            {
                "code": target.code and schema.normalize_code(target.code),
                "category": target.category and schema.normalize_code(target.category),
                "min_claims": target.min_claims,
                "sampled_codes": sorted(share),
            }
        )
    return dict(sorted(conditions.items())), described


def _spread_category(position: int, category: str, count: int, train: pl.DataFrame, rng) -> dict[str, int]:
    not_principal = rules.unacceptable_principal_codes()["code"]
    for columns in (["dx_1"], schema.DX_COLUMNS):
        used = pl.concat([train[c] for c in columns]).drop_nulls()
        used = used.filter(used.str.starts_with(category) & ~used.is_in(not_principal.implode()))
        if used.len():
            weights = used.value_counts(name="n").sort(used.name)
            codes_, p = weights[used.name].to_list(), weights["n"].to_numpy().astype(np.float64)
            break
    else:
        codes_ = admissible_codes(
            rules.billable_series().filter(rules.billable_series().str.starts_with(category)), not_principal
        )
        codes_, p = codes_.to_list(), np.ones(codes_.len())
        if not codes_:
            raise ValueError(f"coverage[{position}].category {category!r} holds no billable code allowed as principal")
    drawn = rng.multinomial(count, p / p.sum())
    return {code: int(n) for code, n in zip(codes_, drawn) if n}


def principal_plan(
    n_rows: int, coverage: dict[str, int], train_claims: pl.DataFrame, rng: np.random.Generator
) -> dict[str, int]:
    """Rows per principal code: the coverage rows, plus the remaining rows drawn from the training distribution
    of principal codes that may be principal (so the dx_1 marginal is kept, whatever the edits reject)."""
    free_rows = n_rows - sum(coverage.values())
    if free_rows < 0:
        raise ValueError(f"coverage targets need {sum(coverage.values())} rows but only {n_rows} are requested")
    principal = train_claims["dx_1"].drop_nulls()
    principal = principal.filter(
        principal.is_in(admissible_codes(principal, rules.unacceptable_principal_codes()["code"]).implode())
    )
    if principal.len() == 0:
        raise ValueError("the training claims hold no principal diagnosis that may be principal")
    counts = principal.value_counts(name="n").sort("dx_1")
    drawn = rng.multinomial(free_rows, counts["n"].to_numpy() / counts["n"].sum())
    plan = dict(coverage)
    for code, count in zip(counts["dx_1"].to_list(), drawn):
        if count:
            plan[code] = plan.get(code, 0) + int(count)
    return dict(sorted(plan.items()))


def reallocate(
    plan: dict, have: dict, coverage_rows: dict, survived: dict, sampled: dict, rng, every_missing: bool = False
) -> int:
    """Move the still-missing free (non-coverage) rows of principal codes whose rows mostly fail (with
    `every_missing`: of every code still short) to the other codes, in proportion to their planned rows ×
    acceptance. Coverage rows never move. Returns rows moved."""
    rate = {code: survived[code] / max(sampled[code], 1) for code in plan}
    overall = sum(survived.values()) / max(sum(sampled.values()), 1)
    failing = [c for c in plan if have[c] < plan[c] and plan[c] > coverage_rows.get(c, 0)
               and (every_missing or rate[c] < overall / 4)]
    moved = {c: min(plan[c] - have[c], plan[c] - coverage_rows.get(c, 0)) for c in failing}
    floor = overall if every_missing else 0.0  # the last tries hand rows only to codes that reliably pass
    receivers = [c for c in plan if c not in moved and rate[c] > floor]
    total = sum(moved.values())
    if not total or not receivers:
        return 0
    weights = np.array([plan[c] * rate[c] for c in receivers], dtype=np.float64)
    for code, count in moved.items():
        plan[code] -= count
    for code, extra in zip(receivers, rng.multinomial(total, weights / weights.sum())):
        plan[code] += int(extra)
    return total
