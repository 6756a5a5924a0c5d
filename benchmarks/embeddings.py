"""Code-description embedding speed and nearest-code lookup speed.

    python benchmarks/embeddings.py                          # 2,000 descriptions; 1,000,000 queries per lookup row
    python benchmarks/embeddings.py --queries 100000 --device cpu

Embedding: all-MiniLM-L6-v2 on the CPU (as the pipeline runs it), a seeded sample of ICD-10-CM descriptions,
model load timed apart. Lookup: `NearestCodeIndex` (exact, chunked matmul) for random unit queries against
5,000 codes and against all 74,736 billable codes, in the full 384 dimensions and in the 16 PCA dimensions the
synthesizer decodes to by default (`synthesizer.code_dims`). Lookup cost does not depend on the vector values,
so the code vectors are random unit vectors carrying real code names. Queries are either scattered (random
normal) or near codes (a code's vector plus noise, as decoded vectors are); in 16 dimensions the index may
answer the latter with its k-d tree (`strategy="auto"`).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def embedding_speed(descriptions: list[str]) -> dict:
    from synth_ehr_assets.core.embeddings import embed_texts, load_model

    started = time.perf_counter()
    load_model()
    load_s = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    embed_texts(descriptions)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    n = len(descriptions)
    return {"texts": n, "load_s": load_s, "seconds": seconds, "per_s": n / seconds, "per_cpu_s": n / cpu_s}


def lookup_speed(
    codes: list[str], dim: int, n_queries: int, device: str | None, rng: np.random.Generator, near: bool = False
) -> dict:
    from synth_ehr_assets.core.vector_store import NearestCodeIndex

    vectors = rng.normal(size=(len(codes), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    if near:  # like decoded vectors: a code's vector plus noise
        queries = vectors[rng.integers(0, len(codes), n_queries)]
        queries += rng.normal(scale=0.1 / np.sqrt(dim), size=queries.shape).astype(np.float32)
    else:
        queries = rng.normal(size=(n_queries, dim)).astype(np.float32)
    index = NearestCodeIndex(codes, vectors, device=device)
    index.nearest(queries[:1_000])  # warm-up: moves the codes to the device, first-call allocations
    started = time.perf_counter()
    nearest = index.nearest(queries)
    seconds = time.perf_counter() - started
    assert nearest.shape == (n_queries,)
    return {"codes": len(codes), "dim": dim, "queries": n_queries, "seconds": seconds, "per_s": n_queries / seconds,
            "kind": "near codes" if near else "scattered"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2_000, help="descriptions to embed")
    parser.add_argument("--queries", type=int, default=1_000_000, help="query vectors per lookup row")
    parser.add_argument("--device", default=None, help="torch device for lookups (default: cuda if present, else cpu)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from synth_ehr_assets.core.codes import icd10cm_catalog

    rng = np.random.default_rng(args.seed)
    catalog = icd10cm_catalog()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"cpu threads: {torch.get_num_threads()}, lookup device: {device}")
    sample = catalog.sample(n=min(args.texts, catalog.height), seed=args.seed)
    embedded = embedding_speed(sample["description"].to_list())
    print(f"\nembedding ({embedded['texts']:,} ICD-10-CM descriptions, model load {embedded['load_s']:.1f}s)")
    print(f"  {embedded['seconds']:8.1f} s   {embedded['per_s']:10,.0f} sentences/s")
    # on a shared machine wall time understates the speed; CPU time shows what the work itself costs
    print(f"  {'':8}     {embedded['per_cpu_s']:10,.0f} sentences per CPU-second")

    all_codes = catalog["code"].to_list()
    subset = rng.choice(len(all_codes), size=min(5_000, len(all_codes)), replace=False)
    print(f"\nnearest-code lookup, exact cosine ({args.queries:,} random queries per row)")
    print(f"  {'codes':>8} {'dim':>5} {'queries':>11} {'seconds':>9} {'lookups/s':>12}")
    for codes in ([all_codes[i] for i in subset], all_codes):
        for dim, near in ((384, False), (16, False), (16, True)):
            row = lookup_speed(codes, dim, args.queries, device, rng, near=near)
            print(
                f"  {row['codes']:>8,} {row['dim']:>5} {row['kind']:>11} {row['seconds']:>9.1f} {row['per_s']:>12,.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
