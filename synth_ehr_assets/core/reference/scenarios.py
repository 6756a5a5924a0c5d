"""Test scenarios by design: a deck of claims a payer's test team adjudicates, each labelled with its outcome.

A spec's `scenarios.cells` ask for N claims per (scenario, claim type, payer). The deck draws clean claims from a
reference population of its own (seeded apart from the training source, `pool_claims` claims) and plants the
scenario's defect, so every negative case differs from a clean claim in exactly one way. Outcomes use the X12
claim adjustment reason codes (CARC, X12 code list 139): 18 duplicate claim, 16 claim lacks information or has
submission errors (with RARC M76 for the diagnosis, M67 for the DRG), 9 / 10 diagnosis inconsistent with the
patient's age / sex, 29 time limit for filing expired, 23 impact of prior payer adjudication (COB), 242 services
not provided by network providers, 197 precertification / authorization absent. Timely-filing limits: Medicare 12
months from the date of service (42 CFR 424.44), Medicaid 12 months (42 CFR 447.45), commercial 180 days (a common
contract term). The deck is its own asset: nothing downstream of it trains the synthesizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from synth_ehr_assets.core import codes, schema

# scenario: (expected outcome, CARC, negative)
SCENARIOS: dict[str, tuple[str, str, bool]] = {
    "clean": ("pay", "", False),
    "duplicate_submission": ("deny", "18", True),
    "excludes1_conflict": ("reject", "16", True),
    "age_sex_edit": ("deny", "9", True),
    "missing_drg": ("reject", "16", True),
    "timely_filing": ("deny", "29", True),
    "cob_secondary": ("pay_secondary", "23", False),
    "out_of_network": ("deny", "242", True),
    "prior_auth_missing": ("deny", "197", True),
    "rare_condition": ("pay", "", False),
    "cohort": ("pay", "", False),
}
FILING_LIMIT_DAYS = {"medicare": 365, "medicaid": 365, "commercial": 180, "self_pay": 365}
SECONDARY_PAYER = {"medicare": "medicaid", "medicaid": "commercial", "commercial": "commercial"}
PRIOR_AUTH_PROCEDURES = ("72148", "70551", "70553", "95810", "0SRC0J9", "74177", "71250")
# (code on the claim, code it Excludes1), both billable; checked against the tabular list by `excludes1_pairs`
EXCLUDES1_CANDIDATES = (("F329", "F331"), ("F331", "F329"), ("F419", "F410"), ("I10", "I270"), ("J45909", "R062"),
                        ("J069", "J111"), ("E119", "E1A0"))
DECK_COLUMNS = {"scenario": pl.String, "expected_outcome": pl.String, "carc": pl.String, "submitted_date": pl.Date,
                "secondary_payer": pl.String, "network": pl.String, "prior_auth": pl.String,
                "original_claim_id": pl.String}
_CODE = re.compile(r"[A-Z]\d[0-9A-Z](?:\.[0-9A-Z-]+)?")


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def excludes1_pairs() -> list[tuple[str, str]]:
    """The candidate pairs the FY2026 tabular list confirms: the second code is in the first's Excludes1 notes."""
    import simple_icd_10_cm as cm

    confirmed = []
    for anchor, partner in EXCLUDES1_CANDIDATES:
        if not (codes.is_billable(anchor) and codes.is_billable(partner)):
            continue
        code = _dotted(anchor)
        notes = [n for c in [code, *cm.get_ancestors(code)] for n in cm.get_excludes1(c)]
        listed = {m.rstrip(".-") for note in notes for m in _CODE.findall(note)}
        if any(_dotted(partner).startswith(prefix) for prefix in listed):
            confirmed.append((anchor, partner))
    return confirmed


@dataclass(frozen=True)
class Cell:
    scenario: str
    claim_type: str
    payer: str
    claims: int
    code: str | None = None
    min_age: int = 0
    max_age: int = 124
    sex: str | None = None


def _any_dx(codes_: list[str]) -> pl.Expr:
    return pl.any_horizontal(pl.col(c).is_in(codes_).fill_null(False) for c in schema.DX_COLUMNS)


