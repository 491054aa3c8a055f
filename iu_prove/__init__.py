"""The IU core proof harness: a pytest plugin that proves carry-forward claims
against a real PostgreSQL and reports the evidence."""

__version__ = "0.1.0"
