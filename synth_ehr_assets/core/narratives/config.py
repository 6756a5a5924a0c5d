"""Narrative engine settings as read from the release spec (`narratives:` block)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class JudgeWeights(BaseModel):
    """Combined judge score: the detector score (1 less a penalty per defect kind found), averaged with the LLM
    judge's mean at the weight its calibration earns (at most `llm`, nothing below `min_llm_auroc`)."""

    model_config = ConfigDict(extra="forbid")

    per_defect_penalty: float = Field(0.25, ge=0, le=1, description="detector score lost per defect kind found")
    llm: float = Field(0.4, ge=0, description="LLM judge weight at a perfect planted-defect AUROC")


class NarrativeConfig(BaseModel):
    """Which engine writes symptoms and notes, and for how many claims."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["design", "llm"] = Field("design", description="grounded design engine or an LLM endpoint")
    sample_size: int | None = Field(None, ge=1, description="claims that get narratives (None = all)")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; None starts the embedded server")
    model: str | None = Field(None, description="model name on the endpoint")
    symptoms_per_claim: int = Field(3, ge=1, le=8, description="symptom slots filled per claim")
    max_symptom_retries: int = Field(3, ge=0, le=10, description="regenerations of a symptom the review rejects")
    symptom_relevance_threshold: float = Field(
        0.30, ge=-1, le=1, description="minimum cosine similarity of a free-text (LLM) symptom to the claim's codes"
    )
    max_note_regenerations: int = Field(
        2, ge=0, le=5, description="LLM engine: re-asks of a note the detectors reject before the design note is kept"
    )
    calibration_per_kind: int = Field(12, ge=2, le=200, description="planted notes per defect kind in calibration")
    llm_calibration_cases: int = Field(
        40, ge=4, le=400, description="LLM engine: balanced clean/planted calibration notes the LLM judge scores for "
        "its release AUROC (each one request)"
    )
    min_llm_auroc: float = Field(0.7, ge=0, le=1, description="LLM judge AUROC below which it carries no weight")
    min_detector_recall: float = Field(0.9, ge=0, le=1, description="judge gate: recall of every planted kind")
    min_pass_share: float = Field(0.9, ge=0, le=1, description="judge gate: share of notes no detector objects to")
    max_clean_flag_rate: float = Field(0.05, ge=0, le=1, description="judge gate: flags on clean calibration notes "
                                       "(held by the rate's Wilson 95% lower limit)")
    judge_weights: JudgeWeights = Field(default_factory=JudgeWeights, description="combined judge score weights")