def _eligible(pool: pl.DataFrame, cell: Cell) -> pl.DataFrame:
    base = pool.filter((pl.col("claim_type") == cell.claim_type) & (pl.col("payer") == cell.payer))
    if cell.scenario == "excludes1_conflict":
        anchors = [a for a, _ in excludes1_pairs()]
        return base.filter(_any_dx(anchors) & pl.col("dx_10").is_null())
    if cell.scenario == "age_sex_edit":
        return base.filter(_any_dx(list(_SEX_SPECIFIC)))
    if cell.scenario == "prior_auth_missing":
        return base.filter(pl.any_horizontal(pl.col(c).is_in(PRIOR_AUTH_PROCEDURES).fill_null(False)
                                             for c in schema.PX_COLUMNS) | pl.col("drg").is_in(["469", "470"]))
    if cell.scenario == "rare_condition":
        return base.filter(pl.col("dx_1") == cell.code)
    if cell.scenario == "cohort":
        keep = pl.col("age").is_between(cell.min_age, cell.max_age)
        return base.filter(keep & (pl.col("sex") == cell.sex) if cell.sex else keep)
    return base


_SEX_SPECIFIC = ("Z1231", "Z124", "N400", "C61", "Z3401", "Z3402", "Z3403", "Z3481", "Z3482", "Z3483", "O80")


def _plant(rows: pl.DataFrame, cell: Cell, rng: np.random.Generator) -> pl.DataFrame:
    """The scenario's one defect (or label) on clean rows; returns the rows that carry it."""
    n = rows.height
    filing = FILING_LIMIT_DAYS[cell.payer]
    late = rng.integers(filing + 30, filing + 200, n) if n else np.zeros(0, int)
    if cell.scenario == "duplicate_submission":
        return rows.with_columns(original_claim_id=pl.col("claim_id"), claim_id=pl.col("claim_id") + "-DUP")
    if cell.scenario == "excludes1_conflict":
        pairs = excludes1_pairs()
        partner = pl.lit(None, dtype=pl.String)
        for anchor, other in reversed(pairs):
            partner = pl.when(_any_dx([anchor])).then(pl.lit(other)).otherwise(partner)
        filled = pl.sum_horizontal(pl.col(c).is_not_null() for c in schema.DX_COLUMNS)
        return rows.with_columns(_partner=partner, _n=filled).with_columns(
            **{c: pl.when(pl.col("_n") == j).then(pl.col("_partner")).otherwise(pl.col(c))
               for j, c in enumerate(schema.DX_COLUMNS)}).drop("_partner", "_n")
    if cell.scenario == "age_sex_edit":
        flipped = rows.with_columns(sex=pl.when(pl.col("sex") == "F").then(pl.lit("M")).otherwise(pl.lit("F")))
        failing = [any(codes.age_sex_violation(code, row["age"], row["sex"]) for code in
                       (row[c] for c in schema.DX_COLUMNS) if code) for row in flipped.iter_rows(named=True)]
        return flipped.filter(pl.Series(failing, dtype=pl.Boolean)).with_columns(carc=pl.lit("10"))
    if cell.scenario == "missing_drg":
        return rows.with_columns(drg=pl.lit(None, dtype=pl.String))
    if cell.scenario == "timely_filing":
        return rows.with_columns(submitted_date=pl.col("service_date") + pl.duration(days=pl.Series(late)))
    if cell.scenario == "cob_secondary":
        return rows.with_columns(secondary_payer=pl.lit(SECONDARY_PAYER[cell.payer]))
    if cell.scenario == "out_of_network":
        return rows.with_columns(network=pl.lit("out_of_network"))
    if cell.scenario == "prior_auth_missing":
        return rows.with_columns(prior_auth=pl.lit(None, dtype=pl.String))
    return rows


