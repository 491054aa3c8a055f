"""E — bounded durable scaleout through the orchestrator (migrations 042, 043; sql/ops/scaleout)."""
