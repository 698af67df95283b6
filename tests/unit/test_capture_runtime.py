"""Run-time needs: calls whose packages no import names, from envkit/data/runtime_needs.json."""

from __future__ import annotations

from pathlib import Path

from support.notebooks import make_notebook

from envkit.capture import capture_notebook
from envkit.capture.mapping import Mapper
from envkit.capture.runtime import applicable, load_runtime_rules, runtime_needs


def write(tmp_path: Path, *sources: str) -> Path:
    return make_notebook(tmp_path / "nb.ipynb", sources)


def capture(path: Path):
    return capture_notebook(path, mapper=Mapper(installed=False))


def test_a_geopandas_plot_adds_matplotlib_as_optional_with_its_cell(tmp_path):
    result = capture(write(tmp_path, "import geopandas as gpd", "w = gpd.read_file('x.shp')\nw.plot()"))
    mpl = result.spec.requirement("matplotlib")
    assert mpl is not None and mpl.optional
    [source] = mpl.sources
    assert source.kind == "runtime" and source.cell == 2
    assert source.describe() == "cell 2: calls .plot() on a geopandas object (matplotlib draws it)"


def test_an_import_of_matplotlib_keeps_it_required(tmp_path):
    result = capture(write(tmp_path, "import pandas as pd\nimport matplotlib.pyplot as plt", "pd.Series([1]).plot()"))
    mpl = result.spec.requirement("matplotlib")
    assert not mpl.optional and {s.kind for s in mpl.sources} == {"import"}
    assert not any(r["name"] == "plot" for r in applicable({"pandas", "matplotlib"}))


def test_no_enabling_import_no_need(tmp_path):
    # .plot() on something else, read_excel of another library: pandas is not imported
    result = capture(write(tmp_path, "import numpy as np\nax.plot(np.arange(3))\nbook.read_excel('a.xlsx')"))
    assert {r.name for r in result.spec.requirements} == {"numpy"}


def test_io_calls_pick_their_engines(tmp_path):
    result = capture(write(tmp_path, "import pandas as pd",
                           "a = pd.read_excel('old.xls')\nb = pd.read_excel('new.xlsx')\n"
                           "a.to_parquet('a.parquet')\nprint(a.to_markdown())\nt = pd.read_html('t.html')\n"
                           "a.style.highlight_max()\nplt.style.use('ggplot')\nc = pd.read_csv('c.csv', engine='pyarrow')"))
    optional = {r.name for r in result.spec.requirements if r.optional}
    assert optional == {"xlrd", "openpyxl", "pyarrow", "tabulate", "lxml", "jinja2"}
    xlrd = result.spec.requirement("xlrd")
    assert xlrd.sources[0].text == "calls read_excel on a .xls file (pandas reads it with xlrd)"


def test_plt_style_is_not_a_styler():
    rules = applicable({"pandas"})
    assert runtime_needs("import matplotlib.pyplot as plt\nplt.style.use('ggplot')", rules) == []
    assert [n.distribution for n in runtime_needs("df.style", rules)] == ["jinja2"]


def test_database_urls_and_spacy_models(tmp_path):
    result = capture(write(tmp_path, "from sqlalchemy import create_engine\nimport spacy",
                           "e = create_engine('postgresql://me@db/x')\nf = create_engine('sqlite:///x.db')",
                           "nlp = spacy.load('en_core_web_sm')"))
    assert result.spec.requirement("psycopg2-binary").optional
    assert not any(r.name.startswith("en") for r in result.spec.requirements)
    [model] = [u for u in result.unresolved if u.module == "en_core_web_sm"]
    assert "python -m spacy download en_core_web_sm" in model.reason
    assert model.sources[0].cell == 3


def test_r_magic_brings_r_as_system_packages(tmp_path):
    result = capture(write(tmp_path, "%load_ext rpy2.ipython"))
    assert result.spec.requirement("rpy2") is not None
    assert "r-base-core" in result.spec.system_packages


def test_unparsable_cells_give_nothing_and_every_rule_is_well_formed():
    assert runtime_needs("print 'python 2' df.plot(", applicable({"pandas"})) == []
    kinds = {"call", "attribute", "keyword", "url", "model"}
    for rule in load_runtime_rules():
        assert rule["match"] in kinds and rule["after"] and rule["why"]
        assert rule.get("needs") or rule.get("schemes") or rule["match"] == "model"


def test_scikit_learn_as_frame_needs_pandas(tmp_path):
    result = capture(write(tmp_path, "from sklearn.datasets import load_iris", "iris = load_iris(as_frame=True)"))
    pandas = result.spec.requirement("pandas")
    assert pandas.optional and pandas.sources[0].text == "asks scikit-learn for as_frame=True (a pandas DataFrame)"
    assert capture(write(tmp_path, "from sklearn.datasets import load_iris", "load_iris(as_frame=1)")
                   ).spec.requirement("pandas") is None
