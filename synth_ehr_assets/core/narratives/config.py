"""Narrative engine settings as read from the release spec (`narratives:` block)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class JudgeWeights(BaseModel):
    """Combined judge score: weighted mean of the content components present (no LLM judge → no LLM part),
    multiplied by a penalty when the wording contradicts age/sex or when PHI is found."""

    model_config = ConfigDict(extra="forbid")

    dx_mentioned: float = Field(0.5, ge=0, description="principal diagnosis concept found in the note (0-1)")
    embedding: float = Field(0.5, ge=0, description="embedding relevance of note vs code descriptions (scaled 0-1)")
    llm: float = Field(0.4, ge=0, description="mean LLM judge score (1-5 scaled to 0-1) when present")
    demographics_penalty: float = Field(0.4, ge=0, le=1, description="multiplier when age/sex wording is inconsistent")
    phi_penalty: float = Field(0.5, ge=0, le=1, description="multiplier when PHI patterns are found")


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
        0.30, ge=-1, le=1, description="minimum cosine similarity of a symptom to the claim's diagnosis codes"
    )
    min_note_relevance: float = Field(
        0.25, ge=-1, le=1, description="minimum embedding relevance of a note for the deterministic judge pass"
    )
    judge_weights: JudgeWeights = Field(default_factory=JudgeWeights, description="combined judge score weights")
