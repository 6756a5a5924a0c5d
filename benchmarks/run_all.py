"""`make bench`: run every benchmark in this folder, one after another, and print their tables."""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Order: cheap first, so a slow or failing late benchmark does not hide the others' figures.
ORDER = ["reference_population.py", "embeddings.py", "narratives.py", "synthesizer_vs_sdv.py"]
# Modules the benchmarks import or run on another machine (they need arguments), not benchmarks of their own.
HELPERS = {"sdv_fit.py", "tabular_argn.py", "bench_scores.py"}


def main() -> int:
    scripts = [HERE / name for name in ORDER if (HERE / name).exists()]
    scripts += sorted(p for p in HERE.glob("*.py") if p.name not in {*ORDER, *HELPERS, Path(__file__).name})
    failures = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"--- {script.name}: exit {code} after {time.perf_counter() - started:.0f}s", flush=True)
        if code:
            failures.append(script.name)
    if failures:
        print(f"\nfailed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
