"""Execute real notebooks through nbclient, as a user's front end would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook


def make_notebook(path: Path, cells: Iterable[str], *, version: str = "3.11.7") -> Path:
    """Write a notebook whose code cells are ``cells``."""
    nb = new_notebook(
        cells=[new_code_cell(src) for src in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                  "language_info": {"name": "python", "version": version}},
    )
    nbformat.write(nb, path)
    return path



def run_writing_notebook(folder: Path, image: str) -> None:
    """``envkit run`` a notebook that reads ``input.txt`` and writes ``results/answer.txt`` in ``folder``.

    For engines that cannot see the client's files: the input must go in and the written file
    come back. Asserts the run, its output and the file.
    """
    (folder / "input.txt").write_text("21")
    make_notebook(folder / "nb.ipynb", ["n = int(open('input.txt').read())\nprint(n * 2)",
                                        "import pathlib\npathlib.Path('results').mkdir()\n"
                                        "pathlib.Path('results/answer.txt').write_text(str(n * 2))"])
    done = subprocess.run([sys.executable, "-m", "envkit", "run", str(folder / "nb.ipynb"), "-o",
                           str(folder / "out.ipynb"), "--image", image], capture_output=True, text=True,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    executed = nbformat.read(folder / "out.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    assert (folder / "results" / "answer.txt").read_text() == "42"


def notebook_with_record(path: Path, record: object) -> bytes:
    """Write a one-cell notebook whose ``metadata.envkit`` is ``record`` (any JSON, damaged ones too)."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import six\n"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python", "version": "3.11.2"}, "envkit": record}}
    data = json.dumps(nb, indent=1).encode()
    path.write_bytes(data)
    return data


class _Recording(NotebookClient):
    """A client that also keeps every output message the kernel sent (what a live page received)."""

    def __init__(self, *args: Any, messages: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages = messages

    def output(self, outs: list, msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
        self.messages.append({"msg_type": msg["msg_type"], "content": msg["content"], "cell": cell_index})
        return super().output(outs, msg, display_id, cell_index)


def execute(path: Path, *, session_name: str | None = "auto", timeout: int = 600,
            env: dict[str, str] | None = None, messages: list[dict[str, Any]] | None = None) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` in a fresh local kernel (cells may fail; outputs are kept).

    ``session_name`` becomes ``JPY_SESSION_NAME`` as jupyter_server sets it ("auto": the
    notebook's absolute path; None: unset, as under plain nbclient). ``messages``, when given,
    receives every output message as the kernel sent it (displays before their updates).
    """
    nb = nbformat.read(path, as_version=4)
    saved = {k: os.environ.get(k) for k in ("JPY_SESSION_NAME", *(env or {}))}
    try:
        os.environ.pop("JPY_SESSION_NAME", None)
        if session_name == "auto":
            os.environ["JPY_SESSION_NAME"] = str(path.resolve())
        elif session_name:
            os.environ["JPY_SESSION_NAME"] = session_name
        os.environ.update(env or {})
        kwargs: dict[str, Any] = dict(timeout=timeout, kernel_name="python3", allow_errors=True,
                                      resources={"metadata": {"path": str(path.parent)}})
        client = (NotebookClient(nb, **kwargs) if messages is None
                  else _Recording(nb, messages=messages, **kwargs))
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def save(nb: nbformat.NotebookNode, path: Path) -> str:
    """Write ``nb`` to ``path`` as a front end saves it; returns the saved file's text."""
    nbformat.write(nb, str(path))
    return path.read_text()


def text_of(cell: Any) -> str:
    """All text a cell showed: streams, plain-text and HTML reprs, error tracebacks."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(out.data.get("text/plain", ""))
            parts.append(out.data.get("text/html", ""))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def errors_of(cell: Any) -> list[Any]:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]
