"""``envkit capture`` through the CLI, and the spec it writes into the notebook's metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from envkit.capture import capture_notebook
from envkit.capture.mapping import Mapper
from envkit.cli import main
from envkit.notebook import read_notebook

DATA = Path(__file__).resolve().parent.parent / "data" / "capture"


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    shutil.copytree(DATA / "features", tmp_path / "features")
    return tmp_path / "features" / "analysis.ipynb"


def test_table_output(notebook: Path, capsys) -> None:
    assert main(["capture", str(notebook)]) == 0
    out = capsys.readouterr().out
    assert "python 3.12" in out
    assert "cell 3: %pip install 'pandas>=2.0'" in out  # where each need came from
    assert "totally_unknown_module_xyz" in out  # unresolved, shown
    assert "envkit capture --write" in out  # the follow-up a terminal user can run


def test_json_output(notebook: Path, capsys) -> None:
    assert main(["capture", "--json", str(notebook)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["python"] == "3.12"
    names = {r["name"] for r in data["requirements"]}
    assert {"numpy", "pandas", "requests", "scipy"} <= names
    assert {u["module"] for u in data["unresolved"]} == {"totally_unknown_module_xyz", "utils"}
    assert data["skipped_cells"][0]["cell"] == 9


def test_no_notebook_named_outside_jupyter(capsys) -> None:
    assert main(["capture"]) == 2
    assert "no notebook named" in capsys.readouterr().err


def test_write_keeps_everything_else_and_validates(notebook: Path, capsys) -> None:
    before = json.loads(notebook.read_text())
    assert main(["capture", "--write", str(notebook)]) == 0
    after = json.loads(notebook.read_text())
    stored = after["metadata"].pop("envkit")
    assert after["cells"] == before["cells"]  # sources, outputs, ids untouched
    assert after["metadata"] == before["metadata"]  # custom metadata kept
    assert stored["schema"] == 1 and stored["spec"]["python"] == "3.12"
    nbformat.validate(nbformat.read(notebook, as_version=4))
    meta = read_notebook(notebook).envkit()
    assert meta is not None and meta.spec.requirement("pandas").specifier == ">=2.0"
    assert stored["spec_digest"] == meta.spec.digest()


def test_digest_ignores_outputs_metadata_and_cell_order(notebook: Path) -> None:
    mapper = Mapper(installed=False)
    digest = capture_notebook(notebook, mapper=mapper).spec.digest()
    raw = json.loads(notebook.read_text())
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["noise\n"]}]
            cell["execution_count"] = 7
    raw["metadata"]["custom"] = {"changed": True}
    raw["cells"] = list(reversed(raw["cells"]))
    notebook.write_text(json.dumps(raw))
    again = capture_notebook(notebook, mapper=mapper).spec
    assert again.digest() == digest
    # ... and does change when a need changes
    raw["cells"][0]["source"] = "import lightgbm"
    notebook.write_text(json.dumps(raw))
    assert capture_notebook(notebook, mapper=mapper).spec.digest() != digest


def test_live_kernel_ui_pins_loaded_versions(notebook: Path, capsys) -> None:
    from importlib import metadata

    from envkit.commands import build_parser
    from envkit.ui import UI

    class KernelUI(UI):  # what the notebook front end sets inside a kernel
        live_kernel = True

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import packaging")]),
                   notebook.parent / "small.ipynb")
    args = build_parser().parse_args(["capture", "--json", str(notebook.parent / "small.ipynb")])
    assert args._module.run(args, KernelUI()) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["requirements"] == [{"name": "packaging", "specifier": f"=={metadata.version('packaging')}",
                                     "sources": data["requirements"][0]["sources"]}]
    assert data["live"]["pins"][0]["name"] == "packaging"
