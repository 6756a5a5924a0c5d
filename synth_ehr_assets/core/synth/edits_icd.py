"""ICD-10-CM coding conventions between the diagnoses of one claim, read from simple-icd-10-cm's tabular notes.

- `excludes1_pair`: two codes on one claim where an Excludes1 note ("not coded here": the two conditions cannot
  occur together) of one code, or of its subcategories and category, names the other (a code, a category with
  `.-`, or a range). Notes on a parent apply to every code below it, as the tabular list says. Block and
  chapter notes are not enforced: they tell look-alike conditions of other chapters apart (the hypertensive
  diseases block excludes primary pulmonary hypertension I27.0), which guideline I.A.12.a (unrelated
  conditions) lets one claim carry together.
- `missing_companion_code`: a code whose "Use additional code" note is mandatory and names the codes to add,
  with none of them on the claim. Only these notes are enforced (every other "use additional" note is
  conditional: "if applicable", "if known", or a choice among codes):
  "code to identify (the) stage of chronic kidney disease (N18.x...)" (E08.22-E13.22, Q87.81, I12, I13 with
  the stage range each note names: I12.0 needs N18.5/N18.6, I12.9 N18.1-N18.4/N18.9; the diabetic notes name
  N18.1-N18.6, and N18.9 also satisfies them: the CKD code is there, only its stage is undocumented),
  "code to identify (the) type of heart failure / the heart failure (I50.-)" (I09.81, I11.0, I13.0, I13.2,
  I97.13), "code to indicate outcome of delivery (Z37.0)" (O80, O82), and "code from I12/I13 to identify ..."
  (O10.2, O10.3).
- `redundant_unspecified`: a code titled "without complication(s)" together with another code below the same
  parent that is not itself "without complications" (E11.9 with E11.22); likewise a code titled "..., unspecified"
  with a specific code of its parent (N18.30 with N18.31, J44.9 with J44.1, F41.9 with F41.1: guideline I.B.18,
  the specific code replaces the unspecified one); N18.9 (CKD, unspecified stage) with a staged N18 code; I50.9
  (heart failure, unspecified) with another I50 code.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

import numpy as np
import polars as pl

from synth_ehr_assets.core import codes, schema
from synth_ehr_assets.core.synth.edits_base import ROW, empty, violations

_CODE = r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?"
_ITEM = re.compile(rf"^({_CODE})\.?-?(?:\s*-\s*({_CODE})\.?-?)?$")
_MANDATORY = re.compile(
    r"^code (?:to identify (?:the )?(stage of chronic kidney disease|type of heart failure|heart failure)"
    r"|to indicate (outcome of delivery)|from (I1[23]) to identify .*)\s*(\(.*\))?$"
)
UNSPECIFIED_SCOPES = {"N189": "N18", "I509": "I50"}


def code_ranges(text: str) -> list[tuple[str, str]]:
    """Prefix ranges of the codes a note names in parentheses: '(E08.-)' → E08, '(O10-O11, O13.1)' → ..."""
    found = []
    for group in re.findall(r"\(([^()]*)\)", text):
        for item in group.split(","):
            match = _ITEM.match(item.strip())
            if match:
                low = match.group(1).replace(".", "")
                found.append((low, (match.group(2) or low).replace(".", "")))
    return found


@lru_cache(maxsize=100_000)
def excludes1_notes(code: str) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    """(note owner, note text, excluded ranges) of every Excludes1 note on `code` or one of its ancestors."""
    icd = codes._tabular()
    if not icd.is_valid_item(code):
        return ()
    notes = []
    for owner in [code, *icd.get_ancestors(code)]:
        if icd.is_chapter_or_block(owner):
            break
        for text in icd.get_excludes1(owner):
            ranges = tuple(code_ranges(text))
            if ranges:
                notes.append((icd.remove_dot(owner), text, ranges))
    return tuple(notes)


@lru_cache(maxsize=100_000)
def companion_requirements(code: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(what must be added, the codes that satisfy it) for each mandatory "use additional code" note of `code`."""
    icd = codes._tabular()
    if not icd.is_valid_item(code):
        return ()
    found = []
    for owner in [code, *icd.get_ancestors(code)]:
        if icd.is_chapter_or_block(owner):
            break
        for line in icd.get_use_additional_code(owner).splitlines():
            match = _MANDATORY.match(line.strip())
            if not match:
                continue
            label = (match.group(1) or match.group(2) or f"a code from {match.group(3)}").replace("type of ", "")
            ranges = ((match.group(3), match.group(3)),) if match.group(3) else tuple(code_ranges(match.group(4) or ""))
            if ranges == (("N181", "N186"),):
                ranges += (("N189", "N189"),)  # the CKD code is there, its stage undocumented: a reviewer accepts it
            if ranges and (label, ranges) not in found:
                found.append((label, ranges))
    return tuple(found)


@lru_cache(maxsize=1)
def unspecified_leaf_codes() -> frozenset[str]:
    """Codes titled "..., unspecified" (or "Unspecified ..."): the fallback of their parent's specific codes."""
    catalog = codes.icd10cm_catalog()
    titled = catalog.filter(pl.col("description").str.to_lowercase().str.contains(r"(^unspecified\b|unspecified$)"))
    return frozenset(titled["code"])


