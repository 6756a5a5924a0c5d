"""Release specs: `data/releases/<release_id>.yaml`, validated by pydantic before anything runs."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synth_ehr_assets.core.narratives.config import NarrativeConfig
from synth_ehr_assets.core.schema import normalize_code
from synth_ehr_assets.core.synth.config import SynthesizerConfig

RELEASE_ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")


class SpecError(ValueError):
    """A release spec that cannot be used; the message names the file and the field."""


def check_release_id(release_id: str) -> str:
    if not RELEASE_ID_PATTERN.match(release_id or ""):
        raise SpecError(
            f"release id {release_id!r} is invalid: use 1-64 characters from [a-z0-9_-] (it reaches SQL and paths)"
        )
    return release_id


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferenceSource(_Strict):
    """The built-in design-driven reference population (no input file needed)."""

    kind: Literal["reference"] = "reference"
    claims: int = Field(20_000, ge=10, le=50_000_000, description="claims to generate as the source table")


def strftime_format(value: str | None) -> str | None:
    """`YYYYMMDD`-style date patterns (YYYY, MM, DD) or strftime (`%Y%m%d`) -> strftime."""
    if value is None or "%" in value:
        return value
    converted = value.replace("YYYY", "%Y").replace("MM", "%m").replace("DD", "%d")
    if re.search(r"[A-Za-z]", converted.replace("%Y", "").replace("%m", "").replace("%d", "")):
        raise ValueError(f"date format {value!r}: use YYYY, MM and DD (e.g. YYYYMMDD) or strftime (%Y%m%d)")
    return converted


class MappedColumn(_Strict):
    """A `column_map` entry with a per-column format (dates): `{column: CLM_FROM_DT, format: YYYYMMDD}`."""

    column: str
    format: str | None = Field(None, description="date format of this column (YYYYMMDD or strftime)")

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        return strftime_format(value)


class FileSource(_Strict):
    """A CSV or Parquet file in the canonical schema, or mapped onto it with `column_map`."""

    kind: Literal["file"] = "file"
    path: str = Field(description="CSV or Parquet path; relative paths resolve against the spec file's folder")
    format: Literal["auto", "csv", "parquet"] = "auto"
    column_map: dict[str, str | MappedColumn] = Field(
        default_factory=dict, description="canonical column -> column in the file, or {column, format}"
    )
    date_format: str | None = Field(
        None, description="format of every date column (YYYYMMDD or strftime); unset: YYYY-MM-DD, MM/DD/YYYY, YYYYMMDD"
    )
    line_level: bool = Field(
        False, description="one row per claim line: rows sharing a claim_id are aggregated into one claim"
    )

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        return strftime_format(value)

    def file_columns(self) -> dict[str, str]:
        """canonical column -> file column."""
        return {k: v if isinstance(v, str) else v.column for k, v in self.column_map.items()}

    def date_formats(self) -> dict[str, str]:
        """canonical date column -> strftime format (per-column formats win over `date_format`)."""
        formats = {"service_date": self.date_format} if self.date_format else {}
        formats.update({k: v.format for k, v in self.column_map.items() if isinstance(v, MappedColumn) and v.format})
        return formats


class MimicIVSource(_Strict):
    """The MIMIC-IV `hosp` tables (patients, admissions, diagnoses_icd, procedures_icd, drgcodes)."""

    kind: Literal["mimic_iv"] = "mimic_iv"
    path: str = Field(description="folder holding hosp/*.csv.gz (or the hosp folder itself)")


SourceSpec = Annotated[Union[ReferenceSource, FileSource, MimicIVSource], Field(discriminator="kind")]


class CoverageTarget(_Strict):
    """At least `min_claims` synthetic claims whose principal diagnosis is `code` or starts with `category`."""

    code: str | None = None
    category: str | None = None
    min_claims: int = Field(ge=1)

    @model_validator(mode="after")
    def _one_of(self) -> "CoverageTarget":
        if (self.code is None) == (self.category is None):
            raise ValueError("give exactly one of 'code' or 'category'")
        # codes are stored without dots (E84.0 → E840)
        self.code, self.category = normalize_code(self.code), normalize_code(self.category)
        return self


class CodesConfig(_Strict):
    """Which codes get embedded and which codes synthetic rows may carry."""

    embed: Literal["all", "used"] = Field(
        "all", description="'all' embeds every FY2026 billable code; 'used' only source codes + chapter R symptoms"
    )
    widen_to_catalog: bool = Field(False, description="let inverse mapping pick codes never seen in training")


class PrivacyConfig(_Strict):
    """Privacy filters and generalisation applied to synthetic rows before release."""

    age_band_years: int = Field(0, ge=0, le=20, description="0 keeps exact ages; e.g. 5 releases 5-year bands (lower bound)")
    date_granularity: Literal["day", "month"] = Field("day", description="'month' shifts service dates to the 1st")
    drop_exact_matches: bool = Field(True, description="drop synthetic rows equal to a source row on QIs + codes")
    near_duplicate_distance: float = Field(0.0, ge=0, description="drop rows closer than this to a train row (0 = off)")
    canaries: int = Field(
        0, ge=0, le=100, description="plant this many unique, clinically valid canary claims in the training split; "
        "the privacy report looks for them in the release and any one found blocks it"
    )
    dp_epsilon: float | None = Field(
        None, gt=0, le=50, description="train with differential privacy at this ε: needs synthesizer.kind "
        "dp_latent_gan (noisy marginals + DP-SGD, one RDP accountant) or dp_mst (MST marginals, zCDP); README "
        "'Differential privacy'"
    )
    dp_delta: float | None = Field(
        None, gt=0, lt=1e-3, description="δ of the guarantee; None = 1/rows^1.1 of the bounded training rows (must be "
        "below 1/rows)"
    )
    dp_unit: Literal["patient", "claim"] = Field(
        "patient", description="what one guarantee protects: 'patient' trains on one seeded claim per patient; "
        "'claim' on every claim (a patient with k claims is then protected only at about k·ε)"
    )
    dp_noise_seed: int | None = Field(
        None, ge=0, description="tests only: draw the DP noise from this seed instead of OS entropy, so a DP release "
        "replays bit for bit; whoever knows the seed can replay and subtract the noise, so the manifest and the data "
        "card then say that no differential-privacy guarantee holds"
    )
    dp_public_date_range: tuple[date, date] = Field(
        (date(2015, 1, 1), date(2030, 12, 31)), description="public bounds of service dates for the DP date "
        "histogram (monthly bins); dates outside are counted in the first or last month"
    )

    @model_validator(mode="after")
    def _date_range(self) -> "PrivacyConfig":
        first, last = self.dp_public_date_range
        if first >= last:
            raise ValueError(f"dp_public_date_range: {first} is not before {last}")
        return self


class GateThresholds(_Strict):
    """Thresholds of the blocking asset checks; defaults are the documented ones (DESIGN §2)."""

    max_quarantine_share: float = Field(0.05, ge=0, le=1)
    min_valid_code_share: float = Field(1.0, ge=0, le=1)
    max_age_sex_violations: int = Field(0, ge=0)
    max_exact_matches: int = Field(0, ge=0)
    min_dcr_overfitting_protection: float = Field(0.9, ge=0, le=1)
    max_membership_inference_auc: float = Field(0.60, ge=0.5, le=1)
    distance_null_factor: float = Field(
        2.0, ge=0, description="where a real holdout sample no model saw misses the DCR or membership default at this "
        "size, the bound moves to its null level ± factor × the null's 95th-percentile sampling noise at the gate's "
        "row count (core/evaluation/distance_null.py; 0 allows the null level but no noise)"
    )
    max_attack_risk: float = Field(
        0.05, ge=0, le=1, description="upper limit of each anonymeter risk (singling out, linkability, inference); "
        "the four limits hold jointly at 95% (each one-sided at 98.75%)"
    )
    attack_risk_noise_factor: float = Field(
        2.0, ge=1, description="where the real rows are too few to resolve max_attack_risk, the upper limit may reach "
        "factor × the interval's half-width; at 2 the point estimate may reach one half-width, so a release with no "
        "excess risk is blocked in at most 5% of runs over the four attacks together"
    )
    min_quality_score: float = Field(0.80, ge=0, le=1)
    min_all_dx_prevalence_r2: float = Field(0.90, le=1, description="R² of per-code share of claims, any dx slot")
    min_cooccurrence_r2: float = Field(0.80, le=1, description="R² of per-pair share of claims (pairs ≥ 5× in train)")
    max_overrepresentation: float = Field(3.0, ge=1, description="largest synthetic/train share among codes ≥ 0.5%")
    null_deviation_factor: float = Field(
        2.0, ge=1, description="the R² and over-representation bounds widen to factor × the real holdout's own "
        "deviation (1 - R², ratio - 1) where a real sample of that size misses the defaults"
    )
    max_unsupported_share_factor: float = Field(
        2.0, ge=1, description="each unsupported-combination share ≤ max(factor × holdout null, floor)"
    )
    min_unsupported_share_floor: float = Field(0.01, ge=0, le=1, description="the floor of that bound")
    max_claim_type_joint_deviation: float = Field(
        0.15, ge=0, description="largest relative gap of inpatient share, stay and charge quantiles per claim type "
        "(or noise factor × its sampling noise at the synthetic table's size, when larger)"
    )
    claim_type_joint_noise_factor: float = Field(
        2.0, ge=1, description="multiple of the 95th-percentile sampling noise that setting gap may reach"
    )
    min_journey_transition_r2_ratio: float = Field(
        0.9, ge=0, le=1, description="journey releases (synthesizer.kind journey): visit-to-visit transition R² ≥ "
        "ratio × the real holdout patients' own (core/evaluation/journeys.py, gate fidelity_journeys)"
    )
    min_journey_persistence_ratio: float = Field(
        0.9, ge=0, le=1, description="journey releases: chronic-condition persistence ≥ ratio × the real holdout's"
    )
    min_judge_relevance: float | None = Field(None, ge=1, le=5, description="mean relevance (1-5); None = report only")
    max_low_note_share: float | None = Field(None, ge=0, le=1, description="share of notes scoring below 3")
    max_phi_hits: int = Field(0, ge=0)


class DriftConfig(_Strict):
    """What the drift checks compare this release's report figures with."""

    compare_to: str | None = Field(
        None, description="release id to compare with; None = this release's own previous materialization"
    )

    @field_validator("compare_to")
    @classmethod
    def _valid_target(cls, value: str | None) -> str | None:
        if value is not None:
            check_release_id(value)
        return value


