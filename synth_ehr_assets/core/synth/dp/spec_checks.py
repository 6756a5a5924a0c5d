"""Spec settings a DP release cannot honour fail before anything runs, naming the field."""

from __future__ import annotations

DP_KINDS = ("dp_latent_gan", "dp_mst")


def check_dp_spec(spec) -> None:
    """Raise `ValueError` naming the field when `spec` asks for DP in a way the DP path cannot keep."""
    privacy, kind = spec.privacy, spec.synthesizer.kind
    if privacy.dp_epsilon is None:
        if kind in DP_KINDS:
            raise ValueError(f"synthesizer.kind {kind!r} trains under differential privacy and needs privacy.dp_epsilon")
        if privacy.dp_delta is not None:
            raise ValueError("privacy.dp_delta is set but privacy.dp_epsilon is not: no DP mechanism would read it")
        return
    if kind not in DP_KINDS:
        raise ValueError(
            f"privacy.dp_epsilon {privacy.dp_epsilon} asks for differential privacy, but synthesizer.kind {kind!r} "
            f"trains without it, so the release would carry no formal guarantee; set synthesizer.kind to one of "
            f"{', '.join(DP_KINDS)} or remove privacy.dp_epsilon"
        )
    refusals = {
        "privacy.drop_exact_matches": (
            privacy.drop_exact_matches, "dropping synthetic rows that equal a source row decides what is released "
            "by reading individual source rows outside the accountant; set it to false (the synthetic_no_source_copies "
            "gate still counts copies)"),
        "privacy.near_duplicate_distance": (
            privacy.near_duplicate_distance > 0, "the near-duplicate filter compares every synthetic row with the "
            "training rows outside the accountant; set it to 0"),
        "codes.widen_to_catalog": (
            spec.codes.widen_to_catalog and spec.codes.embed == "used", "with codes.embed 'used' the 'catalog' is the "
            "source's own codes, so widening would let decoding pick codes no DP mechanism released; use "
            "codes.embed 'all' (the public FY2026 catalog) or widen_to_catalog false"),
    }
    for field, (refused, why) in refusals.items():
        if refused:
            raise ValueError(f"{field} cannot be honoured with privacy.dp_epsilon: {why}")