@lru_cache(maxsize=1)
def without_complication_codes() -> frozenset[str]:
    catalog = codes.icd10cm_catalog()
    titled = catalog.filter(pl.col("description").str.to_lowercase().str.contains("without complication"))
    return frozenset(titled["code"])


def _slice(present: list[str], low: str, high: str) -> list[str]:
    """The sorted `present` codes inside the prefix range [low, high] (codes use only A-Z and 0-9, all < '~')."""
    return present[bisect.bisect_left(present, low) : bisect.bisect_right(present, high + "~")]


def conflict_pairs(present: list[str]) -> pl.DataFrame:
    """Directed (code, other, rule, detail) pairs among the billable `present` codes that may not share a claim."""
    billable = codes.billable_codes()
    present = sorted({code for code in present if code in billable})
    without = without_complication_codes()
    fallbacks = without | unspecified_leaf_codes()
    rows = []
    for code in present:
        for owner, text, ranges in excludes1_notes(code):
            for low, high in ranges:
                for other in _slice(present, low, high):
                    if other != code:
                        detail = f"{other} with {code}: Excludes1 at {owner} ({text})"
                        rows.append((code, other, "excludes1_pair", detail))
        scope = UNSPECIFIED_SCOPES.get(code) or (code[:-1] if code in fallbacks else None)
        if scope:
            for other in _slice(present, scope, scope):
                if other != code and other not in fallbacks:
                    detail = f"{code} ({codes.describe(code)}) contradicts {other} on the same claim"
                    rows.append((code, other, "redundant_unspecified", detail))
    schema = {"code": pl.String, "other": pl.String, "rule": pl.String, "detail": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row").unique(["code", "other", "rule"], keep="first")


def pair_violations(long_dx: pl.DataFrame) -> pl.DataFrame:
    """`excludes1_pair` and `redundant_unspecified`: one violation per (claim, rule, later slot of the pair).

    A boolean conflict matrix over the involved codes, looked up between the codes of each claim, finds the few
    claims with a conflict; only those are joined code by code to word the detail.
    """
    pairs = conflict_pairs(long_dx["code"].unique().drop_nulls().to_list())
    if pairs.is_empty():
        return empty()
    involved = pl.concat([pairs["code"], pairs["other"]]).unique().sort()
    ids = pl.int_range(1, involved.len() + 1, eager=True, dtype=pl.UInt16)
    index = pl.DataFrame({"code": involved, "a": ids})
    keyed = pairs.join(index, on="code").join(index.rename({"code": "other", "a": "b"}), on="other")
    conflict = np.zeros((involved.len() + 1, involved.len() + 1), dtype=bool)
    conflict[keyed["a"].to_numpy(), keyed["b"].to_numpy()] = True
    conflict |= conflict.T
    inv = (
        long_dx.filter(pl.col("code").is_in(involved.implode()))
        .select(ROW, "column", "code", pl.col("code").replace_strict(involved, ids, return_dtype=pl.UInt16).alias("id"))
        .sort(ROW)
    )
    row, code = inv[ROW].to_numpy(), inv["id"].to_numpy()
    hit = np.zeros(len(row), dtype=bool)
    for step in range(1, len(schema.DX_COLUMNS)):  # a claim's involved codes are adjacent once sorted by row
        same = (row[step:] == row[:-step]) & conflict[code[step:], code[:-step]]
        hit[step:] |= same
    slot = pl.col("column").str.slice(3).cast(pl.Int32).alias("slot")
    inv = inv.filter(pl.col(ROW).is_in(np.unique(row[hit]))).select(ROW, "column", "code", slot)
    both = inv.join(inv, on=ROW, suffix="_other").join(
        pairs, left_on=["code", "code_other"], right_on=["code", "other"], how="inner"
    )
    later = pl.when(pl.col("slot") > pl.col("slot_other")).then(pl.col("column")).otherwise(pl.col("column_other"))
    both = both.with_columns(later.alias("column")).sort(ROW, "rule", "column", "detail").unique(
        [ROW, "rule", "column"], keep="first"
    )
    return both.select(ROW, "rule", "column", "detail")


def companion_violations(long_dx: pl.DataFrame) -> pl.DataFrame:
    """`missing_companion_code`: a code with a mandatory "use additional code" note and no such code on the claim."""
    billable = codes.billable_codes()
    distinct = sorted(code for code in long_dx["code"].unique().drop_nulls().to_list() if code in billable)
    needs, satisfied = [], []
    for code in distinct:
        for label, ranges in companion_requirements(code):
            key = f"{label} ({', '.join(lo if lo == hi else f'{lo}-{hi}' for lo, hi in ranges)})"
            needs.append((code, key))
            satisfied += [(other, key) for lo, hi in ranges for other in _slice(distinct, lo, hi)]
    schema = {"code": pl.String, "need": pl.String}
    needs_table = pl.DataFrame(needs, schema=schema, orient="row")
    has_table = pl.DataFrame(satisfied, schema=schema, orient="row").unique()
    def rows_with(table: pl.DataFrame) -> pl.DataFrame:
        return long_dx.filter(pl.col("code").is_in(table["code"].implode())).join(table, on="code", how="inner")

    wanting = rows_with(needs_table)
    having = rows_with(has_table).select(ROW, "need").unique()
    missing = wanting.join(having, on=[ROW, "need"], how="anti")
    detail = pl.format("{} needs an additional code for {} on the claim", pl.col("code"), pl.col("need"))
    return violations(missing, "missing_companion_code", detail)