ScenarioName = Literal["clean", "duplicate_submission", "excludes1_conflict", "age_sex_edit", "missing_drg",
                       "timely_filing", "cob_secondary", "out_of_network", "prior_auth_missing", "rare_condition", "cohort"]
ClaimType = Literal["professional", "outpatient", "inpatient"]
Payer = Literal["medicare", "medicaid", "commercial", "self_pay"]


class ScenarioRequest(_Strict):
    """`claims` labelled claims of one scenario in every listed claim type x payer cell (core/reference/scenarios.py)."""

    scenario: ScenarioName
    claim_types: list[ClaimType] = Field(default_factory=lambda: ["professional", "outpatient", "inpatient"])
    payers: list[Payer] = Field(default_factory=lambda: ["medicare", "medicaid", "commercial"])
    claims: int = Field(1, ge=1, le=10_000, description="claims per claim type x payer cell")
    code: str | None = Field(None, description="rare_condition: the principal diagnosis (dots optional)")
    min_age: int = Field(0, ge=0, le=124, description="cohort: youngest age")
    max_age: int = Field(124, ge=0, le=124, description="cohort: oldest age")
    sex: Literal["F", "M"] | None = Field(None, description="cohort: sex (None: both)")

    @model_validator(mode="after")
    def _fits(self) -> "ScenarioRequest":
        self.code = normalize_code(self.code)
        if self.scenario == "rare_condition" and not self.code:
            raise ValueError("rare_condition needs 'code'")
        if self.scenario == "missing_drg" and set(self.claim_types) != {"inpatient"}:
            raise ValueError("missing_drg applies to inpatient claims only: set claim_types: [inpatient]")
        if self.scenario in ("cob_secondary", "out_of_network", "prior_auth_missing", "timely_filing") and "self_pay" in self.payers:
            raise ValueError(f"{self.scenario} needs a payer: remove self_pay from payers")
        if self.scenario == "out_of_network" and "medicare" in self.payers:
            raise ValueError("out_of_network: Medicare fee-for-service has no network; use medicaid or commercial")
        return self


