"""Fit one SDV synthesizer on an exported train split and sample from it; needs pandas, torch and SDV, not polars.

    python benchmarks/sdv_fit.py --workdir W --method ctgan --rows 40000 --epochs 300 [--gpu] [--time-limit 480]

`W` comes from `synthesizer_vs_sdv.py --export W` (`train.parquet` + `columns.json`). Writes `W/sample.parquet`
and `W/result.json` (method, fit and sample seconds, device, epochs run, peak RSS), which
`synthesizer_vs_sdv.py --import LABEL=W` scores under the same protocol as the local runs. This split lets CTGAN train at SDV's default 300
epochs on a GPU machine (≈ 3 h on a 2-core CPU) while every score is computed here. `synthesizer_vs_sdv.py` calls
`fit_and_sample` for its own SDV runs too, so both paths fit SDV the same way.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

SDTYPES = {"numerical": "numerical", "categorical": "categorical", "icd10cm": "categorical"}
DATE_COLUMNS = ("service_date",)


def sdv_metadata(column_kinds: dict[str, str]):
    """SDV metadata for our column kinds: codes as categoricals, the service date as a datetime."""
    from sdv.metadata import Metadata

    columns = {name: {"sdtype": SDTYPES[kind]} for name, kind in column_kinds.items()}
    for name in DATE_COLUMNS:
        if name in columns:
            columns[name] = {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
    return Metadata.load_from_dict({"tables": {"claims": {"columns": columns}}})


def prepare_frame(frame):
    """Dates as pandas datetimes, however the frame was read (polars hands over datetime64, a parquet read by
    pandas gives `datetime.date` objects). Strings would work too but make SDV's sampling slower."""
    import pandas as pd

    frame = frame.copy()
    for name in DATE_COLUMNS:
        if name in frame:
            frame[name] = pd.to_datetime(frame[name])
    return frame


class _EpochBudget:
    """Stands in for the `tqdm(range(epochs))` of CTGAN's training loop: yields epochs until `seconds` have passed
    (so a GPU lease that cannot hold all 300 epochs still ends with a trained model and the count it reached)."""

    def __init__(self, seconds: float | None):
        self.seconds, self.epochs_run, self.loop_seconds = seconds, 0, 0.0

    def __call__(self, epochs, disable=True):
        self.planned = len(epochs)
        return self

    def __iter__(self):
        started = time.perf_counter()
        for epoch in range(self.planned):
            self.loop_seconds = time.perf_counter() - started
            if self.seconds is not None and self.loop_seconds > self.seconds:
                print(f"CTGAN: training budget of {self.seconds:.0f}s spent after {epoch} epochs", flush=True)
                return
            if epoch % 10 == 0:
                print(f"CTGAN: epoch {epoch}/{self.planned}, {self.loop_seconds:.1f}s", flush=True)
            yield epoch
            self.epochs_run = epoch + 1
        self.loop_seconds = time.perf_counter() - started

    def set_description(self, _text: str) -> None:
        pass


def fit_and_sample(
    method: str,
    frame,
    column_kinds: dict[str, str],
    rows: int,
    seed: int,
    epochs: int,
    gpu: bool,
    train_seconds: float | None = None,
):
    """(synthetic pandas frame, timings) for SDV's GaussianCopula or CTGAN fitted on `frame`."""
    import numpy as np
    import torch
    from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

    metadata = sdv_metadata(column_kinds)
    budget = _EpochBudget(train_seconds)
    if method == "ctgan":
        import ctgan.synthesizers.ctgan as ctgan_module

        ctgan_module.tqdm = budget  # counts epochs and enforces `train_seconds`; losses and steps are untouched
    np.random.seed(seed)
    torch.manual_seed(seed)
    started = time.perf_counter()
    if method == "ctgan":
        model = CTGANSynthesizer(metadata, epochs=epochs, enable_gpu=gpu, verbose=False)
    else:
        model = GaussianCopulaSynthesizer(metadata)
    model.fit({"claims": frame[list(column_kinds)]})  # SDV 2 takes {table name: DataFrame}
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = model.sample(num_rows=rows)
    if isinstance(synthetic, dict):
        synthetic = synthetic["claims"]
    timings = {"fit_s": fit_seconds, "sample_s": time.perf_counter() - started}
    if method == "ctgan":
        timings.update(epochs_run=budget.epochs_run, train_loop_s=budget.loop_seconds)
    return synthetic, timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--method", choices=("ctgan", "gaussian_copula"), default="ctgan")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--gpu", action="store_true", help="train CTGAN on CUDA (fails when torch sees no GPU)")
    parser.add_argument("--train-seconds", type=float, help="stop CTGAN's epoch loop after this long (default: never)")
    args = parser.parse_args()
    import pandas as pd
    import torch

    if args.gpu and not torch.cuda.is_available():
        print("--gpu given but torch sees no CUDA device", file=sys.stderr)
        return 2
    column_kinds = json.loads((args.workdir / "columns.json").read_text())
    frame = prepare_frame(pd.read_parquet(args.workdir / "train.parquet"))
    synthetic, timings = fit_and_sample(
        args.method, frame, column_kinds, args.rows, args.seed, args.epochs, args.gpu, args.train_seconds
    )
    synthetic.to_parquet(args.workdir / "sample.parquet")
    device = torch.cuda.get_device_name(0) if args.gpu else f"CPU ({torch.get_num_threads()} threads)"
    result = {
        "method": args.method,
        **timings,
        "epochs": args.epochs if args.method == "ctgan" else None,
        "device": device,
        "train_rows": len(frame),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    (args.workdir / "result.json").write_text(json.dumps(result, indent=1))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
