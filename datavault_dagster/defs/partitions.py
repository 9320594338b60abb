"""One dynamic partition per batch of stream entries; the key names the exact id range."""

import dagster as dg

stream_batches = dg.DynamicPartitionsDefinition(name="stream_batches")
