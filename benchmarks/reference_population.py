"""Reference population speed and realism: claims per minute, peak memory, rule violations, distributions.

    python benchmarks/reference_population.py                      # 100,000 and 1,000,000 claims
    python benchmarks/reference_population.py --claims 250000 --seed 3
    python benchmarks/reference_population.py --realism-claims 0   # speed only

Each size runs in a fresh process, so its peak RSS is its own. The one-off validation of the design tables
(loading the FY2026 code set, the holiday calendar and the lookup tables) is timed separately and left out of claims per minute. The goal is >= 1,000,000
claims per minute (issue 11). Then, on `--realism-claims` claims (default 100,000), it prints the claims
breaking each claims-reviewer rule of `core/reference/realism.py` by defect kind (target 0 each) and the
weekday, season and cost-sharing distributions; the exit status is 1 if a goal is missed or a rule is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

GOAL_PER_MINUTE = 1_000_000


def measure(n_claims: int, seed: int) -> dict:
    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.reference.tables import reference_tables

    started = time.perf_counter()
    reference_tables()
    generate_reference_claims(1, seed=seed, release_id="warm-up")  # one-off: holiday calendar, lookup tables
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
    parser.add_argument("--realism-claims", type=int, default=100_000, help="claims for the realism report (0: skip)")
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
    broken = realism(args.realism_claims, args.seed) if args.realism_claims else 0
    return 1 if slow or broken else 0


def realism(n_claims: int, seed: int) -> int:
    """Print rule violations per defect kind and the distributions; returns the total violation count."""
    import polars as pl

    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.reference.realism import distributions, violations

    claims = generate_reference_claims(n_claims, seed=seed, release_id="bench")
    found = violations(claims)
    print(f"\nrule violations on {claims.height:,} claims (target 0 each)")
    for kind, rules in found.items():
        print(f"  {kind:<22} {sum(rules.values()):>6}   " + ", ".join(f"{rule}={count}" for rule, count in rules.items()))
    d = distributions(claims)
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    print("\nweekday share by claim type")
    for (kind,), part in d["weekday"].group_by(["claim_type"], maintain_order=True):
        shares = dict(zip(part["weekday"].to_list(), part["share"].to_list()))
        print(f"  {kind:<13} " + " ".join(f"{names[w - 1]} {shares.get(w, 0):5.1%}" for w in range(1, 8)))
    print("\nseasonal principal diagnoses by month (J11.1 influenza, J21.0 RSV bronchiolitis, Z23 vaccination)")
    for (code,), part in d["season"].group_by(["dx_1"], maintain_order=True):
        counts = dict(zip(part["month"].to_list(), part["len"].to_list()))
        print(f"  {code:<6} " + " ".join(f"{counts.get(m, 0):>5}" for m in range(1, 13)))
    print("\ncost sharing (patient share of allowed; share of claims with $0 patient amount)")
    with pl.Config(tbl_rows=20, tbl_hide_dataframe_shape=True, tbl_formatting="ASCII_MARKDOWN"):
        print(d["cost_sharing"].select("payer", "claim_type", "claims", pl.col("patient_share").round(3),
                                       pl.col("zero_patient_share").round(3)))
    return sum(sum(rules.values()) for rules in found.values())


if __name__ == "__main__":
    sys.exit(main())
