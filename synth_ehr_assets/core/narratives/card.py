"""What the data card shows about the notes: the combined-score histogram, per-kind detector counts, and sample
notes with their claims (`narrative_card` → the manifest's `narratives` entry, rendered by `export.data_card`)."""

from __future__ import annotations

import io
from collections import Counter

import polars as pl

BINS = (0.2, 0.4, 0.6, 0.8)
LABELS = ("0-0.2", "0.2-0.4", "0.4-0.6", "0.6-0.8", "0.8-1")
CLAIM_FIELDS = ("claim_id", "claim_type", "age", "sex", "provider_specialty", "los_days", "drg")


def histogram(scores: pl.Series) -> list[str]:
    """The bin label of each combined score."""
    return [LABELS[sum(float(s) >= b for b in BINS)] for s in scores.drop_nulls().to_list()]


def detector_counts(judged: pl.DataFrame) -> dict[str, int]:
    """Notes flagged per defect kind (a note counts once per kind)."""
    if "flags" not in judged.columns:
        return {}
    found = Counter(k.strip() for flags in judged["flags"].drop_nulls().to_list() for k in flags.split(","))
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def narrative_card(judged: pl.DataFrame, notes: pl.DataFrame, claims: pl.DataFrame, samples: int = 5) -> dict:
    """Histogram counts, detector counts, pass share and `samples` notes (the first claims in id order, so the
    card is reproducible) with their claim's codes, procedures and the judge's verdict."""
    bins = Counter(histogram(judged["combined_score"]))
    chosen = notes.filter(pl.col("note").is_not_null()).sort("claim_id").head(samples)
    by_claim = {r["claim_id"]: r for r in claims.filter(pl.col("claim_id").is_in(chosen["claim_id"].implode()))
                .iter_rows(named=True)}
    verdicts = {r["claim_id"]: r for r in judged.iter_rows(named=True)}
    rows = []
    for claim_id, note in chosen.select("claim_id", "note").iter_rows():
        claim = by_claim.get(claim_id, {})
        verdict = verdicts.get(claim_id, {})
        rows.append({
            **{k: claim.get(k) for k in CLAIM_FIELDS},
            "dx": " ".join(claim[f"dx_{i}"] for i in range(1, 11) if claim.get(f"dx_{i}")),
            "px": " ".join(claim[f"px_{i}"] for i in range(1, 7) if claim.get(f"px_{i}")),
            "note": note,
            "combined_score": verdict.get("combined_score"),
            "flags": verdict.get("flags") or ("none" if verdict else "not judged"),
        })
    return {
        "notes": judged.height,
        "pass_share": round(float(judged["passed"].mean() or 0.0), 4) if judged.height else 0.0,
        "histogram": {label: bins.get(label, 0) for label in LABELS},
        "detector_counts": detector_counts(judged),
        "samples": rows,
    }


def histogram_png(judged: pl.DataFrame) -> bytes:
    """Bar chart of the combined judge score per note (filled with or without an LLM judge)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = Counter(histogram(judged["combined_score"]))
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.bar(LABELS, [bins.get(label, 0) for label in LABELS], color="#3b6ea5")
    axis.set_xlabel("combined judge score")
    axis.set_ylabel("notes")
    axis.set_title("combined judge score per note (detectors + calibrated LLM judge)")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
