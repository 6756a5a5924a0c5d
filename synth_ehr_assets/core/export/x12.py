"""X12 5010 claim files from a claims table: 837P (professional, 005010X222A1) and 837I (institutional, 005010X223A2).

One interchange per file, one claim per subscriber loop; self-pay claims are left out (nobody to bill: the patient
gets a statement). Parties are fixed test identities (NPI 1234567893 passes
the Luhn check; the payer ids are placeholders): the files exercise a payer's intake, they name nobody real.
Claim lines carry the claim's procedure codes; their charges split the claim charge by the codes' fee-schedule
weights (`core/reference/fees.py`), the last line taking the rounding remainder. Inpatient stays bill one room
and board line (revenue code 0120, units = days), the MS-DRG (HI DR) and the ICD-10-PCS procedures (HI BBR/BBQ).
`validate` runs pyx12 over a file and returns its errors.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.reference.fees import MEDICARE_FEES

PROFESSIONAL_VERSION, INSTITUTIONAL_VERSION = "005010X222A1", "005010X223A2"
FILING_CODE = {"medicare": ("MB", "MA"), "medicaid": ("MC", "MC"), "commercial": ("CI", "CI")}
PAYER_NAME = {"medicare": "MEDICARE", "medicaid": "MEDICAID", "commercial": "COMMERCIAL PLAN"}
PLACE_OF_SERVICE = "11"  # office
FACILITY_TYPE = {"outpatient": "13", "inpatient": "11"}  # hospital outpatient / inpatient, frequency 1
ED_REVENUE, CLINIC_REVENUE, ROOM_REVENUE = "0450", "0510", "0120"
NPI, TAX_ID = "1234567893", "123456789"
_SAFE = re.compile(r"[^A-Z0-9 ]")


def _seg(*elements) -> str:
    return "*".join("" if e is None else str(e) for e in elements).rstrip("*") + "~"


def _money(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def _line_charges(codes: list[str], total: float) -> list[float]:
    weights = [max(MEDICARE_FEES.get(c, (1.0, None))[0], 1.0) for c in codes]
    shares = [round(total * w / sum(weights), 2) for w in weights]
    shares[-1] = round(total - sum(shares[:-1]), 2)
    return shares


def _envelope(kind: str, control: int, created: date) -> tuple[list[str], list[str]]:
    version = PROFESSIONAL_VERSION if kind == "P" else INSTITUTIONAL_VERSION
    ymd, hm = created.strftime("%y%m%d"), "1200"
    head = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'SYNTHEHR':15}*ZZ*{'PAYERTEST':15}*{ymd}*{hm}*^*00501*{control:09d}*0*T*:~",
        _seg("GS", "HC", "SYNTHEHR", "PAYERTEST", created.strftime("%Y%m%d"), hm, control, "X", version),
    ]
    tail = [_seg("GE", 1, control), _seg("IEA", 1, f"{control:09d}")]
    return head, tail


def _header(kind: str, release: str, created: date) -> list[str]:
    version = PROFESSIONAL_VERSION if kind == "P" else INSTITUTIONAL_VERSION
    return [
        _seg("ST", "837", "0001", version),
        _seg("BHT", "0019", "00", _SAFE.sub("", release.upper())[:30] or "RELEASE", created.strftime("%Y%m%d"), "1200", "CH"),
        _seg("NM1", "41", "2", "SYNTH EHR TEST SUBMITTER", "", "", "", "", "46", "SYNTHEHR"),
        _seg("PER", "IC", "TEST DESK", "TE", "5555550100"),
        _seg("NM1", "40", "2", "PAYER TEST INTAKE", "", "", "", "", "46", "PAYERTEST"),
        _seg("HL", 1, "", 20, 1),
        _seg("NM1", "85", "2", "SYNTHETIC TEST PROVIDER", "", "", "", "", "XX", NPI),
        _seg("N3", "100 TEST WAY"), _seg("N4", "TESTVILLE", "NY", "100010001"), _seg("REF", "EI", TAX_ID),
    ]


def _subscriber(row: dict, hl: int, kind: str) -> list[str]:
    payer = row["payer"]
    birth = date(row["service_date"].year - int(row["age"] or 0), 1, 1)
    member = _SAFE.sub("", (row["patient_id"] or "UNKNOWN").upper())[:40]
    return [
        _seg("HL", hl, 1, 22, 0),
        _seg("SBR", "P", "18", "", "", "", "", "", "", FILING_CODE[payer][0 if kind == "P" else 1]),
        _seg("NM1", "IL", "1", "PATIENT", member[-20:], "", "", "", "MI", member),
        _seg("N3", "1 MEMBER ST"), _seg("N4", "TESTVILLE", "NY", "100010001"),
        _seg("DMG", "D8", birth.strftime("%Y%m%d"), row["sex"] if row["sex"] in ("F", "M") else "U"),
        _seg("NM1", "PR", "2", PAYER_NAME[payer], "", "", "", "", "PI", payer.upper()[:10]),
    ]


def _diagnoses(row: dict, kind: str) -> list[str]:
    """837P: one HI with the principal (ABK) then the others (ABF); 837I: principal, the MS-DRG (inpatient) and
    the others each in their own HI, in the implementation guide's order."""
    dx = [row[c] for c in schema.DX_COLUMNS if row[c]]
    if not dx:
        return []
    others = [f"ABF:{code}" for code in dx[1:12]]
    if kind == "P":
        return ["HI*" + "*".join([f"ABK:{dx[0]}", *others]) + "~"]
    drg = [_seg("HI", f"DR:{row['drg']}")] if row["claim_type"] == "inpatient" and row["drg"] else []
    return [_seg("HI", f"ABK:{dx[0]}"), *drg] + (["HI*" + "*".join(others) + "~"] if others else [])


