"""What every benchmark does with its figures besides printing them: write them as JSON for later comparison."""

from __future__ import annotations

import json
from pathlib import Path


def save(path: Path | None, figures) -> None:
    """Write ``figures`` to ``path`` as indented JSON (its folder made if needed); nothing when ``path`` is None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1) + "\n")
