"""``%envkit capture`` in a real kernel (nbclient, local ipykernel): live pins and the write offer."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook


@pytest.mark.timeout(180)
def test_magic_pins_loaded_versions_and_writes(tmp_path: Path, monkeypatch) -> None:
    from nbclient import NotebookClient

    path = tmp_path / "live.ipynb"
    nb = new_notebook(cells=[
        new_code_cell("import packaging.version\nimport json"),
        new_code_cell("%load_ext envkit"),
        new_code_cell("%envkit capture --json"),
        new_code_cell("%envkit capture --write"),
    ])
    nbformat.write(nb, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))  # what jupyter_server sets for the kernel
    monkeypatch.setenv("ENVKIT_WIDGETS", "0")
    executed = NotebookClient(nb, timeout=120, kernel_name="python3",
                              resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = executed.cells[2].outputs
    data = next(o["data"]["application/json"] for o in out if "application/json" in o.get("data", {}))
    assert data["requirements"][0]["name"] == "packaging"
    assert data["requirements"][0]["specifier"] == f"=={metadata.version('packaging')}"
    assert data["live"]["pins"][0]["name"] == "packaging"
    text = json.dumps(executed.cells[3].outputs)
    assert "wrote the spec" in text, text
    stored = json.loads(path.read_text())["metadata"]["envkit"]["spec"]
    assert stored["requirements"][0]["specifier"] == f"=={metadata.version('packaging')}"
