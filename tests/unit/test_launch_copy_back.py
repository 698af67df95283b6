"""What ``envkit launch`` says after copying a remote engine's files back (pure logic, no engine)."""

from __future__ import annotations

from pathlib import Path

from envkit.kernels.transfer import Returned
from envkit.launch import LabServer


def _server(tmp_path: Path, **kwargs) -> LabServer:
    return LabServer(url="http://127.0.0.1:1/lab/tree/a.ipynb?token=t", base_url="http://127.0.0.1:1/lab/tree/a.ipynb",
                     token="t", port=1, container_id="c" * 64, image_id="sha256:x", notebook=tmp_path / "a.ipynb",
                     **kwargs)


def test_a_local_launch_reports_nothing(tmp_path):
    assert _server(tmp_path).copy_back_report() == []


def test_the_files_that_came_back_and_each_kept_client_change_are_named(tmp_path):
    done = Returned(written=("a.ipynb", "results/out.csv"), conflicts=("notes.txt",), beside=("notes.from-lab.txt",))
    report = _server(tmp_path, copied_back=done).copy_back_report()
    assert report[0] == ("info", f"copied 2 file(s) JupyterLab created or changed back to {tmp_path}: "
                                 "a.ipynb, results/out.csv")
    assert report[1][0] == "warning"
    assert "notes.txt changed" in report[1][1] and "kept yours" in report[1][1]
    assert "notes.from-lab.txt" in report[1][1]


def test_a_failed_copy_back_says_the_edits_are_lost(tmp_path):
    ((level, text),) = _server(tmp_path, copy_error="copying /x out of container c: not found").copy_back_report()
    assert level == "warning" and "not found" in text and "lost" in text


def test_a_server_stopped_from_another_process_does_not_say_the_edits_are_lost(tmp_path):
    ((level, text),) = _server(tmp_path, removed_elsewhere=True).copy_back_report()
    assert level == "info" and "another process" in text and "lost" not in text
