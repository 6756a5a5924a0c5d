"""The privacy budget of a `dp_latent_gan` release: one (ε, δ) split over three Gaussian mechanisms, one accountant.

Mechanisms, each on the bounded training rows (one row per protected unit, `marginals.bound_rows`):
- `marginals`: the noisy histograms of `marginals.py` (k releases of L2 sensitivity 1 on the whole table);
- `autoencoder`: DP-SGD (Poisson sampling at rate q, per-row clipping, Gaussian noise) for T_ae steps;
- `critic`: DP-SGD of the WGAN critic for T_critic steps (the generator sees only the critic: post-processing).
Each mechanism gets its noise multiplier from opacus' `get_noise_multiplier` for its share `w_i·ε` of ε; all three
are then composed by one opacus `RDPAccountant` (the marginals as k full-batch steps, sample rate 1), and the
multipliers grow together until the composed ε at δ_rdp is within the request. Keys of a histogram without a
public domain (procedure codes, DRGs, specialties) are released only above a threshold: that costs δ_threshold
(the chance that a key only the removed row holds shows up), charged on top of δ_rdp.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

BUDGET_FILE = "dp_budget.json"
MECHANISMS = ("marginals", "autoencoder", "critic")
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(11, 64)) + [80, 128, 256, 512, 1024, 4096]
THRESHOLD_DELTA_SHARE = 0.1  # of δ, spent on releasing keys of histograms without a public domain


class PrivacyBudgetError(ValueError):
    """A DP request that cannot be honoured (the message names the spec field)."""


@dataclass
class DPBudget:
    """Requested (ε, δ), the split, the derived noise multipliers and what the accountant says was spent."""

    epsilon: float
    delta: float
    split: dict[str, float]
    rows: int
    histograms: int
    sample_rates: dict[str, float]
    steps: dict[str, int]
    noise_multipliers: dict[str, float] = field(default_factory=dict)
    max_grad_norm: float = 1.0
    delta_threshold: float = 0.0
    epsilon_spent: float = 0.0
    unit: str = "claim"
    alone: dict[str, float] = field(default_factory=dict)
    public_dx_domain: bool = True  # ε each mechanism was first calibrated to on its own
    accountant: str = "opacus RDPAccountant (Rényi DP, converted to (ε, δ) at δ_rdp)"
    noise_seed: int | None = None  # privacy.dp_noise_seed: set only in tests, and then no guarantee holds

    @property
    def delta_rdp(self) -> float:
        return self.delta - self.delta_threshold

    def history(self) -> list[tuple[float, float, int]]:
        """(noise multiplier, sample rate, steps) per mechanism, the accountant's input."""
        return [(self.noise_multipliers[m], self.sample_rates[m], self.steps[m]) for m in MECHANISMS if self.steps[m]]

    def composed_epsilon(self) -> float:
        from opacus.accountants import RDPAccountant

        accountant = RDPAccountant()
        accountant.history = self.history()
        return float(accountant.get_epsilon(self.delta_rdp, alphas=ALPHAS))

    def noise_std(self, mechanism: str) -> float:
        """Std of the Gaussian noise on a sensitivity-1 count (marginals) or a clipped gradient sum (DP-SGD)."""
        scale = 1.0 if mechanism == "marginals" else self.max_grad_norm
        return self.noise_multipliers[mechanism] * scale

    def to_dict(self) -> dict:
        return {**asdict(self), "delta_rdp": self.delta_rdp,
                "mechanism": "Gaussian mechanism: noisy histograms + DP-SGD (per-row clipping, Poisson sampling)"}

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / BUDGET_FILE
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> DPBudget:
        data = json.loads((Path(folder) / BUDGET_FILE).read_text())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def steps_for(rows: int, batch_size: int, epochs: int) -> tuple[float, int]:
    """(Poisson sample rate, steps) of `epochs` passes with an expected batch of `batch_size` rows."""
    rate = min(1.0, batch_size / max(rows, 1))
    return rate, max(1, int(math.ceil(epochs / rate)))


def plan_budget(
    epsilon: float, delta: float, rows: int, split: dict[str, float], histograms: int,
    sample_rates: dict[str, float], steps: dict[str, int], max_grad_norm: float = 1.0, thresholded: bool = True,
    unit: str = "claim",
) -> DPBudget:
    """Noise multipliers for every mechanism so that the composed (ε, δ) stays within the request.

    Raises `PrivacyBudgetError` naming `privacy.dp_delta` when δ ≥ 1/rows (such a δ allows publishing a row)."""
    from opacus.accountants.utils import get_noise_multiplier

    if rows < 2:
        raise PrivacyBudgetError(f"privacy.dp_epsilon: DP training needs at least 2 bounded training rows, got {rows}")
    if delta >= 1.0 / rows:
        raise PrivacyBudgetError(
            f"privacy.dp_delta {delta:g} is not below 1/rows = {1.0 / rows:.3g} ({rows} bounded training rows): a δ "
            "that large lets a mechanism publish a whole row; lower privacy.dp_delta or leave it unset (1/rows^1.1)"
        )
    weights = {m: split.get(m, 0.0) for m in MECHANISMS}
    total = sum(weights.values())
    steps = {**steps, "marginals": histograms}
    sample_rates = {**sample_rates, "marginals": 1.0}
    budget = DPBudget(epsilon, delta, {m: w / total for m, w in weights.items()}, rows, histograms, sample_rates,
                      steps, max_grad_norm=max_grad_norm, unit=unit,
                      delta_threshold=delta * THRESHOLD_DELTA_SHARE if thresholded else 0.0)
    share = budget.delta_rdp / len(MECHANISMS)
    for mechanism in MECHANISMS:
        budget.noise_multipliers[mechanism] = float(get_noise_multiplier(
            target_epsilon=budget.split[mechanism] * epsilon, target_delta=share,
            sample_rate=sample_rates[mechanism], steps=steps[mechanism], epsilon_tolerance=0.005, alphas=ALPHAS,
        )) if steps[mechanism] and budget.split[mechanism] > 0 else 0.0
    for mechanism in MECHANISMS:
        if steps[mechanism] and budget.noise_multipliers[mechanism] == 0.0:
            raise PrivacyBudgetError(f"synthesizer.dp_budget_split: mechanism {mechanism!r} runs but has no share")
    budget.alone = {m: budget.split[m] * epsilon for m in MECHANISMS}
    # Calibrated one by one (basic composition: Σ w_i·ε) the mechanisms overshoot the noise; composed in RDP they
    # can all be quieter by a common factor, found by bisection, so the composed ε lands just under the request.
    calibrated, low, high = dict(budget.noise_multipliers), 0.05, 1.0
    for _ in range(18):
        middle = (low + high) / 2
        budget.noise_multipliers = {m: z * middle for m, z in calibrated.items()}
        low, high = (low, middle) if budget.composed_epsilon() <= epsilon else (middle, high)
    budget.noise_multipliers = {m: z * high for m, z in calibrated.items()}
    budget.epsilon_spent = budget.composed_epsilon()
    if budget.epsilon_spent > epsilon * (1 + 1e-9):
        raise PrivacyBudgetError(f"privacy.dp_epsilon {epsilon}: the composed budget could not be met")
    return budget