def _claim(row: dict, kind: str) -> list[str]:
    claim_id = _SAFE.sub("", row["claim_id"].upper())[:38]
    start = row["service_date"]
    codes = [row[c] for c in schema.PX_COLUMNS if row[c]]
    charge = round(float(row["charge_amount"] or 0.0), 2)
    if kind == "P":
        cpt = [c for c in codes if len(c) == 5] or ["99499"]
        out = [_seg("CLM", claim_id, _money(charge), "", "", f"{PLACE_OF_SERVICE}:B:1", "Y", "A", "Y", "Y")]
        out += _diagnoses(row, kind)
        for n, (code, amount) in enumerate(zip(cpt, _line_charges(cpt, charge)), 1):
            out += [_seg("LX", n), _seg("SV1", f"HC:{code}", _money(amount), "UN", 1, "", "", 1),
                    _seg("DTP", "472", "D8", start.strftime("%Y%m%d"))]
        return out
    days = int(row["los_days"] or 0)
    end = start + timedelta(days=days)
    inpatient = row["claim_type"] == "inpatient"
    out = [_seg("CLM", claim_id, _money(charge), "", "", f"{FACILITY_TYPE[row['claim_type']]}:A:1", "", "A", "Y", "Y"),
           _seg("DTP", "434", "RD8", f"{start:%Y%m%d}-{end:%Y%m%d}")]
    if inpatient:  # admission date; admission type 1 (emergency) from source 7 (emergency room), discharged home
        out += [_seg("DTP", "435", "D8", start.strftime("%Y%m%d")), _seg("CL1", "1", "7", "01")]
    else:
        out.append(_seg("CL1", "", "", "01"))
    out += _diagnoses(row, kind)
    pcs = [c for c in codes if len(c) == 7]
    if pcs:  # the principal procedure alone (BBR), the others in their own HI (BBQ)
        out.append(_seg("HI", f"BBR:{pcs[0]}:D8:{start:%Y%m%d}"))
        if pcs[1:]:
            out.append("HI*" + "*".join(f"BBQ:{code}:D8:{start:%Y%m%d}" for code in pcs[1:13]) + "~")
    out += [_seg("NM1", "71", "1", "ATTENDING", "TEST", "", "", "", "XX", NPI)]
    if inpatient:
        out += [_seg("LX", 1), _seg("SV2", ROOM_REVENUE, "", _money(charge), "DA", max(days, 1))]
        return out
    hcpcs = [c for c in codes if len(c) == 5] or ["99499"]
    revenue = ED_REVENUE if hcpcs[0].startswith("9928") else CLINIC_REVENUE
    for n, (code, amount) in enumerate(zip(hcpcs, _line_charges(hcpcs, charge)), 1):
        out += [_seg("LX", n), _seg("SV2", revenue, f"HC:{code}", _money(amount), "UN", 1),
                _seg("DTP", "472", "D8", start.strftime("%Y%m%d"))]
    return out


