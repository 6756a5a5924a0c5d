"""HL7 v2.5 messages from a claims table, defined with hl7apy and validated with it.

ADT^A01 (admit) and ADT^A03 (discharge) per inpatient stay; DFT^P03 (post detail financial transactions) per
claim, one FT1 per procedure line with the claim charge split as in the X12 export, diagnoses as DG1. Sending
and receiving applications are fixed test names; patient names are placeholders (the rows are synthetic).

`adt` / `dft` build each message as an hl7apy object (~8 ms each); `adt_er7` / `dft_er7` write the very same
ER7 text from the row directly (~50x faster; a test holds them equal), which is what `write_hl7` streams so that
a release of any size is exported whole.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import re

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.export.x12 import _line_charges

VERSION = "2.5"
PATIENT_CLASS = {"inpatient": "I", "outpatient": "O", "professional": "O"}
ROWS_PER_SLICE = 20_000
_DELIMITERS = re.compile(r"[|^~\\&\r\n]")


def _safe(value) -> str:
    """An identifier with HL7's delimiters replaced, so it stays one field component."""
    return _DELIMITERS.sub("_", str(value))


def _msh(message, kind: str, trigger: str, structure: str, control: str, when: str) -> None:
    msh = message.msh
    msh.msh_3 = "SYNTHEHR"
    msh.msh_4 = "SYNTHEHR"
    msh.msh_5 = "PAYERTEST"
    msh.msh_6 = "PAYERTEST"
    msh.msh_7 = when
    msh.msh_9 = f"{kind}^{trigger}^{structure}"
    msh.msh_10 = _safe(control)
    msh.msh_11 = "T"
    msh.msh_12 = VERSION


def _pid(message, row: dict) -> None:
    birth_year = row["service_date"].year - int(row["age"] or 0)
    message.pid.pid_1 = "1"
    message.pid.pid_3 = f"{_safe(row['patient_id'])}^^^SYNTHEHR^MR"
    message.pid.pid_5 = "PATIENT^SYNTHETIC"
    message.pid.pid_7 = f"{birth_year}0101"
    message.pid.pid_8 = row["sex"] if row["sex"] in ("F", "M") else "U"


def _pv1(message, row: dict, discharge: bool) -> None:
    start = row["service_date"]
    message.pv1.pv1_1 = "1"
    message.pv1.pv1_2 = PATIENT_CLASS.get(row["claim_type"], "O")
    message.pv1.pv1_19 = _safe(row["claim_id"])
    message.pv1.pv1_44 = f"{start:%Y%m%d}"
    if discharge:
        message.pv1.pv1_45 = f"{start + timedelta(days=int(row['los_days'] or 0)):%Y%m%d}"


def _dg1(message, row: dict) -> None:
    for n, code in enumerate((row[c] for c in schema.DX_COLUMNS if row[c]), 1):
        dg1 = message.add_segment("DG1")
        dg1.dg1_1 = str(n)
        dg1.dg1_3 = f"{code}^^I10"
        dg1.dg1_6 = "A" if n == 1 else "W"


def adt(row: dict, trigger: str):
    """ADT^A01 (admit) or ADT^A03 (discharge) for one inpatient claim."""
    from hl7apy.core import Message

    structure = "ADT_A01" if trigger == "A01" else "ADT_A03"
    message = Message(structure, version=VERSION)
    when = row["service_date"] + timedelta(days=int(row["los_days"] or 0) if trigger == "A03" else 0)
    _msh(message, "ADT", trigger, structure, f"{row['claim_id']}-{trigger}", f"{when:%Y%m%d}")
    message.evn.evn_2 = f"{when:%Y%m%d}"
    _pid(message, row)
    _pv1(message, row, trigger == "A03")
    return message


def dft(row: dict):
    """DFT^P03 with one FT1 per procedure line of the claim."""
    from hl7apy.core import Message

    message = Message("DFT_P03", version=VERSION)
    _msh(message, "DFT", "P03", "DFT_P03", f"{row['claim_id']}-P03", f"{row['service_date']:%Y%m%d}")
    message.evn.evn_2 = f"{row['service_date']:%Y%m%d}"
    _pid(message, row)
    _pv1(message, row, row["claim_type"] == "inpatient")
    codes = [row[c] for c in schema.PX_COLUMNS if row[c]] or ["99499"]
    for n, (code, amount) in enumerate(zip(codes, _line_charges(codes, float(row["charge_amount"] or 0.0))), 1):
        financial = message.add_group("DFT_P03_FINANCIAL")
        ft1 = financial.ft1
        ft1.ft1_1 = str(n)
        ft1.ft1_4 = f"{row['service_date']:%Y%m%d}"
        ft1.ft1_6 = "CG"
        ft1.ft1_7 = f"{code}^^{'I10P' if len(code) == 7 else 'C4'}"
        ft1.ft1_10 = "1"
        ft1.ft1_11 = f"{amount:.2f}"
        ft1.ft1_25 = f"{code}^^{'I10P' if len(code) == 7 else 'C4'}"
    _dg1(message, row)
    return message


