"""Synthetic healthcare and finance records full of realistic PII, for exercising the DataVault pipeline."""

from simulations.generate import DOMAINS, SCHEMAS, generate_records, pii_values

__all__ = ["DOMAINS", "SCHEMAS", "generate_records", "pii_values"]
