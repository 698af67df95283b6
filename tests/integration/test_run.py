"""``envkit run`` and ``execute_cell``: notebooks executed in a container kernel through nbclient."""
# ruff: noqa: F811  (pytest fixtures imported from support.kernels)

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from support.kernels import env_image, kernel_containers, kernel_image, wait_until  # noqa: F401

from envkit.run import execute_cell

pytestmark = pytest.mark.docker
DATA = Path(__file__).resolve().parent.parent / "data" / "run"


def envkit_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envkit", "run", *args], capture_output=True, text=True)


def test_verify_reproducing_notebook(engine, kernel_image, tmp_path):
    nb = shutil.copy(DATA / "reproduces.ipynb", tmp_path)
    out = tmp_path / "out.ipynb"
    done = envkit_run(str(nb), "-o", str(out), "--verify", "--image", kernel_image)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reproduced" in done.stdout
    executed = nbformat.read(out, as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "45\n"
    assert not kernel_containers(engine)


def test_verify_reports_the_cell_that_differs(engine, kernel_image, tmp_path):
    nb = shutil.copy(DATA / "random.ipynb", tmp_path)
    done = envkit_run(str(nb), "--verify", "--image", kernel_image)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 of 2 code cells differ" in done.stdout + done.stderr
    assert "cell 3:" in done.stdout and "cell 2:" not in done.stdout
    assert not kernel_containers(engine)


def test_execute_cell_returns_outputs_in_the_folder(engine, kernel_image, tmp_path):
    (tmp_path / "data.txt").write_text("from the host")
    outputs = execute_cell(kernel_image, "print(open('data.txt').read())\n"
                                         "from IPython.display import HTML, display\n"
                                         "display(HTML('<b>x</b>'))\n1/0", cwd=tmp_path)
    kinds = [o["output_type"] for o in outputs]
    assert kinds == ["stream", "display_data", "error"]
    assert outputs[0]["text"] == "from the host\n"
    assert outputs[1]["data"]["text/html"] == "<b>x</b>"
    assert outputs[2]["ename"] == "ZeroDivisionError"
    assert not kernel_containers(engine)


def test_kernel_that_cannot_start_is_explained(engine, base_image, tmp_path):
    from envkit.errors import KernelError
    from envkit.run import run_notebook

    nb = shutil.copy(DATA / "reproduces.ipynb", tmp_path)
    # The base image has no `python` (only python3) and no ipykernel: the kernel cannot start.
    with pytest.raises(KernelError, match="did not start") as info:
        run_notebook(nb, image=base_image)
    assert "exec python failed" in str(info.value)
    assert not kernel_containers(engine)


def test_run_uses_the_notebooks_own_image(engine, env_image, base_image, tmp_path):
    from support.build import run_notebook, tiny_notebook, tiny_spec

    nb = tiny_notebook(tmp_path / run_notebook("tiny"), spec=tiny_spec(),
                       cells=("import six, sys\nprint(sys.executable)",))
    out = tmp_path / "out.ipynb"
    # env_image built this spec already: the run finds it by spec digest instead of building.
    done = envkit_run(str(nb), "-o", str(out), "--base-image", base_image)
    assert done.returncode == 0, done.stdout + done.stderr
    text = nbformat.read(out, as_version=4).cells[0].outputs[0]["text"]
    assert text.strip() == "/opt/envkit/venv/bin/python"
    assert not kernel_containers(engine)


def _slow_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# slow"),
                                         nbformat.v4.new_code_cell("print('first')"),
                                         nbformat.v4.new_code_cell("import time\ntime.sleep(600)")])
    nbformat.write(nb, path)
    return path


def test_a_cell_timeout_is_one_line_naming_the_cell(engine, kernel_image, tmp_path):
    nb = _slow_notebook(tmp_path / "slow.ipynb")
    out = tmp_path / "out.ipynb"
    done = envkit_run(str(nb), "-o", str(out), "--image", kernel_image, "--timeout", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("envkit: ")]
    assert "cell 3 did not finish within the timeout of 3 s" in line and str(out) in line, done.stderr
    executed = nbformat.read(out, as_version=4)  # the partial copy: cell 2 ran, cell 3 did not finish
    assert executed.cells[1].outputs[0]["text"] == "first\n"
    assert wait_until(lambda: not kernel_containers(engine))  # removal is asynchronous in the engine


def test_an_interrupt_is_reported_as_an_interrupt(engine, kernel_image, tmp_path):
    import os
    import signal

    nb = _slow_notebook(tmp_path / "slow.ipynb")
    proc = subprocess.Popen([sys.executable, "-m", "envkit", "run", str(nb), "--image", kernel_image],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # Ctrl-C reaches the whole foreground process group; it lands while the kernel starts
        # or while a cell runs, depending on the machine: both must read as an interrupt.
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "executing" in line:
                break
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "did not start" not in err and "ipykernel" not in err
    [line] = [x for x in err.splitlines() if x.startswith("envkit: ")]
    assert "interrupted" in line, err
    assert wait_until(lambda: not kernel_containers(engine))  # removal is asynchronous in the engine