def build_deck(pool: pl.DataFrame, cells: list[Cell], seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(deck, coverage): the labelled claims and, per requested cell, requested / produced / met."""
    rng = np.random.default_rng([seed, 0x5CE])
    prompt = rng.integers(3, 31, pool.height)
    pool = pool.with_columns(
        submitted_date=pl.col("service_date") + pl.duration(days=pl.col("los_days") + pl.Series(prompt)),
        secondary_payer=pl.lit(None, dtype=pl.String), network=pl.lit("in_network"),
        prior_auth=pl.when(pl.any_horizontal(pl.col(c).is_in(PRIOR_AUTH_PROCEDURES).fill_null(False)
                                             for c in schema.PX_COLUMNS) | pl.col("drg").is_in(["469", "470"]))
        .then(pl.format("PA{}", pl.col("claim_id").str.slice(-9))).otherwise(pl.lit(None, dtype=pl.String)),
        original_claim_id=pl.lit(None, dtype=pl.String),
    )
    used: set[str] = set()
    parts, coverage = [], []
    for cell in cells:
        outcome, carc, _ = SCENARIOS[cell.scenario]
        candidates = _eligible(pool, cell).filter(~pl.col("claim_id").is_in(list(used)))
        order = rng.permutation(candidates.height)
        # over-draw for scenarios whose planting can drop rows (age/sex edits that the edit table must confirm)
        picked = candidates[order[: cell.claims * (4 if cell.scenario == "age_sex_edit" else 1)]]
        planted = _plant(picked.with_columns(carc=pl.lit(carc)), cell, rng).head(cell.claims)
        used |= set(picked["claim_id"].to_list())
        label = planted.with_columns(scenario=pl.lit(cell.scenario), expected_outcome=pl.lit(outcome))
        if cell.scenario == "duplicate_submission":
            originals = pool.filter(pl.col("claim_id").is_in(label["original_claim_id"].to_list())).with_columns(
                scenario=pl.lit("duplicate_original"), expected_outcome=pl.lit("pay"), carc=pl.lit(""))
            parts.append(originals)
        parts.append(label)
        coverage.append({"scenario": cell.scenario, "claim_type": cell.claim_type, "payer": cell.payer,
                         "code": cell.code or "", "requested": cell.claims, "produced": label.height,
                         "met": label.height >= cell.claims})
    columns = [*schema.CLAIM_COLUMNS, *DECK_COLUMNS]
    deck = pl.concat([p.select(columns) for p in parts]) if parts else pl.DataFrame(
        schema={**schema.CLAIM_SCHEMA, **DECK_COLUMNS})
    cov_schema = {"scenario": pl.String, "claim_type": pl.String, "payer": pl.String, "code": pl.String,
                  "requested": pl.Int64, "produced": pl.Int64, "met": pl.Boolean}
    return deck, pl.DataFrame(coverage, schema=cov_schema)


def negative_claim_ids(deck: pl.DataFrame) -> set[str]:
    """Claim ids of the deck's negative scenarios (those a payer denies or rejects)."""
    negative = [name for name, (_, _, is_negative) in SCENARIOS.items() if is_negative]
    return set(deck.filter(pl.col("scenario").is_in(negative))["claim_id"].to_list())


def cells_from_spec(config) -> list[Cell]:
    """One `Cell` per (request, claim type, payer) of a spec's `scenarios` block."""
    return [
        Cell(r.scenario, claim_type, payer, r.claims, r.code, r.min_age, r.max_age, r.sex)
        for r in config.cells for claim_type in r.claim_types for payer in r.payers
    ]


def scenario_deck(config, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The deck and its coverage for a spec's `scenarios` block (an empty deck when nothing is requested)."""
    from synth_ehr_assets.core.reference import generate_reference_claims

    cells = cells_from_spec(config)
    if not cells:
        return build_deck(schema.empty_claims(), [], seed)
    pool = generate_reference_claims(config.pool_claims, seed=seed + 1, release_id="scenarios")
    return build_deck(pool, cells, seed)


def coverage_gate(coverage: pl.DataFrame):
    """Blocking gate: every requested scenario x claim type x payer cell holds its requested claims."""
    from synth_ehr_assets.core.evaluation.gates import GateResult

    missed = coverage.filter(~pl.col("met"))
    failing = {f"{r['scenario']}|{r['claim_type']}|{r['payer']}{'|' + r['code'] if r['code'] else ''}": float(r["produced"])
               for r in missed.iter_rows(named=True)}
    share = coverage["met"].mean() if coverage.height else 1.0
    return GateResult(
        name="scenario_coverage", passed=missed.is_empty(), value=float(share), threshold=1.0,
        detail=f"{coverage.height - missed.height}/{coverage.height} requested cells met", failing=failing,
    )
