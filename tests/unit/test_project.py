"""Which folder a notebook's container sees: its project, not only its folder (pure)."""

from __future__ import annotations

from pathlib import Path

from envkit.project import choose_root, notebook_sources, relative_reaches

HOME = Path("/home/ana")
NB = HOME / "work/proj/a/b"


def test_relative_paths_in_string_literals_are_found():
    code = ["import sys\nsys.path.append('../..')\nimport mypkg", "df = pd.read_csv(\"../data/x.csv\")",
            "open('data.csv'); x = 'a..b'; y = '..'"]
    assert relative_reaches(code) == ["../..", "../data/x.csv", ".."]


def test_the_git_top_is_mounted_and_relative_paths_widen_a_folder_without_one():
    assert choose_root(NB, git_root=HOME / "work/proj", reached=[], home=HOME) == HOME / "work/proj"
    assert choose_root(NB, git_root=None, reached=[], home=HOME) == NB
    assert choose_root(NB, git_root=None, reached=["../data/x.csv"], home=HOME) == HOME / "work/proj/a"
    assert choose_root(NB, git_root=None, reached=["../..", "../data/x.csv"], home=HOME) == HOME / "work/proj"
    # a path inside the git top changes nothing; one out of it widens it
    assert choose_root(NB, git_root=HOME / "work/proj", reached=["../data"], home=HOME) == HOME / "work/proj"
    assert choose_root(NB, git_root=HOME / "work/proj/a", reached=["../../shared"], home=HOME) == HOME / "work/proj"


def test_never_the_home_folder_root_or_further_than_three_levels_up():
    assert choose_root(NB, git_root=HOME, reached=[], home=HOME) == NB  # a dotfiles repository
    assert choose_root(NB, git_root=Path("/"), reached=[], home=HOME) == NB
    assert choose_root(NB, git_root=None, reached=["../../../../../etc/passwd"], home=HOME) == NB
    assert choose_root(HOME / "nb", git_root=None, reached=["../other"], home=HOME) == HOME / "nb"
    assert choose_root(Path("/srv/a/b/c/d"), git_root=None, reached=["../../../x"], home=HOME) == Path("/srv/a")
    assert choose_root(Path("/srv/a/b/c/d"), git_root=None, reached=["../../../../x"], home=HOME) == Path("/srv/a/b/c/d")


def test_notebook_sources_reads_code_cells_only(tmp_path):
    nb = tmp_path / "n.ipynb"
    nb.write_text('{"cells": [{"cell_type": "markdown", "source": "\'../no\'"},'
                  ' {"cell_type": "code", "source": ["x = ", "\'../yes\'"]}]}')
    assert relative_reaches(notebook_sources(nb)) == ["../yes"]
    assert notebook_sources(tmp_path / "missing.ipynb") == []
