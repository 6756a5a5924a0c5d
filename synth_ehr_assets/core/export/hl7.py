"""HL7 v2.5 messages from a claims table, built and validated with hl7apy.

ADT^A01 (admit) and ADT^A03 (discharge) per inpatient stay; DFT^P03 (post detail financial transactions) per
claim, one FT1 per procedure line with the claim charge split as in the X12 export, diagnoses as DG1. Sending
and receiving applications are fixed test names; patient names are placeholders (the rows are synthetic).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl

from synth_ehr_assets.core import schema
from synth_ehr_assets.core.export.x12 import _line_charges

VERSION = "2.5"
PATIENT_CLASS = {"inpatient": "I", "outpatient": "O", "professional": "O"}


def _msh(message, kind: str, trigger: str, structure: str, control: str, when: str) -> None:
    msh = message.msh
    msh.msh_3 = "SYNTHEHR"
    msh.msh_4 = "SYNTHEHR"
    msh.msh_5 = "PAYERTEST"
    msh.msh_6 = "PAYERTEST"
    msh.msh_7 = when
    msh.msh_9 = f"{kind}^{trigger}^{structure}"
    msh.msh_10 = control
    msh.msh_11 = "T"
    msh.msh_12 = VERSION


def _pid(message, row: dict) -> None:
    birth_year = row["service_date"].year - int(row["age"] or 0)
    message.pid.pid_1 = "1"
    message.pid.pid_3 = f"{row['patient_id']}^^^SYNTHEHR^MR"
    message.pid.pid_5 = "PATIENT^SYNTHETIC"
    message.pid.pid_7 = f"{birth_year}0101"
    message.pid.pid_8 = row["sex"] if row["sex"] in ("F", "M") else "U"


def _pv1(message, row: dict, discharge: bool) -> None:
    start = row["service_date"]
    message.pv1.pv1_1 = "1"
    message.pv1.pv1_2 = PATIENT_CLASS.get(row["claim_type"], "O")
    message.pv1.pv1_19 = row["claim_id"]
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


def write_hl7(folder: Path, claims: pl.DataFrame) -> dict[str, int]:
    """`adt.hl7` (A01 + A03 per stay) and `dft.hl7` (P03 per claim), one ER7 message per block, CR-separated."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = claims.filter(pl.col("service_date").is_not_null() & pl.col("claim_id").is_not_null())
    stays = [r for r in rows.filter(pl.col("claim_type") == "inpatient").iter_rows(named=True)]
    adt_text = [adt(r, t).to_er7() for r in stays for t in ("A01", "A03")]
    dft_text = [dft(r).to_er7() for r in rows.iter_rows(named=True)]
    (folder / "adt.hl7").write_text("\r\n".join(adt_text) + ("\r\n" if adt_text else ""), encoding="utf-8")
    (folder / "dft.hl7").write_text("\r\n".join(dft_text) + ("\r\n" if dft_text else ""), encoding="utf-8")
    return {"adt_messages": len(adt_text), "dft_messages": len(dft_text)}
