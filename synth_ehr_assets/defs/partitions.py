"""Every asset is partitioned by release: one dynamic partition per release spec."""

import dagster as dg

release_partitions = dg.DynamicPartitionsDefinition(name="release")
