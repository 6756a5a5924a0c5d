"""The next claim's principal category, as the `JourneyModel` draws it (issue 15): a smoothed transition row from the
previous claim's category mixed, at the model's `revisit` share, with the patient's earlier categories weighted by
how often each recurs."""

from __future__ import annotations

import numpy as np


def transition_tables(model, categories: list[str]):
    """Arrays over `categories`: marginal, recurrence, and each supported transition row as (indices, counts)."""
    index = {c: i for i, c in enumerate(categories)}
    marginal = np.array([model.marginal.get(c, 0.0) for c in categories]) + 1e-12
    recurrence = np.array([model.recurrence.get(c, model.recurrence_all) for c in categories])
    rows = {}
    for a, row in model.transitions.items():
        if a in index:
            pairs = [(index[b], n) for b, n in row.items() if b in index]
            rows[index[a]] = (np.array([p for p, _ in pairs], dtype=np.int64),
                              np.array([n for _, n in pairs], dtype=np.float64), float(sum(row.values())))
    return marginal / marginal.sum(), recurrence, rows

def next_weights(model, tables, previous: int, history: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Unnormalised weights over the categories of `tables`, zero where `available` is False."""
    marginal, recurrence, rows = tables
    idx, counts, total = rows.get(previous, (np.zeros(0, dtype=np.int64), np.zeros(0), 0.0))
    transition = model.smoothing * marginal
    transition[idx] += counts
    weights = (1 - model.revisit) * transition / (total + model.smoothing)
    back = history * recurrence
    back[previous] = 0.0
    if back.sum() > 0:
        weights = weights + model.revisit * back / back.sum()
    return weights * available
