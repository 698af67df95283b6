"""The comm protocol (docs/frontend.md) against a real ipykernel, this test playing the front end.

What JupyterLab's extension does is done here by hand over jupyter_client: answer the kernel's
comm open with ``hello``, send the document before each execute request, and read the records
the kernel sends while it is busy. The browser test (test_frontend_browser.py) runs the real
extension.
"""

from __future__ import annotations

import json
import os
import queue
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbformat.v4 import new_code_cell, new_notebook


class FrontEnd:
    """A kernel with the messages a front end would see, and a way to speak on the comm."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=env)
        self.comm_id: str | None = None
        self.records: list[dict] = []
        self.opened: dict | None = None

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def comm_send(self, data: dict) -> None:
        msg = self.kc.session.msg("comm_msg", {"comm_id": self.comm_id, "data": data})
        self.kc.shell_channel.send(msg)

    def execute(self, code: str, document: dict | None = None, timeout: float = 120) -> list[dict]:
        """Run ``code`` (after sending ``document``, as the extension does); its iopub messages."""
        if document is not None and self.comm_id:
            self.comm_send(document)
        msg_id = self.kc.execute(code)
        seen: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            kind = msg["msg_type"]
            if kind == "comm_open" and msg["content"].get("target_name") == "envkit":
                self.comm_id = msg["content"]["comm_id"]
                self.opened = msg["content"]["data"]
            elif kind == "comm_msg" and msg["content"]["comm_id"] == self.comm_id:
                self.records.append(msg["content"]["data"])
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(msg)
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                return seen
        raise AssertionError(f"no idle after {timeout}s running {code!r}")


def errors(messages: list[dict]) -> list[str]:
    return [f"{m['content']['ename']}: {m['content']['evalue']}" for m in messages if m["msg_type"] == "error"]


def document(path: Path, cells: list[str], metadata: dict | None = None) -> dict:
    """The ``document`` message the extension sends for an editor holding ``cells``."""
    return {"type": "document", "protocol": 1, "seq": 1, "path": path.name, "server_root": str(path.parent),
            "dirty": True, "nbformat": 4, "nbformat_minor": 5, "metadata": metadata or {},
            "cells": [{"id": f"c{i}", "cell_type": "code", "source": s, "metadata": {}, "outputs": [],
                       "execution_count": None} for i, s in enumerate(cells)]}


@pytest.fixture
def frontend(tmp_path):
    env = {**os.environ, "ENVKIT_WIDGETS": "0"}
    env.pop("JPY_SESSION_NAME", None)  # the notebook's path comes from the document alone
    fe = FrontEnd(tmp_path, env)
    try:
        yield fe
    finally:
        fe.close()


def test_capture_write_reads_the_editor_and_writes_through_it(frontend, tmp_path):
    path = tmp_path / "analysis.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import json")]), path)
    on_disk = path.read_bytes()
    held = ["import json", "import requests  # typed, not saved", "%load_ext envkit"]

    out = frontend.execute("%load_ext envkit")
    assert errors(out) == []
    assert frontend.comm_id and frontend.opened["protocol"] == 1
    frontend.comm_send({"type": "hello", "protocol": 1, "app": "test", "path": path.name,
                        "server_root": str(tmp_path)})

    out = frontend.execute("%envkit capture --write", document=document(path, [*held, "%envkit capture --write"]))
    assert errors(out) == [], out
    records = [r for r in frontend.records if r.get("type") == "record"]
    assert len(records) == 1
    record = records[0]
    assert record["protocol"] == 1 and record["path"] == "analysis.ipynb" and record["request"]
    names = [r["name"] for r in record["record"]["spec"]["requirements"]]
    assert "requests" in names  # from the cell the editor holds, never saved
    assert path.read_bytes() == on_disk  # the file is the editor's to save

    # The kernel's own view follows what it wrote: a second write in the same run sees the record.
    out = frontend.execute("from envkit.notebook import read_notebook\n"
                           f"print(sorted(read_notebook({str(path)!r}).metadata))",
                           document=document(path, held, metadata={"envkit": record["record"]}))
    text = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
    assert "envkit" in text


def test_without_a_front_end_the_file_is_written_by_compare_and_swap(frontend, tmp_path):
    """nbclient or JupyterLab without the extension: nobody answers, the file is written."""
    path = tmp_path / "analysis.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import requests")]), path)
    frontend.execute("%load_ext envkit")
    out = frontend.execute(f"%envkit capture --write {path}")
    assert errors(out) == [], out
    assert [r for r in frontend.records if r.get("type") == "record"] == []
    saved = json.loads(path.read_text())
    assert "requests" in [r["name"] for r in saved["metadata"]["envkit"]["spec"]["requirements"]]


def test_a_document_from_another_protocol_version_is_ignored(frontend, tmp_path):
    path = tmp_path / "analysis.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("import json")]), path)
    frontend.execute("%load_ext envkit")
    doc = {**document(path, ["import requests"]), "protocol": 2}
    out = frontend.execute(f"%envkit capture --write {path}", document=doc)
    assert errors(out) == [], out
    assert [r for r in frontend.records if r.get("type") == "record"] == []
    saved = json.loads(path.read_text())
    assert "requests" not in [r["name"] for r in saved["metadata"]["envkit"]["spec"].get("requirements", [])]
