"""Time `synthesize_claims` (sampling, code decoding, edits with resampling, privacy filters) at a large size,
round by round, from a latent_gan fitted on reference claims split by patient. The fitted model is kept in
`--model-dir`, so a second run times synthesis alone.

    python benchmarks/synthesis_speed.py --claims 50000 --rows 1000000 --model-dir /tmp/speed_model
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> int:
    import polars as pl

    from synthesizer_vs_sdv import code_vector_index

    from synth_ehr_assets.core.reference import generate_reference_claims
    from synth_ehr_assets.core.spec import parse_spec
    from synth_ehr_assets.core.synth.claims import (
        CONDITION_COLUMN, MODEL_COLUMN_KINDS, model_frame, release_blocks, synthesize_claims,
    )
    from synth_ehr_assets.core.synth.registry import load_synthesizer
    from synth_ehr_assets.core.synth.synthesizer import TableSynthesizer, split_rows

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=50_000, help="reference claims to fit on (80/20 by patient)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic claims to release")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/synth_ehr_speed_model"))
    args = parser.parse_args()

    claims = generate_reference_claims(args.claims, seed=args.seed, release_id="bench").sort("claim_id")
    train_rows, holdout_rows = split_rows(claims.height, 0.2, args.seed, claims["patient_id"])
    train, holdout = claims[train_rows], claims[holdout_rows]
    index = code_vector_index(pl.concat([train, holdout]))
    if (args.model_dir / "synthesizer.json").exists():
        model = load_synthesizer(args.model_dir, index.vector_of)
        print(f"loaded the model fitted before from {args.model_dir}")
    else:
        started = time.perf_counter()
        spec = parse_spec({"rows": 1000, "seed": args.seed}, "bench")
        model = TableSynthesizer(MODEL_COLUMN_KINDS, spec.synthesizer, args.seed, index.vector_of, CONDITION_COLUMN)
        model.fit(model_frame(train), model_frame(holdout))
        model.save(args.model_dir)
        print(f"fitted on {train.height:,} train claims in {time.perf_counter() - started:.1f}s")
    sample = model.sample
    rounds = []

    def timed(n, **kwargs):
        started = time.perf_counter()
        out = sample(n, **kwargs)
        rounds.append((n, out.height, time.perf_counter() - started))
        return out

    model.sample = timed
    spec = parse_spec({"rows": args.rows, "seed": args.seed + 1}, "bench")
    started = time.perf_counter()
    released, report = synthesize_claims(model, args.rows, code_index=index, train_claims=train, **release_blocks(spec))
    seconds = time.perf_counter() - started
    for number, (asked, decoded, spent) in enumerate(rounds, 1):
        print(f"  round {number}: generated {asked:,}, decoded {decoded:,} in {spent:.1f}s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{released.height:,} claims released in {seconds:.1f}s ({released.height / seconds:,.0f}/s; goal 1,000,000 "
          f"in ≤ 120 s); {report['rounds']} rounds, {report['sampled_rows']:,} rows decoded, rejection rate "
          f"{report['rejection_rate']:.3f}; peak RSS {peak:,.0f} MiB")
    inpatient = (released["claim_type"] == "inpatient").mean()
    print(f"inpatient share {inpatient:.2%} (train {(train['claim_type'] == 'inpatient').mean():.2%}); "
          f"{report['inpatient_rows_filled_in_cells']:,} of {report['inpatient_rows_planned']:,} planned inpatient rows "
          f"filled while the cells held, {report['inpatient_rows_moved_between_principals']:,} moved between principals")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
