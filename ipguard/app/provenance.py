"""Where and how a bench record was made (``Provenance``): one place for the bench of a method
and the bench of a scheme."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ipguard.app.config import plain
from ipguard.app.runtime import git_revision, versions
from ipguard.results.record import Provenance
from ipguard.results.tracking import Tracker


def provenance(cfg: Any, out_dir: Path, fingerprint_file: str, tracker: Tracker) -> Provenance:
    """The record's sweep, output folder and fingerprint file, when it finished, its W&B run,
    the whole config, the versions and the git revision."""
    return Provenance(sweep=cfg.store.sweep, output_dir=str(out_dir),
                      fingerprint_file=fingerprint_file,
                      finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      wandb=tracker.describe(), config=plain(cfg), versions=versions(),
                      git=git_revision())