class ScenariosConfig(_Strict):
    """Test scenarios by design: a labelled claim deck with its coverage report (never training data)."""

    cells: list[ScenarioRequest] = Field(default_factory=list)
    pool_claims: int = Field(200_000, ge=1_000, le=5_000_000, description="reference claims the deck draws from")


class ReleaseSpec(_Strict):
    """One release: where the source comes from, how much to synthesize, and the gates it must pass."""

    release_id: str
    description: str = ""
    seed: int = Field(0, ge=0, le=2**32 - 1)
    rows: int = Field(1_000, ge=1, le=50_000_000, description="synthetic claims in the release")
    source: SourceSpec = Field(default_factory=ReferenceSource)
    coverage: list[CoverageTarget] = Field(default_factory=list)
    codes: CodesConfig = Field(default_factory=CodesConfig)
    synthesizer: SynthesizerConfig = Field(default_factory=SynthesizerConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    narratives: NarrativeConfig = Field(default_factory=NarrativeConfig)
    gates: GateThresholds = Field(default_factory=GateThresholds)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    scenarios: ScenariosConfig = Field(default_factory=ScenariosConfig)
    spec_dir: str | None = Field(None, exclude=True, description="folder of the spec file (set by the loader)")

    @field_validator("release_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        check_release_id(value)
        return value

    @model_validator(mode="after")
    def _dp_honoured(self) -> "ReleaseSpec":
        from synth_ehr_assets.core.synth.dp.spec_checks import check_dp_spec

        check_dp_spec(self)
        return self

    @model_validator(mode="after")
    def _coverage_fits(self) -> "ReleaseSpec":
        wanted = sum(t.min_claims for t in self.coverage)
        if wanted > self.rows:
            raise ValueError(f"coverage targets ask for {wanted} claims but rows is {self.rows}")
        return self

    def fingerprint(self) -> str:
        """Stable hash of the validated content: a changed spec gets a new fingerprint."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def resolve_path(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        if not candidate.is_absolute() and self.spec_dir:
            candidate = Path(self.spec_dir) / candidate
        return candidate


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"field '{where}': {item['msg']}")
    return "; ".join(parts)


def parse_spec(data: dict, release_id: str, origin: str = "<memory>", spec_dir: str | None = None) -> ReleaseSpec:
    """Validate a spec mapping; `release_id` comes from the file name unless the mapping repeats it."""
    if not isinstance(data, dict):
        raise SpecError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    check_release_id(release_id)
    data = dict(data)
    given = data.setdefault("release_id", release_id)
    if given != release_id:
        raise SpecError(f"{origin}: field 'release_id' is {given!r} but the file name says {release_id!r}")
    try:
        return ReleaseSpec(**data, spec_dir=spec_dir)
    except ValidationError as error:
        raise SpecError(f"{origin}: {_describe(error)}") from None


def load_spec(path: str | Path) -> ReleaseSpec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"release spec {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML ({error})") from None
    return parse_spec(data, path.stem, origin=str(path), spec_dir=str(path.parent.resolve()))


def list_specs(folder: str | Path) -> dict[str, Path]:
    """Spec files in a folder by release id (ids that break the pattern are still listed so they fail loudly)."""
    folder = Path(folder)
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}
