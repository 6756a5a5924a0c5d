"""Payer exports of a whole release: seconds per step and peak memory, X12 837P/837I and HL7 ADT/DFT.

    python benchmarks/payer_exports.py                    # 5,000 claims (the demo) and 100,000
    python benchmarks/payer_exports.py --claims 20000

Each size runs in a fresh process on reference claims, so its peak RSS is its own; "table MiB" is the RSS once
the claims exist, before the export, so the difference is what exporting adds. Writing is streamed (20,000 claims
at a time); pyx12 validates both X12 files whole, hl7apy an evenly spaced sample of each HL7 file
(`payer_files.HL7_VALIDATE_MESSAGES`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n_claims: int, seed: int) -> dict:
    from synth_ehr_assets.core.export import hl7, x12
    from synth_ehr_assets.core.export.payer_files import HL7_VALIDATE_MESSAGES, hl7_messages, sample_positions
    from synth_ehr_assets.core.reference import generate_reference_claims

    claims = generate_reference_claims(n_claims, seed=seed, release_id="bench")
    table_mib, out, folder = _rss_mib(), {"claims": claims.height}, Path(tempfile.mkdtemp())
    started = time.perf_counter()
    counts = x12.write_837(folder / "x12", claims, "bench")
    out["x12_write_s"] = time.perf_counter() - started
    started = time.perf_counter()
    counts |= hl7.write_hl7(folder / "hl7", claims)
    out["hl7_write_s"] = time.perf_counter() - started
    started = time.perf_counter()
    out["x12_errors"] = sum(len(x12.validate(folder / "x12" / f"{k}.x12")) for k in ("837P", "837I"))
    out["pyx12_s"] = time.perf_counter() - started
    started, errors, checked = time.perf_counter(), 0, 0
    for name in ("adt", "dft"):
        keep = set(sample_positions(counts[f"{name}_messages"], HL7_VALIDATE_MESSAGES))
        for i, message in enumerate(hl7_messages(folder / "hl7" / f"{name}.hl7")):
            if i in keep:
                errors, checked = errors + len(hl7.validate(message)), checked + 1
    out |= {"hl7apy_s": time.perf_counter() - started, "hl7_errors": errors, "hl7_checked": checked, **counts,
            "mib_on_disk": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20,
            "table_mib": table_mib, "peak_rss_mib": _rss_mib()}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, nargs="+", default=[5_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(measure(args.claims[0], args.seed)))
        return 0
    print(f"payer exports on {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    print(f"{'claims':>8} {'837P':>7} {'837I':>6} {'DFT':>7} {'ADT':>6} {'x12 s':>6} {'hl7 s':>6} {'pyx12 s':>8} "
          f"{'hl7apy s':>8} {'errors':>6} {'on disk MiB':>11} {'table MiB':>9} {'peak MiB':>8}")
    failed = False
    for n_claims in args.claims:
        command = [sys.executable, __file__, "--single", "--claims", str(n_claims), "--seed", str(args.seed)]
        r = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        failed |= bool(r["x12_errors"] or r["hl7_errors"])
        print(f"{r['claims']:>8,} {r['837P']:>7,} {r['837I']:>6,} {r['dft_messages']:>7,} {r['adt_messages']:>6,} "
              f"{r['x12_write_s']:>6.1f} {r['hl7_write_s']:>6.1f} {r['pyx12_s']:>8.1f} {r['hl7apy_s']:>8.1f} "
              f"{r['x12_errors'] + r['hl7_errors']:>6} {r['mib_on_disk']:>11.1f} {r['table_mib']:>9.0f} "
              f"{r['peak_rss_mib']:>8.0f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
