-- A second database for Dagster's own storage (runs, event log, schedules); the vault uses `datavault`.
CREATE DATABASE dagster OWNER datavault;
