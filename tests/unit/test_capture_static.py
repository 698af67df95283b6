"""Static capture: every rule of the issue on a small hand-made notebook, plus install lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.capture import capture_notebook, capture_paths
from envkit.capture.installs import parse_magic, parse_shell_line
from envkit.capture.mapping import Mapper
from envkit.capture.pep723 import read_script_block
from envkit.capture.static import scan_cell

DATA = Path(__file__).resolve().parent.parent / "data" / "capture"


@pytest.fixture(scope="module")
def features():
    return capture_notebook(DATA / "features" / "analysis.ipynb", mapper=Mapper(installed=False))


def names(result) -> set[str]:
    return {r.name for r in result.spec.requirements}


def test_plain_imports_and_stdlib(features) -> None:
    assert "numpy" in names(features)
    # standard library, Python 2 names included, never a requirement
    for module in ("os", "sys", "urllib2", "cpickle", "collections", "json", "importlib"):
        assert module not in names(features)
    assert not any(u.module in {"urllib2", "cPickle"} for u in features.unresolved)


def test_install_lines_keep_specifiers_extras_and_urls(features) -> None:
    spec = features.spec
    assert spec.requirement("pandas").specifier == ">=2.0"
    xarray = spec.requirement("xarray")
    assert xarray.extras == ("io",) and "python_version" in xarray.marker
    assert spec.requirement("seaborn").specifier == "==0.13.2"  # !{sys.executable} -m pip install
    assert spec.requirement("polars") is not None  # !uv pip install
    assert spec.requirement("torch").specifier == "==2.1.*"  # %conda install pytorch=2.1
    assert spec.requirement("graphviz") is not None  # conda's python-graphviz
    assert spec.requirement("widgetlib").url == "git+https://example.invalid/org/widget.git"
    joined = "\n".join(features.notes)
    assert "requirements file (requirements.txt)" in joined
    assert "editable install of './local_pkg'" in joined


def test_magic_bodies_functions_dynamic_and_optional(features) -> None:
    spec = features.spec
    assert spec.requirement("scikit-learn") is not None  # inside %%time
    assert spec.requirement("opencv-python") is not None  # inside a function
    assert spec.requirement("pyyaml") is not None  # importlib.import_module('yaml')
    assert spec.requirement("beautifulsoup4") is not None  # __import__('bs4')
    assert spec.requirement("ujson").optional  # try/except ImportError
    assert not spec.requirement("numpy").optional


def test_local_modules_are_followed_not_required(features) -> None:
    assert {"helpers_local", "pkg_local", "written_mod"} <= set(features.local_modules)
    spec = features.spec
    assert spec.requirement("requests").sources[0].file == "helpers_local.py"
    assert spec.requirement("tabulate") is not None  # pkg_local/core.py via a relative import
    assert spec.requirement("toolz") is not None  # %%writefile written_mod.py, then imported
    assert spec.requirement("scipy").sources[0].file == "setup_env.py"  # %run setup_env.py
    assert "sibling" not in {u.module for u in features.unresolved}  # from . import sibling


def test_load_ext_platform_and_kernel_modules(features) -> None:
    spec = features.spec
    assert spec.requirement("line-profiler") is not None
    assert spec.requirement("autoreload") is None  # IPython's own extension
    assert spec.requirement("google-cloud-storage") is not None
    assert spec.requirement("google-colab") is None and spec.requirement("kaggle-secrets") is None
    assert spec.requirement("ipython") is None  # every kernel has it
    assert spec.requirement("ipywidgets") is not None
    assert spec.requirement("matplotlib").sources[0].text == "%matplotlib inline"


def test_unresolved_are_reported_with_reasons(features) -> None:
    unresolved = {u.module: u for u in features.unresolved}
    assert set(unresolved) == {"totally_unknown_module_xyz", "utils"}
    assert unresolved["utils"].sources[0].cell == 16
    assert "generic" in unresolved["utils"].reason


def test_bad_cell_is_skipped_by_number(features) -> None:
    # cell 9 is `print 'python 2 cell'`: named as Python 2, in one note with the others (none here)
    assert [(s.cell, s.reason) for s in features.skipped] == [(9, "Python 2 (print statement)")]
    assert [n for n in features.notes if "Python 2 code" in n] == [
        f"{DATA / 'features' / 'analysis.ipynb'}: Python 2 code in cell 9 (print statement); Python 3 cannot run it"]
    assert features.spec.python == "3.12"  # from language_info
    assert features.spec.system_packages == ("graphviz", "libgl1", "libglib2.0-0")


def test_python2_cell_imports_still_count() -> None:
    result = capture_notebook(DATA / "nbformat3.ipynb", mapper=Mapper(installed=False))
    assert names(result) == {"numpy", "matplotlib"}
    assert result.skipped[0].cell == 1


def test_pep723_block_is_an_explicit_spec() -> None:
    result = capture_notebook(DATA / "pep723.ipynb", mapper=Mapper(installed=False))
    assert result.spec.requirement("altair").specifier == ">=5"
    assert result.spec.requirement("pandas").sources[0].kind == "pep723"
    assert result.spec.python == "3.12"  # 3.11 from language_info does not satisfy >=3.12
    block = read_script_block('# /// script\n# dependencies = ["a>1"]\n# ///\n')
    assert block is not None and block.dependencies == ("a>1",)
    with pytest.raises(ValueError):
        read_script_block("# /// script\n# dependencies = [\n# ///\n")


def test_folder_capture_skips_checkpoints_and_merges(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / "sub").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("import numpy")]), tmp_path / "a.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("!pip install -U pip\n%pip install 'numpy<2'\nimport scipy")]),
                   tmp_path / "sub" / "b.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("import torch")]),
                   tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb")
    result = capture_paths([tmp_path], mapper=Mapper(installed=False))
    assert names(result) == {"numpy", "scipy"}
    assert result.spec.requirement("numpy").specifier == "<2"  # explicit beats a bare import
    assert len(result.notebooks) == 2


@pytest.mark.parametrize(("line", "expected"), [
    ("pip install -q -U 'keras_tuner~=1.4.6' statsmodels", ["keras_tuner~=1.4.6", "statsmodels"]),
    ("pip install numpy && pip install scipy > /dev/null 2>&1", ["numpy", "scipy"]),
    ("python3 -m pip install --index-url https://example.invalid/simple torch", ["torch"]),
    ("sudo -H pip3 install --target /tmp/x 'requests[socks]>=2'", ["requests[socks]>=2"]),
    ("uv pip install --system 'polars>=1' # a comment", ["polars>=1"]),
    ("mamba install -y -c conda-forge conda-forge::xarray numpy=1.26.4 python=3.11", ["xarray", "numpy==1.26.4"]),
    ("pip install ./dist/mypkg-1.0-py3-none-any.whl", []),
    ("pip install $PACKAGES", []),
    ("pip install 'unbalanced", ["unbalanced"]),
    ("pip list", []),
    ("echo pip install nothing", []),
])
def test_shell_install_lines(line: str, expected: list[str]) -> None:
    reqs = [r for parsed in parse_shell_line(line) for r in parsed.requirements]
    assert reqs == expected


def test_pip_magic_with_requirements_file_is_a_note() -> None:
    (parsed,) = parse_magic("pip", "install -r requirements.txt")
    assert parsed.requirements == () and "requirements file" in parsed.notes[0]


def test_scan_cell_reads_cell_magics_and_shell_bodies() -> None:
    found = scan_cell("%%bash\npip install rich\necho done\n")
    assert [r for p, _ in found.installs for r in p.requirements] == ["rich"]
    found = scan_cell("%%capture\nimport lightgbm\n")
    assert [i.module for i in found.imports] == ["lightgbm"]
    found = scan_cell("%timeit -n 10 import math\n%sql SELECT 1\n")
    assert [i.module for i in found.imports] == ["math"]


def test_apt_lines_and_widget_backend_become_system_packages_and_ipympl(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nbformat.write(new_notebook(cells=[
        new_code_cell("!sudo apt-get install -y graphviz libpq5=15.1 > /dev/null\n%matplotlib widget")]),
        tmp_path / "a.ipynb")
    result = capture_notebook(tmp_path / "a.ipynb", mapper=Mapper(installed=False))
    assert result.spec.system_packages == ("graphviz", "libpq5")
    assert names(result) == {"matplotlib", "ipympl"}


def test_project_package_in_parent_or_src_layout_is_local(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    (tmp_path / "src" / "myproj").mkdir(parents=True)
    (tmp_path / "src" / "myproj" / "__init__.py").write_text("import attr\n")
    (tmp_path / "shared_helpers.py").write_text("import toolz\n")
    (tmp_path / "notebooks").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell(
        "import sys\nsys.path.append('..')\nimport myproj\nimport shared_helpers")]), tmp_path / "notebooks" / "a.ipynb")
    result = capture_paths([tmp_path], mapper=Mapper(installed=False))
    assert set(result.local_modules) == {"myproj", "shared_helpers"}
    assert names(result) == {"attrs", "toolz"}


def test_python_from_old_notebooks_is_raised_to_a_buildable_one(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import numpy")],
                      metadata={"language_info": {"name": "python", "version": "2.7.18"}})
    nbformat.write(nb, tmp_path / "old.ipynb")
    result = capture_notebook(tmp_path / "old.ipynb", mapper=Mapper(installed=False))
    assert result.spec.python == "3.10"
    assert any("Python 2.7" in note for note in result.notes)
