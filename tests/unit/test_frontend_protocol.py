"""envkit.frontend's rules, without a kernel: which document a request gets, what a record changes.

The comm is a small recording object; the protocol against a real ipykernel is in
tests/integration/test_frontend_comm.py, and in a real JupyterLab in test_frontend_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit import frontend
from envkit.notebook import read_notebook, write_envkit
from envkit.spec import EnvkitMetadata, EnvSpec


class Comm:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.handlers: dict[str, object] = {}

    def send(self, data: dict) -> None:
        self.sent.append(data)

    def on_msg(self, fn) -> None:  # type: ignore[no-untyped-def]
        self.handlers["msg"] = fn

    def on_close(self, fn) -> None:  # type: ignore[no-untyped-def]
        self.handlers["close"] = fn

    def close(self) -> None:
        pass


class Kernel:
    """Stands for ipykernel's Kernel: the parent header of the request being handled."""

    def __init__(self) -> None:
        self.session = "tab-1"

    def get_parent(self, channel: str) -> dict:
        return {"header": {"session": self.session, "msg_type": "execute_request"}}


@pytest.fixture
def link(monkeypatch):
    comm, kernel = Comm(), Kernel()
    link = frontend._Link(comm=comm)
    monkeypatch.setattr(frontend, "_link", link)
    monkeypatch.setattr(frontend, "_kernel", kernel)
    return link, comm, kernel


def message(session: str, data: dict) -> dict:
    return {"header": {"session": session}, "content": {"data": data}}


def doc(root: Path, name: str, cells: list[str], **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"type": "document", "protocol": 1, "seq": 1, "path": name, "server_root": str(root), "dirty": True,
            "nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"id": f"c{i}", "cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                       "execution_count": None} for i, s in enumerate(cells)], **extra}


def test_the_request_gets_the_document_of_its_own_tab(link, tmp_path):
    state, _, kernel = link
    frontend._on_msg(state, message("tab-1", doc(tmp_path, "a.ipynb", ["import attrs"])))
    frontend._on_msg(state, message("tab-2", doc(tmp_path, "a.ipynb", ["import six"])))
    nb = read_notebook(tmp_path / "a.ipynb")  # no such file: the editor's document is the notebook
    assert nb.source == "editor" and [c.source for c in nb.code_cells()] == ["import attrs"]
    kernel.session = "tab-2"
    assert [c.source for c in read_notebook(tmp_path / "a.ipynb").code_cells()] == ["import six"]
    kernel.session = "console"  # a console on the same kernel sends no document: the file
    assert frontend.document(tmp_path / "a.ipynb") is None


def test_a_document_is_used_only_for_its_own_notebook(link, tmp_path):
    state, _, _ = link
    frontend._on_msg(state, message("tab-1", doc(tmp_path, "sub/a.ipynb", ["x = 1"])))
    assert frontend.document(tmp_path / "sub" / "a.ipynb") is not None
    assert frontend.document(tmp_path / "a.ipynb") is None
    assert frontend.notebook_path() == (tmp_path / "sub" / "a.ipynb").resolve()
    # Without a server root the relative path must end the notebook's absolute path.
    frontend._on_msg(state, message("tab-1", doc(tmp_path, "sub/a.ipynb", ["x = 1"], server_root="")))
    assert frontend.document(tmp_path / "sub" / "a.ipynb") is not None
    assert frontend.document(tmp_path / "other" / "a.ipynb") is None


def test_another_protocol_version_or_a_malformed_document_is_ignored(link, tmp_path):
    state, _, _ = link
    frontend._on_msg(state, message("tab-1", {**doc(tmp_path, "a.ipynb", []), "protocol": 2}))
    frontend._on_msg(state, message("tab-1", {**doc(tmp_path, "a.ipynb", []), "cells": "not a list"}))
    assert frontend.document() is None


def test_a_record_goes_to_the_editor_and_the_file_is_untouched(link, tmp_path):
    state, comm, _ = link
    path = tmp_path / "a.ipynb"
    path.write_text("not even json: the file is the editor's business")
    frontend._on_msg(state, message("tab-1", doc(tmp_path, "a.ipynb", ["import attrs"])))
    meta = EnvkitMetadata(spec=EnvSpec(python="3.11"))
    assert write_envkit(path, meta) == "editor"
    assert path.read_text() == "not even json: the file is the editor's business"
    [sent] = comm.sent
    assert sent["type"] == "record" and sent["protocol"] == 1 and sent["path"] == "a.ipynb"
    assert sent["record"] == meta.to_json() and sent["request"]
    # The kernel's copy follows, so a read later in the same cell sees the record.
    assert read_notebook(path).envkit() == meta


def test_after_the_comm_closes_reads_and_writes_go_to_the_file(link, tmp_path):
    state, comm, _ = link
    frontend._on_msg(state, message("tab-1", doc(tmp_path, "a.ipynb", ["import attrs"])))
    frontend._on_close(state)
    assert frontend.document() is None
    assert frontend.write_record(tmp_path / "a.ipynb", {}) is False
    assert comm.sent == []


def test_outside_a_kernel_connect_opens_nothing():
    class Shell:  # plain IPython in a terminal has no kernel
        pass

    assert frontend.connect(Shell()) is False
