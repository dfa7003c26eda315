"""What the benchmark scripts share: where the clips are and how results are written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
DEFAULT_DATA = ROOT.parent.parent / "shared/data/clips"


def data_dir(arg: str | None) -> Path:
    """The clips folder: ``--data``, else ``$VIDPROV_DATA``, else ../shared/data/clips."""
    return Path(arg or os.environ.get("VIDPROV_DATA") or DEFAULT_DATA)


def write_results(name: str, result: dict[str, Any], md: str, out: str | Path = RESULTS) -> None:
    """Write ``<name>.json`` and ``<name>.md`` under ``out`` and print the markdown."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    (folder / f"{name}.md").write_text(md)
    print(md)
