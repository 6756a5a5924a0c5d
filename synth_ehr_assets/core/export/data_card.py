"""`data_card.html`: a self-contained page (plots embedded as base64 PNG) describing one release."""

from __future__ import annotations

import base64
import html
import math
from typing import Any, Iterable

INTENDED_USE = (
    "Development and testing of claims-processing software, analytics prototypes, teaching, and method research "
    "where the statistical shape of claims matters but no real person's record may be used. The tables follow the "
    "canonical claim schema; symptoms and notes are synthetic text written for the synthetic claims."
)
LIMITATIONS = (
    "Synthetic rows reproduce the aggregate patterns measured below, not individual histories: rare codes, "
    "rare combinations and extreme charges are under-represented or smoothed, and patient journeys across claims "
    "are not modelled beyond what each claim carries. Do not use this release for clinical decisions, for "
    "estimating effects that the fidelity figures do not cover, or as evidence about any real person. Privacy "
    "figures are empirical tests (exact matches, distances, a membership-inference attack), not a formal "
    "guarantee unless the manifest records a differential-privacy epsilon. Real-data figures on this card are "
    "aggregates of the training rows."
)
CODE_STRUCTURE_PREFIXES = ("code_structure.", "code_structure_null.")
LINEAGE_FIELDS = ("seed", "source_fingerprint", "code_set_version", "embedding_model", "spec_fingerprint")

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3;text-align:left}.pass{color:#17803d;font-weight:600}.fail{color:#b42318;font-weight:600}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
.metrics{columns:2}.metrics table{width:100%}
"""


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: Iterable[dict], columns: list[str] | None = None) -> str:
    rows = list(rows)
    if not rows:
        return "<p><em>none</em></p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_format(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _gate_figures(metadata: dict) -> str:
    """The numbers a check recorded (value vs threshold, counts, shares), e.g. `value=0.87, threshold=0.8`."""
    numbers = {k: v for k, v in metadata.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return ", ".join(f"{k}={_format(float(v)) if isinstance(v, float) else v}" for k, v in numbers.items())


def _gate_table(gates: list[dict]) -> str:
    rows = []
    for gate in gates:
        status = '<span class="pass">pass</span>' if gate["passed"] else '<span class="fail">FAIL</span>'
        rows.append(
            f"<tr><td>{html.escape(gate['asset'])}</td><td>{html.escape(gate['check'])}</td><td>{status}</td>"
            f"<td>{'blocking' if gate.get('blocking', True) else 'report only'}</td>"
            f"<td>{html.escape(_gate_figures(gate.get('metadata', {})))}</td></tr>"
        )
    head = "<tr><th>asset</th><th>gate (asset check)</th><th>result</th><th>kind</th><th>figures</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>" if rows else "<p><em>no gate results recorded</em></p>"


def _image(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<h3>{html.escape(alt)}</h3><img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def _code_structure_section(manifest: dict) -> list[str]:
    """Each code-structure figure next to the real holdout's (the null level) and its gate bound, then the most
    over- and under-represented codes (`manifest["code_structure"]`)."""
    from synth_ehr_assets.core.evaluation.gates import bound_text, code_structure_rows
    from synth_ehr_assets.core.spec import GateThresholds

    figures = {k: math.nan if v is None else v for k, v in manifest.get("metrics", {}).get("fidelity", {}).items()
               if k.startswith(CODE_STRUCTURE_PREFIXES)}
    if not figures:
        return []
    rows = []
    for row in code_structure_rows(figures, GateThresholds(**manifest.get("spec", {}).get("gates", {}))):
        result = {None: "", True: "pass", False: "FAIL"}[row["passed"]]
        rows.append({"figure": row["label"], "synthetic": row["synthetic"], "real holdout (null)": row["null"],
                     "threshold": bound_text(row), "result": result})
    tables = manifest.get("code_structure", {})
    columns = ["code", "description", "reference_share", "candidate_share", "ratio"]
    return [
        "<h2>Code structure</h2>",
        "<p>Synthetic claims and the real holdout, each measured against the training claims: the holdout's value "
        "is what a faithful sample of the same population reaches (the null level).</p>",
        _table(rows),
        "<h3>Most over-represented codes (share of claims, synthetic vs train)</h3>",
        _table(tables.get("overrepresented", []), columns),
        "<h3>Most under-represented common codes</h3>",
        _table(tables.get("underrepresented", []), columns),
    ]


def _narratives_section(card: dict | None) -> list[str]:
    """Notes and their judge (`core.narratives.card.narrative_card`): combined-score histogram counts,
    notes flagged per defect kind, and sample notes shown next to their claims."""
    if not card:
        return []
    samples = []
    for row in card.get("samples", []):
        facts = ", ".join(f"{k}={_format(row.get(k))}" for k in ("claim_id", "claim_type", "age", "sex",
                                                                  "provider_specialty", "los_days", "drg"))
        samples.append(
            f"<h3>{html.escape(str(row.get('claim_id')))}</h3><p><code>{facts}</code><br>dx: <code>"
            f"{html.escape(row.get('dx') or '')}</code> · px: <code>{html.escape(row.get('px') or '—')}</code>"
            f" · combined score {_format(row.get('combined_score'))} · flags: {html.escape(row.get('flags') or '')}"
            f"</p><pre style=\"white-space:pre-wrap\">{html.escape(row.get('note') or '')}</pre>")
    counts = card.get("detector_counts") or {}
    return [
        "<h2>Notes and judge</h2>",
        f"<p>{_format(card.get('notes'))} notes judged; share no detector objects to: "
        f"{_format(card.get('pass_share'))}.</p>",
        "<h3>Combined judge score per note</h3>",
        _table([{"score": k, "notes": v} for k, v in (card.get("histogram") or {}).items()]),
        "<h3>Notes flagged per defect kind</h3>",
        _table([{"defect kind": k, "notes": v} for k, v in counts.items()]) if counts else "<p>none flagged</p>",
        "<h3>Sample notes with their claims</h3>",
        *samples,
    ]


def render_data_card(manifest: dict, images: dict[str, bytes]) -> str:
    """The HTML text of the data card for a release manifest (see `bundle.write_release`).

    Reads `release_id`, `description`, `row_counts`, the lineage fields, `gates` (list of dicts with asset,
    check, passed, blocking, metadata), `metrics` (`fidelity` and `privacy` mappings of headline floats; the
    `code_structure.*` ones get their own section with the thresholds of `spec.gates`) and `code_structure`
    (`overrepresented` / `underrepresented` lists of code rows);
    `images` maps a caption to PNG bytes, shown in the given order.
    """
    release_id = manifest["release_id"]
    metrics = manifest.get("metrics", {})
    sections = [
        f"<h1>synth-ehr release <code>{html.escape(release_id)}</code></h1>",
        f"<p>{html.escape(manifest.get('description') or '')}</p>",
        "<h2>Contents</h2>",
        _table([{"table": name, "rows": rows} for name, rows in manifest.get("row_counts", {}).items()]),
        _table([{"field": key, "value": manifest[key]} for key in LINEAGE_FIELDS if key in manifest]),
        "<h2>Gates</h2>",
        _gate_table(manifest.get("gates", [])),
        "<h2>Plots</h2>",
        *[_image(png, caption) for caption, png in images.items()],
    ]
    sections += _code_structure_section(manifest)
    sections += _narratives_section(manifest.get("narratives"))
    for report in ("fidelity", "privacy"):
        figures = {k: v for k, v in metrics.get(report, {}).items() if not k.startswith(CODE_STRUCTURE_PREFIXES)}
        rows = [{"figure": name, "value": value} for name, value in figures.items()]
        sections += [f"<h2>{report.capitalize()} figures</h2>", f'<div class="metrics">{_table(rows)}</div>']
    sections += [
        "<h2>Intended use</h2>",
        f"<p>{html.escape(INTENDED_USE)}</p>",
        "<h2>Limitations</h2>",
        f"<p>{html.escape(LIMITATIONS)}</p>",
    ]
    body = "\n".join(sections)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>synth-ehr {html.escape(release_id)}'
        f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