CLAIMS_PER_TRANSACTION = 5_000  # the implementation guides' recommended ceiling of CLM loops per ST-SE
ROWS_PER_SLICE = 20_000  # claims turned into text at a time, so memory stays bounded whatever the release size


def _billable(claims: pl.DataFrame, kind: str) -> pl.DataFrame:
    wanted = ["professional"] if kind == "P" else ["outpatient", "inpatient"]
    return claims.filter(pl.col("claim_type").is_in(wanted) & pl.col("dx_1").is_not_null()
                         & pl.col("service_date").is_not_null() & pl.col("payer").is_in(list(FILING_CODE)))


def iter_837(claims: pl.DataFrame, kind: str, release_id: str, control: int = 1):
    """The 837P (`kind` "P": professional claims) or 837I ("I": outpatient and inpatient) text for `claims`, in
    pieces: one interchange, one ST-SE transaction per `CLAIMS_PER_TRANSACTION` claims."""
    rows = _billable(claims, kind)
    created = rows["service_date"].max() if rows.height else date(2024, 1, 1)
    head, tail = _envelope(kind, control, created)
    yield "\n".join(head) + "\n"
    transactions = 0
    for start in range(0, max(rows.height, 1), CLAIMS_PER_TRANSACTION):
        transactions += 1
        body = _header(kind, release_id, created)
        body[0] = _seg("ST", "837", f"{transactions:04d}", PROFESSIONAL_VERSION if kind == "P" else INSTITUTIONAL_VERSION)
        part = rows.slice(start, CLAIMS_PER_TRANSACTION)
        segments = len(body)
        yield "\n".join(body) + "\n"
        for piece_start in range(0, part.height, ROWS_PER_SLICE):
            piece = []
            for hl, row in enumerate(part.slice(piece_start, ROWS_PER_SLICE).iter_rows(named=True), 2 + piece_start):
                piece += _subscriber(row, hl, kind) + _claim(row, kind)
            segments += len(piece)
            yield "\n".join(piece) + "\n" if piece else ""
        yield _seg("SE", segments + 1, f"{transactions:04d}") + "\n"
    tail[0] = _seg("GE", transactions, control)
    yield "\n".join(tail) + "\n"


def build_837(claims: pl.DataFrame, kind: str, release_id: str, control: int = 1) -> str:
    """The whole 837 text of `iter_837` as one string (small tables, tests)."""
    return "".join(iter_837(claims, kind, release_id, control))


def validate(path: Path) -> list[str]:
    """pyx12's error messages for an X12 file (empty: valid against its implementation guide)."""
    import logging

    import pyx12.params
    import pyx12.x12n_document

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.ERROR)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    logger, handler = logging.getLogger("pyx12"), Collect()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), str(path), None, None)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    return handler.messages or ([] if ok else ["pyx12: the document is not valid"])


def write_837(folder: Path, claims: pl.DataFrame, release_id: str) -> dict[str, int]:
    """Write `837P.x12` and `837I.x12` under `folder`, streamed; returns claims per file."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for control, kind in enumerate(("P", "I"), 1):
        with open(folder / f"837{kind}.x12", "w", encoding="ascii", errors="replace") as handle:
            for text in iter_837(claims, kind, release_id, control):
                handle.write(text)
        counts[f"837{kind}"] = _billable(claims, kind).height
    return counts
