"""What a note may know of a patient's journey: per claim, the patient's EARLIER claims (strictly earlier service
date, or the same date and earlier in the frame's order) read as admissions, ED visits, chronic problems already
coded, procedures already done, and the visit this claim follows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from synth_ehr_assets.core.narratives.phrasing import same_condition, specific_problems

FOLLOW_UP_DAYS = 30  # an ED visit or an inpatient discharge this recent makes the claim its follow-up
MAX_CITED = 3  # admissions, ED visits and procedures cited: the most recent ones
MAX_CHRONIC = 4  # chronic problems cited: the earliest coded
DX = [f"dx_{i}" for i in range(1, 11)]
PX = [f"px_{i}" for i in range(1, 7)]


@dataclass(frozen=True)
class Visit:
    """An earlier claim: its date, its kind (admission, ED visit, visit), principal diagnosis and stay length."""

    date: dt.date
    kind: str
    principal: str
    los_days: int = 0

    @property
    def end(self) -> dt.date:
        return self.date + dt.timedelta(days=self.los_days if self.kind == "admission" else 0)


@dataclass(frozen=True)
class JourneyContext:
    """One claim's view of the patient's earlier claims (`earlier` is their number; 0: a first visit)."""

    claim_id: str
    earlier: int
    admissions: tuple[Visit, ...] = ()
    ed_visits: tuple[Visit, ...] = ()
    chronic: tuple[tuple[str, dt.date], ...] = ()  # (code, first coded)
    recent: tuple[str, ...] = ()  # diagnoses coded within FOLLOW_UP_DAYS before this claim (an open episode)
    procedures: tuple[tuple[str, dt.date], ...] = ()
    follows: Visit | None = None
    follow_up: bool = False

    @property
    def known(self) -> set[str]:
        """Diagnoses the patient is already known to have: chronic ones and those of an open episode."""
        return {c for c, _ in self.chronic} | set(self.recent)


@lru_cache(maxsize=1)
def _chronic_codes() -> frozenset[str]:
    from synth_ehr_assets.core.evaluation.journeys import chronic_condition_map

    return frozenset(chronic_condition_map()["code"].to_list())


def _ordered(claims: pl.DataFrame) -> pl.DataFrame:
    dx = [c for c in DX if c in claims.columns]
    px = [c for c in PX if c in claims.columns]
    ed = pl.any_horizontal([pl.col(c).cast(pl.String).str.starts_with("9928").fill_null(False) for c in px]) \
        if px else pl.lit(False)
    return (claims.with_row_index("_row")
            .select("_row", pl.col("claim_id").cast(pl.String), pl.col("patient_id").cast(pl.String),
                    pl.col("service_date").cast(pl.Date), pl.col("los_days").fill_null(0).cast(pl.Int32),
                    kind=pl.when(pl.col("claim_type") == "inpatient").then(pl.lit("admission"))
                    .when((pl.col("claim_type") == "outpatient") & ed).then(pl.lit("ED visit"))
                    .otherwise(pl.lit("visit")),
                    *[pl.col(c).cast(pl.String) for c in dx + px])
            .sort("patient_id", "service_date", "_row")
            .with_columns(visit=pl.int_range(pl.len()).over("patient_id")))


def journey_contexts(claims: pl.DataFrame, procedure_names: dict[str, str] | None = None) -> dict[str, JourneyContext]:
    """claim_id → its `JourneyContext`. Procedures are those in `procedure_names` (code → what a note calls it;
    default the design engine's orders that are not E/M visits); claims without patient_id or service_date
    are each their own first visit."""
    if "patient_id" not in claims.columns or "service_date" not in claims.columns or claims.height == 0:
        return {str(c): JourneyContext(str(c), 0) for c in claims["claim_id"].to_list()}
    if procedure_names is None:
        from synth_ehr_assets.core.narratives.orders import ORDERS

        procedure_names = {c: o.name for c, o in ORDERS.items() if o.kind in ("procedure", "imaging", "cardiac")}
    ordered = _ordered(claims)
    base = ordered.select("claim_id", "patient_id", "service_date", "visit")
    earlier = base.join(ordered.drop("claim_id", "_row").rename({"service_date": "e_date", "visit": "e_visit"}),
                        on="patient_id").filter(pl.col("e_visit") < pl.col("visit"))
    gap = (pl.col("service_date") - pl.col("e_date")).dt.total_days()
    since_end = gap - pl.when(pl.col("kind") == "admission").then(pl.col("los_days")).otherwise(0)
    earlier = earlier.with_columns(gap=gap, since_end=since_end)
    visits = earlier.select("claim_id", "e_visit", "e_date", "kind", pl.col("dx_1").alias("principal"), "los_days",
                            "since_end")
    dx_cols = [c for c in DX if c in ordered.columns]
    px_cols = [c for c in PX if c in ordered.columns]
    coded = earlier.unpivot(index=["claim_id", "e_date", "gap"], on=dx_cols, value_name="code").drop_nulls("code")
    chronic = (coded.filter(pl.col("code").is_in(list(_chronic_codes())))
               .group_by("claim_id", "code").agg(pl.col("e_date").min()).sort("claim_id", "e_date", "code"))
    recent = coded.filter(pl.col("gap") <= FOLLOW_UP_DAYS).select("claim_id", "code").unique().sort("claim_id", "code")
    done = (earlier.unpivot(index=["claim_id", "e_date"], on=px_cols, value_name="code")
            .filter(pl.col("code").is_in(list(procedure_names)))
            .group_by("claim_id", "code").agg(pl.col("e_date").max()).sort("claim_id", "e_date", "code",
                                                                          descending=[False, True, False]))
    counts = dict(earlier.group_by("claim_id").len().iter_rows())
    by_claim: dict[str, dict] = {}
    for row in visits.sort("claim_id", "e_visit").iter_rows(named=True):
        by_claim.setdefault(row["claim_id"], {"all": []})["all"].append(row)
    chronic_by = _grouped(chronic, lambda r: (r["code"], r["e_date"]))
    recent_by = _grouped(recent, lambda r: r["code"])
    done_by = _grouped(done, lambda r: (r["code"], r["e_date"]))
    out = {}
    for claim_id in base["claim_id"].to_list():
        rows = by_claim.get(claim_id, {"all": []})["all"]
        if not rows:
            out[claim_id] = JourneyContext(claim_id, 0)
            continue
        made = [(Visit(r["e_date"], r["kind"], r["principal"] or "", int(r["los_days"] or 0)), r["since_end"])
                for r in rows]
        acute = [(v, s) for v, s in made if v.kind != "visit" and 0 <= s <= FOLLOW_UP_DAYS]
        follows, follow_up = (acute[-1][0], True) if acute else (made[-1][0], False)
        out[claim_id] = JourneyContext(
            claim_id, counts[claim_id],
            admissions=tuple(v for v, _ in made if v.kind == "admission")[-MAX_CITED:],
            ed_visits=tuple(v for v, _ in made if v.kind == "ED visit")[-MAX_CITED:],
            chronic=tuple(chronic_by.get(claim_id, ()))[:MAX_CHRONIC],
            recent=tuple(recent_by.get(claim_id, ())),
            procedures=tuple(done_by.get(claim_id, ()))[:MAX_CITED],
            follows=follows, follow_up=follow_up)
    return out


def _grouped(frame: pl.DataFrame, value) -> dict[str, list]:
    out: dict[str, list] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(row["claim_id"], []).append(value(row))
    return out


NEW_WORDING = (("new problem, clinically mild", "recurring problem, clinically mild"),)


def ago(days: int) -> str:
    """A visit's distance back in words (a note carries no dates finer than the year: Safe Harbor)."""
    if days <= 0:
        return "earlier today"
    if days < 60:
        return f"{days} day{'s' if days > 1 else ''} ago"
    return f"about {round(days / 30.4)} months ago"


def _visit(v: Visit, today: dt.date, title) -> str:
    article = "an" if str(v.los_days).startswith("8") or v.los_days in (11, 18) else "a"
    stay = f", {article} {v.los_days}-day stay" if v.kind == "admission" and v.los_days > 1 else ""
    return f"{ago((today - v.date).days)} for {title(v.principal)}{stay}"


def history_sentences(context: JourneyContext, today: dt.date, title) -> list[str]:
    """What the note's History line says of the earlier claims seen from `today` (the claim's service date);
    `title` names a code the way the note does."""
    if context.earlier == 0 or context.follows is None:
        return []
    follows, out = context.follows, []
    if context.follow_up:
        where = "the admission" if follows.kind == "admission" else "the emergency department visit"
        out.append(f"Seen in follow-up after {where} {_visit(follows, today, title)}.")
    else:
        out.append(f"Last seen {ago((today - follows.date).days)} for {title(follows.principal)}.")
    admissions = [v for v in context.admissions if not (context.follow_up and v == follows)]
    if admissions:
        out.append("Earlier admissions: " + "; ".join(_visit(v, today, title) for v in admissions) + ".")
    visits = [v for v in context.ed_visits if not (context.follow_up and v == follows)]
    if visits:
        out.append("Earlier emergency department visits: " + "; ".join(_visit(v, today, title) for v in visits) + ".")
    if context.chronic:  # a problem coded twice (E11.9 then E11.65): cited once, most specific, from its first coding
        kept = specific_problems([c for c, _ in context.chronic], title)
        since = {c: min(d for o, d in context.chronic if same_condition(o, c, title)) for c in kept}
        out.append("Known chronic problems: " + "; ".join(f"{title(c)} (since {since[c].year})" for c in kept) + ".")
    return out


def with_history(note: str, context: JourneyContext | None, today: dt.date, principal: str, title,
                 names: dict[str, str] | None = None) -> str:
    """`note` with a History line after its first section citing the earlier claims, and the `principal`
    diagnosis not called new when it is already known; unchanged for a first visit (or no context)."""
    if context is None or context.earlier == 0:
        return note
    said = history_sentences(context, today, title)
    if context.procedures and names:
        said.append("Earlier procedures: " + "; ".join(f"{names[c]} ({d.year})" for c, d in context.procedures
                                                       if c in names) + ".")
    lines = note.splitlines()
    lines.insert(1, "History: " + " ".join(said))
    if principal in context.known:
        lines = [_not_new(line) for line in lines]
    return "\n".join(lines)


def _not_new(line: str) -> str:
    for new, known in NEW_WORDING:
        line = line.replace(new, known)
    return line
