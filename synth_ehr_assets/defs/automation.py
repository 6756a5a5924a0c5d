"""Declarative automation: once a release's source is materialized, the rest follows as long as the gates pass."""

import dagster as dg

# eager: run when a dependency updates (or a new release partition appears) and nothing upstream is missing or
# in flight; all_deps_blocking_checks_passed: never build on a dependency whose blocking gate failed.
RELEASE_AUTOMATION = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("eager_when_upstream_gates_pass")


def with_release_automation(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Give every asset that has upstream dependencies the release automation condition; roots stay manual."""

    def attach(spec: dg.AssetSpec) -> dg.AssetSpec:
        return spec.replace_attributes(automation_condition=RELEASE_AUTOMATION) if spec.deps else spec

    return dg.map_asset_specs(attach, assets)


release_automation_sensor = dg.AutomationConditionSensorDefinition(
    "release_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the release automation conditions: downstream assets follow a materialized source.",
)
