"""Where the project's files live, resolved from the repository root."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("IU_PROVE_ROOT") or Path(__file__).resolve().parent.parent)  # knob: config.py
MIGRATIONS = ROOT / "sql" / "migrations"
OPS = Path(os.environ.get("IU_PROVE_OPS_DIR") or ROOT / "sql" / "ops")  # a script sabotage's copy, if set
SEED = ROOT / "fixtures" / "seed"
PINS = ROOT / "fixtures" / "pins.toml"
SABOTAGES = ROOT / "fixtures" / "sabotages"
DECISIONS = ROOT / "fixtures" / "decision-register.toml"
REPORTS = ROOT / "reports"
