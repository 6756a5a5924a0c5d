"""`data_card.html`: one self-contained page (plots as base64 PNG, no external resources) answering a reviewer's
first questions: the source, what each table holds, the gates and why, sample claims, what not to use it for.

The card is a list of sections, each a function of (manifest, images) returning HTML: add one to `SECTIONS`."""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Any, Callable, Iterable

from synth_ehr_assets.core.export.card_journeys import journey_section
from synth_ehr_assets.core.export.card_privacy import privacy_section
from synth_ehr_assets.core.export.card_text import COLUMN_MEANINGS, GATE_REASONS, NOT_FOR

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
    "figures are empirical tests (exact matches, distances, a membership-inference attack, anonymeter's "
    "singling-out, linkability and inference attacks, planted canaries); the formal guarantee, where the release "
    "has one, is stated in the privacy section. Real-data figures on this card are aggregates of the training rows."
)
CODE_STRUCTURE_PREFIXES = ("code_structure.", "code_structure_null.")
LINEAGE_FIELDS = ("seed", "source_fingerprint", "code_set_version", "embedding_model", "spec_fingerprint")

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.2em auto;color:#222;line-height:1.4;font-size:14px}
table{border-collapse:collapse;margin:.4em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.2em .5em;
vertical-align:top}th{background:#f3f3f3;text-align:left}.pass{color:#17803d;font-weight:600}
.fail{color:#b42318;font-weight:600}h1{margin:.2em 0}h2{border-bottom:1px solid #ddd;padding-bottom:.1em;
margin:.9em 0 .3em}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:.2em 1.2em}
.plots{display:grid;grid-template-columns:repeat(3,1fr);gap:.6em}.plots img{width:100%;border:1px solid #eee}
.plots h3{font-size:.9em;margin:.2em 0}details summary{cursor:pointer;color:#444}.note{white-space:pre-wrap;
font-size:.88em;margin:.2em 0 .6em;color:#333}.claim{border-left:3px solid #ccd;padding-left:.6em;margin:.5em 0}
.not-for li{margin:.1em 0}
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


def _image(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<div><h3>{html.escape(alt)}</h3><img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}"></div>'


def _header(manifest: dict, _images: dict) -> str:
    release_id = html.escape(manifest["release_id"])
    rows = ", ".join(f"{count:,} {name}" for name, count in manifest.get("row_counts", {}).items())
    return (f"<h1>synth-ehr release <code>{release_id}</code></h1>"
            f"<p>{html.escape(manifest.get('description') or '')} <strong>{html.escape(rows)}</strong>.</p>")


def _source(manifest: dict, _images: dict) -> str:
    spec = manifest.get("spec", {})
    source = spec.get("source", {})
    described = ", ".join(f"{k}={v}" for k, v in source.items() if k not in ("kind", "column_map"))
    split = manifest.get("upstream", {}).get("encoded_features", {})
    rows = [
        {"field": "source", "value": f"{source.get('kind', '?')} ({described})" if described else source.get("kind")},
        {"field": "training / holdout claims",
         "value": f"{split.get('train_rows', '—')} / {split.get('holdout_rows', '—')}"},
        {"field": "synthetic claims requested", "value": spec.get("rows")},
        *({"field": key.replace("_", " "), "value": manifest[key]} for key in LINEAGE_FIELDS if key in manifest),
    ]
    kind_note = {
        "reference": "a design-driven reference population with published prevalences: no real person is behind it.",
        "mimic_iv": "MIMIC-IV hospital records (credentialed access); real patients stand behind the training rows.",
        "file": "a claims file supplied by the release owner; treat it as holding protected health information.",
    }.get(source.get("kind"), "")
    return f"<h2>Source</h2><p>{html.escape(kind_note)}</p>{_table(rows)}"


def _columns(names: list[str]) -> str:
    rows = []
    for name in names:
        slot = re.fullmatch(r"(dx|px)_(\d+)", name)
        key = f"{slot[1]}_n" if slot and name != "dx_1" else name
        if rows and key in ("dx_n", "px_n") and rows[-1]["key"] == key:
            rows[-1]["column"] = rows[-1]["column"].split(" … ")[0] + f" … {name}"
            continue
        rows.append({"key": key, "column": name, "meaning and unit": COLUMN_MEANINGS.get(key, "")})
    return _table(rows, ["column", "meaning and unit"])


def _tables(manifest: dict, _images: dict) -> str:
    counts, columns = manifest.get("row_counts", {}), manifest.get("columns", {})
    parts = ["<h2>Tables</h2><p>Parquet and CSV under <code>tables/</code> (<code>patients</code>: one row per "
             "synthetic patient, derived from the claims), FHIR R4B bundles under <code>fhir/</code> (one per patient: "
             "the Patient, then per claim in date order its Encounter, new Conditions, Claim and note); every file's "
             "sha256 is in <code>manifest.json</code>.</p><div class=\"grid\">"]
    for name, count in counts.items():
        parts.append(f"<div><h3>{html.escape(name)} ({count:,} rows)</h3>{_columns(columns.get(name, []))}</div>")
    return "".join(parts) + "</div>"


def _gates(manifest: dict, _images: dict) -> str:
    rows = []
    for gate in manifest.get("gates", []):
        status = '<span class="pass">pass</span>' if gate["passed"] else '<span class="fail">FAIL</span>'
        reason = GATE_REASONS.get(gate["check"], "drift against the baseline release; reported, not blocking"
                                  if not gate.get("blocking", True) else "")
        rows.append(
            f"<tr><td>{html.escape(gate['asset'])}.{html.escape(gate['check'])}</td><td>{status}</td>"
            f"<td>{'blocking' if gate.get('blocking', True) else 'report only'}</td>"
            f"<td>{html.escape(_gate_figures(gate.get('metadata', {})))}</td><td>{html.escape(reason)}</td></tr>"
        )
    head = "<tr><th>gate</th><th>result</th><th>kind</th><th>figures</th><th>why this threshold</th></tr>"
    table = f"<table>{head}{''.join(rows)}</table>" if rows else "<p><em>no gate results recorded</em></p>"
    return f"<h2>Gates</h2><p>Every blocking gate passed before this folder was written.</p>{table}"


def _claim(sample: dict) -> str:
    facts = ", ".join(f"{k.replace('_', ' ')} {_format(sample.get(k))}" for k in
                      ("claim_type", "age", "sex", "payer", "provider_specialty", "charge_amount") if k in sample)
    codes = f"dx {' '.join(sample.get('diagnoses', []))}; px {' '.join(sample.get('procedures', [])) or '—'}"
    verdict = sample.get("judge", {})
    judge = ", ".join(f"{k} {_format(v)}" for k, v in verdict.items() if v is not None and k != "rationale")
    rationale = (sample.get("judge") or {}).get("rationale")
    return (f'<div class="claim"><strong>{html.escape(str(sample.get("claim_id")))}</strong> — {facts}; '
            f"{html.escape(codes)}<div class=\"note\">{html.escape(sample.get('note') or '')}</div>"
            f"<small>judge: {judge or '—'}{'; ' + html.escape(rationale) if rationale else ''}</small></div>")


def _samples(manifest: dict, _images: dict) -> str:
    samples = manifest.get("samples", [])
    if not samples:
        return "<h2>Sample claims</h2><p><em>no claim in this release has a note</em></p>"
    return f"<h2>{len(samples)} sample claims with their notes</h2>" + "".join(_claim(s) for s in samples)


def _figures(manifest: dict, _images: dict) -> str:
    parts = ["<h2>Figures</h2>"]
    for report, figures in manifest.get("metrics", {}).items():
        rows = [{"figure": name, "value": value} for name, value in figures.items()
                if not name.startswith(CODE_STRUCTURE_PREFIXES)]
        parts.append(f"<details><summary>{html.escape(report)} ({len(rows)} figures)</summary>{_table(rows)}</details>")
    return "".join(parts)


def _plots(_manifest: dict, images: dict) -> str:
    if not images:
        return ""
    return "<h2>Plots</h2><div class=\"plots\">" + "".join(_image(png, c) for c, png in images.items()) + "</div>"


def _use(_manifest: dict, _images: dict) -> str:
    items = "".join(f"<li>{html.escape(item)}</li>" for item in NOT_FOR)
    return (f"<h2>Intended use</h2><p>{html.escape(INTENDED_USE)}</p>"
            f"<h2>Must not be used for</h2><ul class=\"not-for\">{items}</ul>"
            f"<h2>Limitations</h2><p>{html.escape(LIMITATIONS)}</p>")




def _code_structure(manifest: dict, _images: dict) -> str:
    """Each code-structure figure next to the real holdout's (the null level) and its gate bound, then the most
    over- and under-represented codes (`manifest["code_structure"]`)."""
    from synth_ehr_assets.core.evaluation.gates import bound_text, code_structure_rows
    from synth_ehr_assets.core.spec import GateThresholds

    figures = {k: math.nan if v is None else v for k, v in manifest.get("metrics", {}).get("fidelity", {}).items()
               if k.startswith(CODE_STRUCTURE_PREFIXES)}
    if not figures:
        return ""
    rows = []
    for row in code_structure_rows(figures, GateThresholds(**manifest.get("spec", {}).get("gates", {}))):
        result = {None: "", True: "pass", False: "FAIL"}[row["passed"]]
        rows.append({"figure": row["label"], "synthetic": row["synthetic"], "real holdout (null)": row["null"],
                     "threshold": bound_text(row), "result": result})
    tables = manifest.get("code_structure", {})
    columns = ["code", "description", "reference_share", "candidate_share", "ratio"]
    return "".join([
        "<h2>Code structure</h2>",
        "<p>Synthetic claims and the real holdout, each measured against the training claims: the holdout's value "
        "is what a faithful sample of the same population reaches (the null level).</p>",
        _table(rows),
        "<h3>Most over-represented codes (share of claims, synthetic vs train)</h3>",
        _table(tables.get("overrepresented", []), columns),
        "<h3>Most under-represented common codes</h3>",
        _table(tables.get("underrepresented", []), columns),
    ])


def _narratives(manifest: dict, _images: dict) -> str:
    """Notes and their judge (`core.narratives.card.narrative_card`): combined-score histogram counts,
    notes flagged per defect kind, and sample notes shown next to their claims."""
    card = manifest.get("narratives")
    if not card:
        return ""
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
    return "".join([
        "<h2>Notes and judge</h2>",
        f"<p>{_format(card.get('notes'))} notes judged; share no detector objects to: "
        f"{_format(card.get('pass_share'))}.</p>",
        "<h3>Combined judge score per note</h3>",
        _table([{"score": k, "notes": v} for k, v in (card.get("histogram") or {}).items()]),
        "<h3>Notes flagged per defect kind</h3>",
        _table([{"defect kind": k, "notes": v} for k, v in counts.items()]) if counts else "<p>none flagged</p>",
        "<h3>Sample notes with their claims</h3>",
        *samples,
    ])


Section = Callable[[dict, dict], str]
def _privacy(manifest: dict, _images: dict) -> str:
    return privacy_section(manifest, _table)


def _journeys(manifest: dict, _images: dict) -> str:
    return journey_section(manifest, _table)


SECTIONS: list[Section] = [_header, _source, _tables, _gates, _code_structure, _samples, _journeys, _narratives,
                           _privacy, _plots, _figures, _use]


def render_data_card(manifest: dict, images: dict[str, bytes]) -> str:
    """The HTML text of the data card for a release manifest (see `bundle.write_release`): each of `SECTIONS`.

    Reads `release_id`, `description`, `row_counts`, `columns`, `spec`, `upstream`, the lineage fields, `gates`,
    `metrics` (the `code_structure.*` figures get their own section with the thresholds of `spec.gates`),
    `code_structure` (over/under-represented code rows), `narratives` and `samples` (each optional but
    `release_id`); `images` maps a caption to PNG bytes.
    """
    release_id = manifest["release_id"]
    body = "\n".join(section(manifest, images) for section in SECTIONS)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>synth-ehr {html.escape(release_id)}'
        f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
