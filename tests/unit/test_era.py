"""Era inference and the forward rule: pure decisions over small notebooks and index data made here."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from envkit.era import Era, exclude_newer, infer_era, parse_as_of, read_clues
from envkit.era_sources import blocked_packages, parse_simple_json
from envkit.releases import (
    Floor,
    ForwardMove,
    Release,
    below_floor,
    era_floor,
    installs_on,
    move_forward,
    uv_arguments,
)

TODAY = date(2026, 11, 30)


def notebook(*cells: dict, **metadata: object) -> dict:
    return {"nbformat": 4, "nbformat_minor": 4, "metadata": metadata, "cells": list(cells)}


def code(source: str, *outputs: dict, **metadata: object) -> dict:
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": list(outputs),
            "execution_count": 1}


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(text: str) -> dict:
    return {"output_type": "execute_result", "data": {"text/plain": text}, "metadata": {}, "execution_count": 1}


# A notebook of the removed-API era: read_csv(error_bad_lines=...) and load_boston, saved on 3.6.
OLD = notebook(
    code("import pandas as pd\nimport sklearn\nprint(pd.__version__, sklearn.__version__)",
         stream("pandas 0.23.4 sklearn 0.20.1\n")),
    code("df = pd.read_csv('x.csv', error_bad_lines=False)"),
    code("from sklearn.datasets import load_boston\nX = load_boston()",
         stream("/usr/lib/python3.6/site-packages/sklearn/utils/deprecation.py:77: FutureWarning: "
                "Function load_boston is deprecated; it was deprecated in 0.20 and will be removed in 0.22\n",
                "stderr")),
    language_info={"name": "python", "version": "3.6.8"},
)
DATES = {"pandas": {"0.23.4": date(2018, 8, 3)}, "scikit-learn": {"0.20.1": date(2018, 11, 21),
                                                                  "0.22": date(2019, 12, 3)}}


def test_printed_versions_date_the_notebook_and_a_warning_caps_it():
    clues = read_clues(OLD)
    assert clues.python == "3.6" and clues.python_source == "language_info"
    found = {(v.distribution, v.version, v.before) for v in clues.versions}
    assert ("pandas", "0.23.4", False) in found and ("scikit-learn", "0.20.1", False) in found
    assert ("scikit-learn", "0.22", True) in found
    era = infer_era(clues, release_dates=DATES, git=date(2023, 5, 1), mtime=date(2026, 1, 1), today=TODAY)
    # the newest printed version wins over git and mtime; the warning's cap is later, so unused
    assert era.when == date(2018, 11, 21)
    assert era.describe() == "as of 2018-11-21: package versions in its stored outputs: scikit-learn 0.20.1 (cell 1)"
    assert era.exclude_newer() == "2018-11-22T00:00:00Z"


def test_a_removed_in_warning_caps_a_later_date():
    clues = read_clues(OLD)
    dates = {"pandas": {"0.23.4": date(2020, 1, 1)}, "scikit-learn": {"0.22": date(2019, 12, 3)}}
    era = infer_era(clues, release_dates=dates, today=TODAY)
    assert era.when == date(2019, 12, 2)
    assert "before scikit-learn 0.22" in era.reason


def test_run_times_in_metadata_beat_everything():
    nb = notebook(code("import pandas as pd", stream("pandas 0.23.4\n"),
                       execution={"iopub.status.idle": "2019-03-02T10:11:12.000Z"}),
                  code("1", ExecuteTime={"end_time": "2019-02-01T00:00:00Z"}),
                  language_info={"name": "python", "version": "3.7.3"})
    era = infer_era(read_clues(nb), release_dates=DATES, git=date(2024, 1, 1), today=TODAY)
    assert era.when == date(2019, 3, 2) and era.reason == "run times stored in the notebook"
    assert era.python == "3.7"


def test_colab_timestamps_in_milliseconds_and_papermill():
    colab = notebook(code("x = 1", executionInfo={"timestamp": 1583020800000, "status": "ok"}),
                     colab={"provenance": [{"timestamp": 1577836800000}]})
    assert infer_era(read_clues(colab), today=TODAY).when == date(2020, 3, 1)
    paper = notebook(code("x = 1"), papermill={"start_time": "2021-06-01T09:00:00", "end_time": "2021-06-02T01:00"})
    assert infer_era(read_clues(paper), today=TODAY).when == date(2021, 6, 2)


def test_git_then_mtime_then_nothing():
    plain = read_clues(notebook(code("import pandas")))
    assert infer_era(plain, git=date(2019, 3, 2), mtime=date(2025, 1, 1), today=TODAY).describe() == (
        "as of 2019-03-02: last git commit touching the notebook")
    assert infer_era(plain, mtime=date(2020, 5, 5), today=TODAY).reason == "the file's modification time"
    none = infer_era(plain, today=TODAY)
    assert none.when is None and none.exclude_newer() is None and uv_arguments(none, []) == []
    assert none.describe().startswith("as of now:")


def test_future_and_pre_notebook_dates_are_ignored():
    nb = notebook(code("x", execution={"iopub.status.idle": "2099-01-01T00:00:00Z"}),
                  code("y", execution={"iopub.status.idle": "1970-01-01T00:00:00Z"}))
    assert infer_era(read_clues(nb), git=date(2020, 1, 1), today=TODAY).reason.startswith("last git commit")


def test_version_as_bare_result_of_dunder_and_python_from_traceback_paths():
    nb = notebook(code("np.__version__", result("'1.16.2'")),
                  code("boom()", {"output_type": "error", "ename": "E", "evalue": "",
                                  "traceback": ["  File /opt/conda/lib/python3.7/site-packages/numpy/x.py"]}))
    clues = read_clues(nb)
    assert [(v.distribution, v.version) for v in clues.versions] == [("numpy", "1.16.2")]
    assert clues.python == "3.7" and "cell 2" in clues.python_source


def test_a_number_that_is_not_a_version_is_not_read_as_one():
    nb = notebook(code("df.shape", result("(891, 12)")), code("print(x)", stream("pd 12 rows\n")),
                  code("t", result("<tf.Tensor: shape=(), dtype=float32, numpy=42.0>")),
                  code("v", stream("numpy 1.5 and np: 2.0\n")))
    assert read_clues(nb).versions == ()
    named = notebook(code("print(np.__version__, 'numpy version: 1.16')", stream("numpy version: 1.16\n")))
    assert [(v.distribution, v.version) for v in read_clues(named).versions] == [("numpy", "1.16")]


def test_parse_as_of():
    assert parse_as_of("2019-03-02", today=TODAY) == date(2019, 3, 2)
    assert parse_as_of("now", today=TODAY) is None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_as_of("last spring", today=TODAY)
    with pytest.raises(ValueError, match="future"):
        parse_as_of("2030-01-01", today=TODAY)
    assert exclude_newer(date(2019, 12, 31)) == "2020-01-01T00:00:00Z"


def t(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def rel(version: str, day: str, *files: str, requires: str | None = None) -> Release:
    return Release(version=version, files=tuple((f, t(day)) for f in files), requires_python=requires)


PANDAS = [
    rel("0.24.1", "2019-02-03", "pandas-0.24.1-cp37-cp37m-manylinux1_x86_64.whl", "pandas-0.24.1.tar.gz"),
    rel("1.4.4", "2022-08-31", "pandas-1.4.4-cp310-cp310-manylinux_2_17_x86_64.whl", "pandas-1.4.4.tar.gz"),
    rel("1.5.0rc0", "2022-09-01", "pandas-1.5.0rc0-cp311-cp311-manylinux_2_17_x86_64.whl"),
    rel("1.5.0", "2022-09-19", "pandas-1.5.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pandas-1.5.0.tar.gz", requires=">=3.8"),
    rel("1.5.1", "2022-10-19", "pandas-1.5.1-cp311-cp311-manylinux_2_17_x86_64.whl"),
]


def test_wheel_tags_decide_what_installs():
    assert installs_on(PANDAS[0], "3.7") and not installs_on(PANDAS[0], "3.11")
    assert installs_on(PANDAS[3], "3.11") and not installs_on(PANDAS[3], "3.7")  # requires-python
    pure = rel("1.0", "2019-01-01", "six-1.0-py2.py3-none-any.whl")
    sdist_only = rel("1.0", "2019-01-01", "tabulate-1.0.tar.gz")
    abi3 = rel("1.0", "2019-01-01", "cryptography-1.0-cp36-abi3-manylinux2014_x86_64.whl")
    mac = rel("1.0", "2019-01-01", "x-1.0-cp311-cp311-macosx_11_0_arm64.whl")
    assert installs_on(pure, "3.13") and installs_on(sdist_only, "3.11") and installs_on(abi3, "3.11")
    assert not installs_on(mac, "3.11")


def test_move_forward_to_the_earliest_release_with_a_wheel_for_the_python():
    move = move_forward("Pandas", PANDAS, cutoff=t("2019-03-03"), python="3.11")
    assert move == ForwardMove(distribution="pandas", version="1.5.0", exclude_newer="2022-09-19T00:00:01Z",
                               reason="0.24.1 has no wheel for Python 3.11; 1.5.0 (2022-09-19) is the first that does")
    assert move_forward("pandas", PANDAS, cutoff=t("2019-03-03"), python="3.7") is None  # the era's choice installs
    assert move_forward("pandas", PANDAS, cutoff=t("2019-03-03"), python="3.11", specifier=">=1.5.1").version == "1.5.1"
    assert move_forward("pandas", PANDAS[:2], cutoff=t("2019-03-03"), python="3.11") is None  # nothing later
    era = Era(when=date(2019, 3, 2), reason="r")
    assert uv_arguments(era, [move]) == ["--exclude-newer", "2019-03-03T00:00:00Z",
                                         "--exclude-newer-package", "pandas=2022-09-19T00:00:01Z"]


def test_simple_json_pages_and_uv_errors_are_read():
    page = {"files": [
        {"filename": "pandas-1.5.0-cp311-cp311-manylinux_2_17_x86_64.whl", "upload-time": "2022-09-19T10:00:00.1Z",
         "requires-python": ">=3.8", "yanked": False},
        {"filename": "pandas-1.5.0.tar.gz", "upload-time": "2022-09-19T09:00:00Z"},
        {"filename": "pandas-0.1.zip", "upload-time": None},
        {"filename": "junk.txt", "upload-time": "2022-09-19T09:00:00Z"},
    ]}
    (release,) = parse_simple_json("pandas", page)
    assert release.version == "1.5.0" and release.requires_python == ">=3.8" and not release.yanked
    assert release.uploaded == t("2022-09-19T09:00:00")
    message = ("Because pandas<=1.4.4 has no usable wheels and only the following versions ... "
               "Because only python-dateutil<=2.8.0 is available and pandas>=1.5.0 depends on\n"
               "python-dateutil>=2.8.1, we can conclude")
    assert blocked_packages(message) == [("pandas", ""), ("python-dateutil", ">=2.8.1")]


def test_current_packages_get_todays_cut_off():
    era = Era(when=date(2019, 3, 2), reason="r")
    args = uv_arguments(era, [], current=["IPyKernel"], now=t("2026-11-30T12:00:00"))
    assert args == ["--exclude-newer", "2019-03-03T00:00:00Z", "--exclude-newer-package", "ipykernel=2026-11-30T12:00:00Z"]


def test_the_python_patch_release_dates_a_notebook_with_no_better_evidence():
    from envkit.era import python_release_era

    nb = notebook(code("import numpy as np"), language_info={"name": "python", "version": "3.9.2"})
    clues = read_clues(nb)
    assert clues.python == "3.9" and clues.python_version == "3.9.2"
    # 3.9.0 came out 2020-10-05; 3.9.2 was current about three bugfix releases later
    era = infer_era(clues, mtime=date(2026, 11, 29), today=TODAY)  # a fresh copy's mtime loses to it
    assert era.when == date(2021, 4, 6) and era.describe() == (
        "as of 2021-04-06: the Python it ran on: 3.9.2, the newest 3.9 about then")
    assert infer_era(clues, git=date(2022, 6, 1), today=TODAY).reason.startswith("last git commit")
    # never past the line's end of life; a line still supported (3.11 until 2027-10) dates nothing:
    # distributions keep one patch release for years while their users install today's packages
    assert python_release_era("3.8.30", today=TODAY) == date(2024, 10, 14)
    assert python_release_era("3.11.2", today=TODAY) is None and python_release_era("3.15.0", today=TODAY) is None
    assert python_release_era("3.11.2", today=date(2027, 11, 1)) == date(2023, 4, 25)
    # too wide to say anything: Python 2, no patch level, a Python from before the table
    assert [python_release_era(v, today=TODAY) for v in ("2.7.18", "3.9", "3.3.7", "")] == [None] * 4
    # a version read from a traceback path has no patch level: it dates nothing
    paths = read_clues(notebook(code("1", {"output_type": "error", "ename": "E", "evalue": "",
                                           "traceback": ["/usr/lib/python3.7/site-packages/numpy/x.py"]})))
    assert paths.python == "3.7" and infer_era(paths, today=TODAY).when is None


def test_an_eras_matplotlib_bounds_the_kernels_matplotlib_inline():
    from envkit.era_sources import era_bounds

    # matplotlib-inline 0.2 needs matplotlib 3.7: bounded when the notebook needs matplotlib
    assert era_bounds(["numpy", "Matplotlib>=3.1", "ipykernel", "matplotlib"]) == ["matplotlib-inline<0.2"]
    assert era_bounds(["numpy", "ipykernel"]) == []


# ipywidgets' releases around a 2021 era: uv went back to 5.2.2 (2016) when 7.6.3's dependencies had no wheel.
IPYWIDGETS = [
    rel("5.2.2", "2016-08-26", "ipywidgets-5.2.2-py2.py3-none-any.whl"),
    rel("7.5.0", "2019-06-28", "ipywidgets-7.5.0-py2.py3-none-any.whl"),
    rel("7.5.1", "2019-07-29", "ipywidgets-7.5.1-py2.py3-none-any.whl"),
    rel("7.4.3", "2020-07-01", "ipywidgets-7.4.3-py2.py3-none-any.whl"),  # a backport: uploaded later, older version
    rel("8.0.0a0", "2020-05-01", "ipywidgets-8.0.0a0-py3-none-any.whl"),
    rel("7.6.3", "2020-12-29", "ipywidgets-7.6.3-py2.py3-none-any.whl"),
    rel("7.8.5", "2024-10-22", "ipywidgets-7.8.5-py2.py3-none-any.whl"),
]


def test_the_floor_is_the_release_current_a_year_before_the_era():
    # 2020-06-02 is a year before: 7.5.1 was the newest final then (not the 8.0 prerelease, not the later backport)
    assert era_floor("IPyWidgets", IPYWIDGETS, cutoff=t("2021-06-02"), python="3.11") == Floor(
        distribution="ipywidgets", version="7.5.1", uploaded=date(2019, 7, 29))
    assert era_floor("ipywidgets", IPYWIDGETS, cutoff=t("2022-01-01"), python="3.11").version == "7.6.3"
    # nothing a year before the era (a young package): no floor
    assert era_floor("ipywidgets", IPYWIDGETS, cutoff=t("2017-01-01"), python="3.11") is None
    assert era_floor("ipywidgets", [], cutoff=t("2021-06-02"), python="3.11") is None


def test_the_floor_skips_releases_that_exclude_the_python_or_were_yanked():
    releases = [rel("1.0", "2019-01-01", "x-1.0-py3-none-any.whl"),
                rel("1.1", "2019-06-01", "x-1.1-py3-none-any.whl", requires="<3.10"),
                Release(version="1.2", files=(("x-1.2-py3-none-any.whl", t("2019-09-01")),), yanked=True)]
    assert era_floor("x", releases, cutoff=t("2021-01-01"), python="3.11").version == "1.0"
    assert era_floor("x", releases, cutoff=t("2021-01-01"), python="3.9").version == "1.1"


def test_below_floor_names_the_floors_a_resolution_went_under():
    floor = Floor(distribution="ipywidgets", version="7.5.1", uploaded=date(2019, 7, 29))
    other = Floor(distribution="pandas", version="1.0.0", uploaded=date(2020, 1, 29))
    assert below_floor([floor, other], ["ipywidgets==5.2.2", "pandas==1.2.4", "six==1.16.0"]) == [(floor, "5.2.2")]
    assert below_floor([floor], ["ipywidgets==7.6.3"]) == []
    assert below_floor([floor], ["pandas==1.2.4"]) == []  # not in the resolution: nothing to say
    assert floor.requirement() == "ipywidgets>=7.5.1"


def test_floors_only_for_unversioned_requirements_and_none_when_the_index_does_not_answer():
    import socket

    from envkit.era_sources import _floors
    from envkit.settings import PipSettings

    with socket.socket() as s:  # a loopback port nothing listens on: the index refuses at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refusing = PipSettings(index_url=f"http://127.0.0.1:{port}/simple")
    era = Era(when=date(2021, 6, 1), reason="r")
    known = {"ipywidgets": IPYWIDGETS}
    floors = _floors(["ipywidgets", "pandas==1.2.4", "numpy<1.20", "ipykernel"], era, "3.11", settings=refusing,
                     skip=["ipykernel"], releases=known)
    assert [f.requirement() for f in floors] == ["ipywidgets>=7.5.1"]  # the notebook's own versions are its word
    assert _floors(["ipywidgets"], era, "3.11", settings=refusing, skip=[], releases={}) == []
    assert _floors(["ipywidgets"], Era(when=None, reason="now"), "3.11", settings=refusing, skip=[],
                   releases=known) == []
