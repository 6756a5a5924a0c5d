"""Fit MOSTLY AI's TabularARGN (`mostlyai-engine`) on an exported train split and sample from it.

    python benchmarks/tabular_argn.py --workdir W --rows 40000 [--device cuda] [--max-minutes 10]

`W` comes from `synthesizer_vs_sdv.py --export W` (`train.parquet` + `columns.json`). Writes `W/sample.parquet`
and `W/result.json`, which `synthesizer_vs_sdv.py --import LABEL=W` scores under the same protocol as the local
runs; `synthesizer_vs_sdv.py --methods tabular_argn` calls `fit_and_sample` itself. The engine runs its own
workflow on a workspace folder (split → analyze → encode → train → generate) with its defaults: the
`MOSTLY_AI/Medium` model, its own 80/10 split of the train rows for early stopping, at most 100 epochs,
rare-value protection (categories too rare to release come back as the `_RARE_` placeholder), no rules of
ours. The columns are the same as SDV's: codes as categoricals, the service date as a datetime.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path



def fit_and_sample(
    frame,
    rows: int,
    seed: int,
    device: str = "cpu",
    max_minutes: float | None = None,
    workspace: Path | None = None,
    differential_privacy: dict | None = None,
):
    """(synthetic pandas frame, timings) for TabularARGN fitted on the pandas `frame` with the engine's defaults;
    `max_minutes` caps training (the engine's own default is 14,400 minutes, i.e. early stopping decides);
    `differential_privacy` (the engine's `DifferentialPrivacyConfig` fields) trains and analyses with its DP."""
    import pandas as pd
    from mostlyai import engine

    from sdv_fit import prepare_frame

    frame = prepare_frame(frame)
    with tempfile.TemporaryDirectory() as scratch:
        ws = Path(workspace or scratch) / "argn-ws"
        engine.init_logging()
        engine.set_random_state(seed)
        started = time.perf_counter()
        engine.split(tgt_data=frame, workspace_dir=ws)
        engine.analyze(workspace_dir=ws, differential_privacy=differential_privacy)
        engine.encode(workspace_dir=ws)
        train_started = time.perf_counter()
        engine.train(workspace_dir=ws, device=device, differential_privacy=differential_privacy,
                     **({"max_training_time": max_minutes} if max_minutes else {}))
        fit_seconds = time.perf_counter() - started
        train_seconds = time.perf_counter() - train_started
        started = time.perf_counter()
        engine.generate(workspace_dir=ws, sample_size=rows, device=device)
        synthetic = pd.read_parquet(ws / "SyntheticData")
        sample_seconds = time.perf_counter() - started
        progress = _training_progress(ws)
    return synthetic, {"fit_s": fit_seconds, "train_loop_s": train_seconds, "sample_s": sample_seconds, **progress}


def _training_progress(ws: Path) -> dict:
    """Epochs run and the best validation loss, from the engine's training log."""
    import pandas as pd

    log = pd.read_csv(ws / "ModelStore" / "model-data" / "progress-messages.csv")
    return {"epochs_run": float(log["epoch"].max()), "best_val_loss": float(log["val_loss"].min())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--max-minutes", type=float, help="cap the engine's training time (default: its own)")
    args = parser.parse_args()
    import pandas as pd
    import torch

    column_kinds = json.loads((args.workdir / "columns.json").read_text())
    frame = pd.read_parquet(args.workdir / "train.parquet")[list(column_kinds)]
    synthetic, timings = fit_and_sample(frame, args.rows, args.seed, args.device, args.max_minutes)
    synthetic.to_parquet(args.workdir / "sample.parquet")
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    result = {
        "method": "tabular_argn",
        **timings,
        "device": device,
        "train_rows": len(frame),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    (args.workdir / "result.json").write_text(json.dumps(result, indent=1))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
