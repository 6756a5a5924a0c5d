"""Narrative engine settings as read from the release spec (`narratives:` block)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class NarrativeConfig(BaseModel):
    """Which engine writes symptoms and notes, and for how many claims."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["design", "llm"] = Field("design", description="grounded design engine or an LLM endpoint")
    sample_size: int | None = Field(None, ge=1, description="claims that get narratives (None = all)")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; None starts the embedded server")
    model: str | None = Field(None, description="model name on the endpoint")
