"""Output comparison for ``envkit run --verify``: noise is ignored, real changes are not."""

from __future__ import annotations

import pytest

from envkit.run import compare_cells, normalize_outputs, normalize_text


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(plain: str, n: int = 1, **data: str) -> dict:
    return {"output_type": "execute_result", "execution_count": n, "metadata": {},
            "data": {"text/plain": plain, **data}}


def code(*outputs: dict, n: int = 1) -> dict:
    return {"cell_type": "code", "execution_count": n, "source": "", "outputs": list(outputs), "metadata": {}}


@pytest.mark.parametrize("a, b", [
    ("<Thing at 0x7ff24344ca10>", "<Thing at 0x55d1c2a0b3f0>"),
    ("run at 2026-11-23T09:26:01.123456", "run at 2027-01-02T23:59:59.000001"),
    ("on 2026-11-23", "on 1999-01-01"),
    ("Wall time: 1.23 s", "Wall time: 870 ms"),
    ("12.3 ms ± 1.1 ms per loop (mean ± std. dev. of 7 runs, 100 loops each)",
     "9.8 ms ± 45 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)"),
    ("100%|####| 10/10 [00:01<00:00, 9.87it/s]", "100%|####| 10/10 [00:02<00:00, 4.10it/s]"),
    ("trailing   ", "trailing"),
])
def test_noise_is_normalised_away(a, b):
    assert normalize_text(a) == normalize_text(b)


@pytest.mark.parametrize("a, b", [
    ("45", "46"),
    ("0.1234", "0.9876"),
    ("shape (3, 4)", "shape (4, 3)"),
    ("KeyError: 'a'", "KeyError: 'b'"),
])
def test_real_changes_survive(a, b):
    assert normalize_text(a) != normalize_text(b)


def test_execution_counts_metadata_and_split_streams_are_ignored():
    stored = [code(stream("a\nb\n"), result("1", n=3), n=3)]
    new = [code(stream("a\n"), stream("b\n"), result("1", n=9), n=9)]
    assert compare_cells(stored, new) == []


def test_widget_model_ids_and_binary_images_are_ignored():
    view = "application/vnd.jupyter.widget-view+json"
    a = {"output_type": "display_data", "metadata": {}, "data": {view: {"model_id": "abc"}, "image/png": "AAAA"}}
    b = {"output_type": "display_data", "metadata": {}, "data": {view: {"model_id": "xyz"}, "image/png": "BBBB"}}
    assert normalize_outputs([a]) == normalize_outputs([b])


def test_differences_name_cells_counted_over_all_cells():
    markdown = {"cell_type": "markdown", "source": "", "metadata": {}}
    stored = [markdown, code(stream("same\n")), code(stream("0.25\n"))]
    new = [markdown, code(stream("same\n")), code(stream("0.75\n"))]
    [diff] = compare_cells(stored, new)
    assert diff.cell == 3
    assert "-0.25" in diff.diff and "+0.75" in diff.diff


def test_missing_or_extra_outputs_and_errors_differ():
    err = {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": ["..."]}
    assert compare_cells([code()], [code(stream("x\n"))])
    assert compare_cells([code(err)], [code(dict(err, evalue="worse"))])
    # Tracebacks carry ANSI colours and paths: only the exception's name and value count.
    assert not compare_cells([code(err)], [code(dict(err, traceback=["other"]))])