def validate(message) -> list[str]:
    """hl7apy's strict validation errors for a message or its ER7 text (empty: valid)."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.exceptions import HL7apyException
    from hl7apy.parser import parse_message

    text = message if isinstance(message, str) else message.to_er7()
    try:
        parse_message(text, validation_level=VALIDATION_LEVEL.STRICT).validate()
    except HL7apyException as error:
        return [str(error)]
    return []


def _segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name] + [fields.get(i, "") for i in range(1, max(fields) + 1)])


def _head_er7(row: dict, kind: str, trigger: str, structure: str, when: str, discharge: bool) -> list[str]:
    start, sex = row["service_date"], row["sex"] if row["sex"] in ("F", "M") else "U"
    pv1 = {1: "1", 2: PATIENT_CLASS.get(row["claim_type"], "O"), 19: _safe(row["claim_id"]), 44: f"{start:%Y%m%d}"}
    if discharge:
        pv1[45] = f"{start + timedelta(days=int(row['los_days'] or 0)):%Y%m%d}"
    return [
        f"MSH|^~\\&|SYNTHEHR|SYNTHEHR|PAYERTEST|PAYERTEST|{when}||{kind}^{trigger}^{structure}|"
        f"{_safe(row['claim_id'])}-{trigger}|T|{VERSION}",
        f"EVN||{when}",
        f"PID|1||{_safe(row['patient_id'])}^^^SYNTHEHR^MR||PATIENT^SYNTHETIC||{start.year - int(row['age'] or 0)}0101|{sex}",
        _segment("PV1", pv1),
    ]


def adt_er7(row: dict, trigger: str) -> str:
    """The ER7 text of `adt(row, trigger)`, written directly."""
    when = row["service_date"] + timedelta(days=int(row["los_days"] or 0) if trigger == "A03" else 0)
    structure = "ADT_A01" if trigger == "A01" else "ADT_A03"
    return "\r".join(_head_er7(row, "ADT", trigger, structure, f"{when:%Y%m%d}", trigger == "A03"))


def dft_er7(row: dict) -> str:
    """The ER7 text of `dft(row)`, written directly."""
    day = f"{row['service_date']:%Y%m%d}"
    out = _head_er7(row, "DFT", "P03", "DFT_P03", day, row["claim_type"] == "inpatient")
    codes = [row[c] for c in schema.PX_COLUMNS if row[c]] or ["99499"]
    for n, (code, amount) in enumerate(zip(codes, _line_charges(codes, float(row["charge_amount"] or 0.0))), 1):
        coded = f"{code}^^{'I10P' if len(code) == 7 else 'C4'}"
        out.append(_segment("FT1", {1: str(n), 4: day, 6: "CG", 7: coded, 10: "1", 11: f"{amount:.2f}", 25: coded}))
    for n, code in enumerate((row[c] for c in schema.DX_COLUMNS if row[c]), 1):
        out.append(_segment("DG1", {1: str(n), 3: f"{code}^^I10", 6: "A" if n == 1 else "W"}))
    return "\r".join(out)


def write_hl7(folder: Path, claims: pl.DataFrame) -> dict[str, int]:
    """`adt.hl7` (A01 + A03 per stay) and `dft.hl7` (P03 per claim), one ER7 message per line (segments
    CR-separated, messages CRLF-separated), streamed slice by slice."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = claims.filter(pl.col("service_date").is_not_null() & pl.col("claim_id").is_not_null())
    counts = {"adt_messages": 0, "dft_messages": 0}
    with open(folder / "adt.hl7", "w", encoding="utf-8", newline="") as adt_file, \
            open(folder / "dft.hl7", "w", encoding="utf-8", newline="") as dft_file:
        for piece in rows.iter_slices(ROWS_PER_SLICE):
            for row in piece.iter_rows(named=True):
                if row["claim_type"] == "inpatient":
                    adt_file.write(adt_er7(row, "A01") + "\r\n" + adt_er7(row, "A03") + "\r\n")
                    counts["adt_messages"] += 2
                dft_file.write(dft_er7(row) + "\r\n")
                counts["dft_messages"] += 1
    return counts
