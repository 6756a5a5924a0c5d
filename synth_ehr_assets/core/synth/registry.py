"""Synthesizer kinds by name: the spec's `synthesizer.kind` → the class implementing `base.Synthesizer`.

Adding a kind is one module with the class plus one entry here. Entries are "module:Class" strings so that
importing the registry (e.g. to validate a spec) does not import torch.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from synth_ehr_assets.core.synth.base import Synthesizer

DEFAULT_KIND = "latent_gan"
KINDS: dict[str, str] = {
    "latent_gan": "synth_ehr_assets.core.synth.synthesizer:TableSynthesizer",
    "dp_latent_gan": "synth_ehr_assets.core.synth.dp.synthesizer:DPTableSynthesizer",
    "journey": "synth_ehr_assets.core.synth.journey:JourneySynthesizer",
    "dp_mst": "synth_ehr_assets.core.synth.dp.mst:DPMSTSynthesizer",
}


class UnknownSynthesizerKind(ValueError):
    """`synthesizer.kind` names no registered synthesizer."""


def synthesizer_class(kind: str) -> type[Synthesizer]:
    """The class registered for `kind`; an unknown kind fails naming the spec field and the known kinds."""
    if kind not in KINDS:
        raise UnknownSynthesizerKind(
            f"synthesizer.kind {kind!r} is not registered; known kinds: {', '.join(sorted(KINDS))}"
        )
    module, _, name = KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def load_synthesizer(directory: str | Path, code_vectors=None) -> Synthesizer:
    """Load a saved synthesizer of whatever kind its `synthesizer.json` names (files before kinds: latent_gan)."""
    manifest = json.loads((Path(directory) / "synthesizer.json").read_text())
    return synthesizer_class(manifest.get("kind", DEFAULT_KIND)).load(directory, code_vectors)
