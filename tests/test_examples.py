"""Every example runs against the emulator, as a user would run it; so does the notebook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
EXPECTED = {
    "space_to_index.py": "Indexed",
    "multimodal_images.py": "images indexed",
    "push_to_h2ogpte.py": ": 0 added, 0 updated, 0 deleted",
    "incremental_resync.py": "second run: 1 added, 2 updated, 1 deleted",
    "sync_vector_index.py": "attachments skipped; 1 chunks embedded",
    "permission_aware_query.py": "bob: answered from 6 pages, 0 of them restricted",
    "ingestion_pipeline.py": "after one page changed: 1 nodes;",
}


def test_every_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert EXPECTED[name] in result.stdout


def test_the_notebook_runs_cell_by_cell(capsys: pytest.CaptureFixture[str]) -> None:
    notebook = json.loads((EXAMPLES / "browse_select_import.ipynb").read_text())
    namespace: dict[str, object] = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "notebook", "exec"), namespace)
    assert "<li>[folder] Architecture" in namespace["tree"]._repr_html_()  # type: ignore[attr-defined]
    printed = capsys.readouterr().out
    assert "Product Docs > Product Docs Home > Getting Started Guide > Architecture" in printed
    assert "ImageDocument" not in printed or "Big Id Page" in printed
