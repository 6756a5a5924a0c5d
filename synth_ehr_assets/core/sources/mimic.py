"""`mimic_iv` source: one inpatient claim per MIMIC-IV admission, built from the `hosp` tables.

Choices (MIMIC has no claims, so some fields are derived; each is deterministic):
- claim_id = hadm_id, patient_id = subject_id, claim_type = inpatient, sex = patients.gender. A subject's admissions
  stay one patient: they share patient_id and one date shift, so their order, the days between them and the age
  advancing with them are kept (the journey synthesizer and the by-patient holdout read them).
- Dates: MIMIC shifts each patient into 2100-2200; `anchor_year_group` says which real 3-year window
  `anchor_year` stands for, so dates move back by (anchor_year - middle year of the group) whole years.
  Without a readable group the shifted dates are kept. service_date = admittime date; los_days = discharge
  date - admission date; age = anchor_age + (admission year - anchor_year).
- region = new_england: every MIMIC admission is at Beth Israel Deaconess Medical Center, Boston.
- payer from admissions.insurance: Medicare -> medicare, Medicaid -> medicaid, Other/Private -> commercial,
  Self Pay/No charge -> self_pay; anything else is quarantined as `unknown_category`.
- provider_specialty from the first `services` row of the admission (optional table; null without it).
- Diagnoses by seq_num. ICD-9 codes go through the CMS GEMs to the first billable FY2026 ICD-10-CM target.
  An unmappable *principal* diagnosis rejects the admission (`unmappable_icd9`, column dx_1); an unmappable
  *secondary* one is quarantined as a diagnoses_icd row and the claim is kept without it. After mapping,
  repeated codes are merged and the first 10 fill dx_1..dx_10 (`stats["dx_beyond_slots"]` counts the rest).
  The row rules of `validation.py` then run with `drop_bad_secondary_codes`: a secondary ICD-10 code that is no
  longer billable in FY2026 (MIMIC is coded FY2008-2019) or breaks an age/sex edit is quarantined and removed.
- Procedures by seq_num, first 6 (ICD-10-PCS). No ICD-9 procedure GEM ships with the packages, so ICD-9
  procedures are quarantined as `unmappable_icd9` rows and the claim is kept without them.
- drg: the HCFA/MS-DRG row of drgcodes (APR-DRGs are another grouper and are not used as drg).
- Charges are absent in MIMIC: an estimate, not a price. charge = (5,000 + 3,500 x max(los_days, 1) +
  7,500 x ICD procedures) x (1 + 0.3 x (APR severity - 1)); allowed and paid are payer shares of it
  (`PAYER_SHARES`, typical US hospital charge-to-payment ratios). `stats["charges"] = "estimated"`.
Rows of diagnoses/procedures/drgcodes whose hadm_id is not an admission are quarantined as `unknown_admission`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.sources import code_checks
from synth_ehr_assets.core.sources.result import Progress, SourceError, SourceResult, fingerprint_files, report
from synth_ehr_assets.core.sources.validation import validate
from synth_ehr_assets.core.spec import ReleaseSpec

TABLES = {
    "patients": ["subject_id", "gender", "anchor_age", "anchor_year"],
    "admissions": ["subject_id", "hadm_id", "admittime", "dischtime", "insurance"],
    "diagnoses_icd": ["hadm_id", "seq_num", "icd_code", "icd_version"],
    "procedures_icd": ["hadm_id", "seq_num", "icd_code", "icd_version"],
    "drgcodes": ["hadm_id", "drg_type", "drg_code"],
}
OPTIONAL_TABLES = {
    "services": ["hadm_id", "curr_service"],
    "d_icd_procedures": ["icd_code", "icd_version", "long_title"],
}
REGION = "new_england"
PAYERS = {"medicare": "medicare", "medicaid": "medicaid", "other": "commercial", "private": "commercial",
          "self pay": "self_pay", "no charge": "self_pay"}  # fmt: skip
PAYER_SHARES = {  # payer: (allowed / charge, paid / allowed)
    "medicare": (0.32, 0.90), "medicaid": (0.27, 0.97), "commercial": (0.48, 0.85), "self_pay": (0.40, 0.0),
}  # fmt: skip
SERVICES = {
    "MED": "internal_medicine", "CMED": "cardiology", "SURG": "general_surgery", "CSURG": "cardiac_surgery",
    "NSURG": "neurosurgery", "NMED": "neurology", "ORTHO": "orthopedic_surgery", "OMED": "oncology",
    "TSURG": "thoracic_surgery", "VSURG": "vascular_surgery", "PSURG": "plastic_surgery", "TRAUM": "trauma_surgery",
    "GYN": "gynecology", "OBS": "obstetrics", "GU": "urology", "ENT": "otolaryngology", "PSYCH": "psychiatry",
    "NB": "neonatology", "NBB": "neonatology", "DENT": "dentistry",
}  # fmt: skip


def hosp_folder(path: Path) -> Path:
    """The folder holding the hosp tables: `path` itself or its `hosp/` subfolder."""
    for folder in (path / "hosp", path):
        if _table_path(folder, "admissions"):
            return folder
    if not path.exists():
        raise SourceError(f"MIMIC-IV folder {path} does not exist (release spec field 'source.path')")
    raise SourceError(f"{path} holds no admissions.csv.gz (nor hosp/admissions.csv.gz): not a MIMIC-IV hosp folder")


def _table_path(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / f"{name}.csv.gz", folder / f"{name}.csv") if p.is_file()), None)


def read_table(folder: Path, name: str, columns: list[str], required: bool = True) -> pl.DataFrame | None:
    """A hosp table as text with `_row` (1-based data row) and `_raw`; SourceError when absent or incomplete."""
    path = _table_path(folder, name)
    if path is None:
        if required:
            raise SourceError(f"MIMIC-IV folder {folder} has no {name}.csv.gz (release spec field 'source.path')")
        return None
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        frame = pl.DataFrame(schema={c: pl.String for c in columns})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(f"file {path} is missing required column(s) {', '.join(missing)}")
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
        pl.struct(pl.all()).struct.json_encode().alias("_raw"),
    )


def _codes_long(table: pl.DataFrame, kind: str) -> pl.DataFrame:
    """One row per code with `code` (ICD-10, mapped when ICD-9) or `reason` why there is none."""
    version = pl.col("icd_version").str.strip_chars()
    raw_code = pl.col("icd_code").str.replace_all(r"[.\s]", "").str.to_uppercase().replace("", None)
    icd9 = table.filter(version == "9").select(raw_code)["icd_code"]
    mapped = code_checks.map_icd9(icd9, kind)
    return (
        table.with_columns(raw_code.alias("icd_code"), pl.col("seq_num").cast(pl.Int64, strict=False), version)
        .join(mapped, left_on="icd_code", right_on="icd9", how="left")
        .with_columns(
            code=pl.when(pl.col("icd_version") == "10")
            .then("icd_code")
            .when(pl.col("icd_version") == "9")
            .then("target"),
            reason=pl.when(pl.col("icd_code").is_null())
            .then(pl.lit("icd_code is empty"))
            .when(pl.col("icd_version") == "9")
            .then("reason")
            .when(pl.col("icd_version") != "10")
            .then(pl.format("icd_version {} is neither 9 nor 10", "icd_version")),
        )
        .sort("hadm_id", "seq_num", "_row")
    )


def _code_slots(long: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, int]:
    """Wide slots per admission from the mapped codes (duplicates merged, order kept); also the overflow count."""
    lists = long.filter(pl.col("code").is_not_null()).group_by("hadm_id", maintain_order=True).agg(
        pl.col("code").unique(maintain_order=True)
    )
    beyond = (pl.col("code").list.len().cast(pl.Int64) - len(columns)).clip(lower_bound=0)
    overflow = int(lists.select(beyond.sum()).item() or 0)
    wide = lists.select(
        "hadm_id", *[pl.col("code").list.get(i, null_on_oob=True).alias(c) for i, c in enumerate(columns)]
    )
    return wide, overflow


def _quarantine(frame: pl.DataFrame, release_id: str, source: str, rule: str, column, detail) -> pl.DataFrame:
    return frame.select(
        pl.lit(release_id).alias("release_id"),
        pl.lit(source).alias("source"),
        pl.col("_row").alias("source_row"),
        pl.col("hadm_id").alias("claim_id"),
        pl.lit(rule).alias("rule"),
        (column if isinstance(column, pl.Expr) else pl.lit(column)).alias("column"),
        detail.alias("detail"),
        pl.col("_raw").alias("raw"),
    ).cast(schema.QUARANTINE_SCHEMA)


def load_mimic_source(spec: ReleaseSpec, progress: Progress | None = None) -> SourceResult:
    folder = hosp_folder(spec.resolve_path(spec.source.path))
    tables = {name: read_table(folder, name, columns) for name, columns in TABLES.items()}
    tables |= {name: read_table(folder, name, columns, required=False) for name, columns in OPTIONAL_TABLES.items()}
    files = {name: _table_path(folder, name) for name in tables if tables[name] is not None}
    admissions = tables["admissions"]
    if admissions.height == 0:
        raise SourceError(f"file {files['admissions']} has no rows")
    report(progress, 0, admissions.height)
    rid, adm_file = spec.release_id, files["admissions"].name
    known = admissions.select("hadm_id")

    orphans = [
        _quarantine(
            tables[name].join(known, on="hadm_id", how="anti"), rid, files[name].name, "unknown_admission", "hadm_id",
            pl.format("hadm_id {} is not in admissions", "hadm_id"),
        )
        for name in ("diagnoses_icd", "procedures_icd", "drgcodes")
    ]  # fmt: skip
    dx = _codes_long(tables["diagnoses_icd"].join(known, on="hadm_id", how="semi"), "dx")
    px = _codes_long(tables["procedures_icd"].join(known, on="hadm_id", how="semi"), "px")
    principal = dx.group_by("hadm_id", maintain_order=True).first()
    bad_principal = principal.filter(pl.col("code").is_null())
    rejected = _quarantine(
        admissions.join(bad_principal.select("hadm_id", "reason", dx_row="_row"), on="hadm_id"),
        rid, adm_file, "unmappable_icd9", "dx_1",
        pl.format(f"principal diagnosis ({files['diagnoses_icd'].name} row {{}}): {{}}; admission rejected",
                  "dx_row", "reason"),
    )  # fmt: skip
    unmapped_dx = dx.join(principal.select("hadm_id", first="_row"), on="hadm_id").filter(
        pl.col("code").is_null() & (pl.col("_row") != pl.col("first"))
    )
    unmapped = (("diagnoses_icd", "dx", unmapped_dx), ("procedures_icd", "px", px.filter(pl.col("code").is_null())))
    dx_wide, dx_overflow = _code_slots(dx, schema.DX_COLUMNS)
    px_wide, px_overflow = _code_slots(px, schema.PX_COLUMNS)
    report(progress, admissions.height // 2, admissions.height)

    candidates = admissions.join(bad_principal.select("hadm_id"), on="hadm_id", how="anti")
    frame = _claim_frame(candidates, tables, dx_wide, px_wide)
    claims, checked, stats = validate(frame, release_id=rid, source=adm_file, drop_bad_secondary_codes=True)
    kept = pl.col("hadm_id").is_in(claims["claim_id"].implode())
    outcome = pl.when(kept).then(pl.lit("code dropped, claim kept")).otherwise(pl.lit("admission rejected"))
    dropped = [
        _quarantine(
            rows, rid, files[name].name, "unmappable_icd9",
            pl.format("{} (seq_num {})", pl.lit(slot), "seq_num"), pl.format("{} ({})", "reason", outcome),
        )
        for name, slot, rows in unmapped
    ]  # fmt: skip
    quarantine = pl.concat([rejected, checked, *dropped, *orphans]).sort("source", "source_row", maintain_order=True)
    report(progress, admissions.height, admissions.height)
    rows_rejected = stats["rows_rejected"] + rejected.height
    stats.update(
        rows_in=admissions.height,
        rows_rejected=rows_rejected,
        quarantine_share=rows_rejected / admissions.height,
        codes_dropped=stats["codes_dropped"] + sum(rows.filter(kept).height for _, _, rows in unmapped),
        dx_beyond_slots=dx_overflow,
        px_beyond_slots=px_overflow,
        charges="estimated",
        path=str(folder),
    )
    return SourceResult(
        claims=claims,
        quarantine=quarantine,
        fingerprint=fingerprint_files([files[name] for name in sorted(files)]),
        procedure_descriptions=code_checks.procedure_descriptions(claims, _icd10_procedure_titles(tables)),
        stats=stats,
    )


def _first_per_admission(frame: pl.DataFrame | None, value: pl.Expr, name: str, order: str = "_row") -> pl.DataFrame:
    if frame is None:
        return pl.DataFrame(schema={"hadm_id": pl.String, name: pl.String})
    return frame.sort(order, "_row").group_by("hadm_id", maintain_order=True).agg(value.first().alias(name))


def _date(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def _claim_frame(admissions: pl.DataFrame, tables: dict, dx_wide: pl.DataFrame, px_wide: pl.DataFrame) -> pl.DataFrame:
    """Admissions joined to their patient, codes, DRG, service and estimated amounts, as canonical text columns."""
    patients = tables["patients"]
    group = pl.col("anchor_year_group") if "anchor_year_group" in patients.columns else pl.lit(None, pl.String)
    patients = patients.unique("subject_id", keep="first", maintain_order=True).select(
        "subject_id",
        "gender",
        pl.col("anchor_age").cast(pl.Int32, strict=False),
        pl.col("anchor_year").cast(pl.Int32, strict=False),
        group.str.extract(r"^\s*(\d{4})").cast(pl.Int32).alias("group_start"),
    )
    drgs = tables["drgcodes"].filter(pl.col("drg_type").str.to_uppercase().is_in(["HCFA", "MS"]))
    apr = tables["drgcodes"].filter(pl.col("drg_type").str.to_uppercase() == "APR")
    severity = pl.col("drg_severity").cast(pl.Int32, strict=False) if "drg_severity" in apr.columns else pl.lit(None)
    services = tables["services"]
    service_order = "transfertime" if services is not None and "transfertime" in services.columns else "_row"
    procedures = tables["procedures_icd"].group_by("hadm_id").agg(pl.len().alias("n_procedures"))
    frame = (
        admissions.join(patients, on="subject_id", how="left")
        .join(dx_wide, on="hadm_id", how="left")
        .join(px_wide, on="hadm_id", how="left")
        .join(_first_per_admission(drgs, pl.col("drg_code").str.strip_chars(), "drg"), on="hadm_id", how="left")
        .join(_first_per_admission(apr, severity, "severity"), on="hadm_id", how="left")
        .join(
            _first_per_admission(services, pl.col("curr_service"), "service", service_order), on="hadm_id", how="left"
        )
        .join(procedures, on="hadm_id", how="left")
    )
    admit, discharge = _date("admittime"), _date("dischtime")
    shift = (pl.col("anchor_year") - pl.col("group_start") - 1).fill_null(0)
    los = (discharge - admit).dt.total_days()
    payer = pl.col("insurance").str.strip_chars().str.to_lowercase().replace(PAYERS)
    allowed_share = payer.replace_strict({k: v[0] for k, v in PAYER_SHARES.items()}, default=None)
    paid_share = payer.replace_strict({k: v[1] for k, v in PAYER_SHARES.items()}, default=None)
    factor = 1 + 0.3 * (pl.col("severity").cast(pl.Float64).fill_null(1) - 1)
    charge = (5_000 + 3_500 * pl.max_horizontal(los, 1) + 7_500 * pl.col("n_procedures").fill_null(0)) * factor
    frame = frame.with_columns(
        charge.round(2).alias("charge_amount"),
        (charge * allowed_share).round(2).alias("allowed_amount"),
        (charge * allowed_share * paid_share).round(2).alias("paid_amount"),
    )
    return frame.select(
        pl.col("hadm_id").alias("claim_id"),
        pl.col("subject_id").alias("patient_id"),
        pl.lit("inpatient").alias("claim_type"),
        pl.when(admit.is_not_null())
        .then(admit.dt.offset_by(pl.format("-{}y", shift)).cast(pl.String))
        .otherwise(pl.col("admittime"))
        .alias("service_date"),
        los.cast(pl.String).alias("los_days"),
        (pl.col("anchor_age") + admit.dt.year() - pl.col("anchor_year")).cast(pl.String).alias("age"),
        pl.col("gender").alias("sex"),
        pl.lit(REGION).alias("region"),
        payer.alias("payer"),
        *[pl.col(c) for c in schema.DX_COLUMNS + schema.PX_COLUMNS],
        "drg",
        *[pl.col(c).cast(pl.String) for c in ("charge_amount", "allowed_amount", "paid_amount")],
        pl.col("service")
        .replace_strict(SERVICES, default=pl.col("service").str.to_lowercase())
        .alias("provider_specialty"),
        "_row",
        "_raw",
    )



def _icd10_procedure_titles(tables: dict) -> dict[str, str]:
    """ICD-10-PCS titles from MIMIC's optional d_icd_procedures dictionary."""
    dictionary = tables["d_icd_procedures"]
    if dictionary is None:
        return {}
    rows = dictionary.filter(pl.col("icd_version").str.strip_chars() == "10").select("icd_code", "long_title")
    return dict(rows.iter_rows())
