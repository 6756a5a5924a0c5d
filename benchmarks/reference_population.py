"""Reference population speed: claims per minute and peak memory for each table size.

    python benchmarks/reference_population.py                      # 100,000 and 1,000,000 claims
    python benchmarks/reference_population.py --claims 250000 --seed 3

Each size runs in a fresh process, so its peak RSS is its own. The one-off validation of the design tables
(loading the FY2026 code set) is timed separately and left out of claims per minute. The goal is >= 100,000
claims per minute on a 2-core machine (DESIGN §5).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

GOAL_PER_MINUTE = 100_000


def measure(n_claims: int, seed: int) -> dict:
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.reference.tables import reference_tables

    started = time.perf_counter()
    reference_tables()
    validation_s = time.perf_counter() - started
    started = time.perf_counter()
    claims = generate_reference_claims(n_claims, seed=seed, release_id="bench")
    seconds = time.perf_counter() - started
    return {
        "claims": claims.height,
        "patients": claims["patient_id"].n_unique(),
        "seconds": seconds,
        "validation_s": validation_s,
        "claims_per_minute": claims.height / seconds * 60,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, nargs="+", default=[100_000, 1_000_000], help="table sizes to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(measure(args.claims[0], args.seed)))
        return 0
    print(f"reference population benchmark on {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    header = f"{'claims':>10} {'patients':>9} {'seconds':>8} {'claims/min':>12} {'peak RSS MiB':>13} {'validation s':>13}"
    print(header)
    slow = False
    for n_claims in args.claims:
        command = [sys.executable, __file__, "--single", "--claims", str(n_claims), "--seed", str(args.seed)]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        slow |= result["claims_per_minute"] < GOAL_PER_MINUTE
        print(
            f"{result['claims']:>10,} {result['patients']:>9,} {result['seconds']:>8.2f} "
            f"{result['claims_per_minute']:>12,.0f} {result['peak_rss_mib']:>13.0f} {result['validation_s']:>13.1f}"
        )
    print(f"goal: >= {GOAL_PER_MINUTE:,} claims/minute: {'MISSED' if slow else 'met'}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
