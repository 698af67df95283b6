"""verify's exact numbers, figure sizes, warning-only streams and nbval markers."""

from __future__ import annotations

import pytest

from envkit.verify import (
    cell_marker,
    compare_cells,
    has_stored_outputs,
    is_warning_only,
    normalize_text,
    raised_cells,
    skipped_cells,
)


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def result(plain: str) -> dict:
    return {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": plain}}


def code(*outputs: dict, source: str = "", tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "execution_count": 1, "source": source, "outputs": list(outputs),
            "metadata": {"tags": list(tags)} if tags else {}}


@pytest.mark.parametrize("a, b", [
    ("<Figure size 1500x1000 with 1 Axes>", "<Figure size 1500x1001 with 1 Axes>"),  # only strict
    ("shape 1500x1000", "shape 1500x1001"),
    ("0x1f", "0x2f"),  # a short hex value is a value, not an address
    ("id 10x4000", "id 10x5000"),
])
def test_numbers_before_an_x_are_not_addresses(a, b):
    assert normalize_text(a, strict=True) != normalize_text(b, strict=True)


def test_real_addresses_are_still_masked():
    assert normalize_text("<f at 0x7ff24344ca10>") == normalize_text("<f at 0x55d1c2a0b3f0>") == "<f at 0x…>"
    assert normalize_text("size 1500x1000") == "size 1500x1000"


def test_figure_size_text_is_ignored_unless_strict():
    stored = "<Figure size 432x288 with 1 Axes>"  # matplotlib 2: 72 dpi
    new = "<Figure size 600x400 with 1 Axes>"  # matplotlib 3: 100 dpi
    assert normalize_text(stored) == normalize_text(new) == "<Figure with 1 Axes>"
    assert normalize_text(stored) != normalize_text("<Figure size 600x400 with 2 Axes>")
    assert compare_cells([code(result(stored))], [code(result(new))]) == []
    assert compare_cells([code(result(stored), source="# NBVAL_CHECK_OUTPUT\nplt.figure()")],
                         [code(result(new))])


WARNING = ("/opt/venv/lib/python3.11/site-packages/sklearn/utils/deprecation.py:87: FutureWarning: "
           "Function load_boston is deprecated\n  warnings.warn(msg, category=FutureWarning)\n")


def test_warning_only_streams_are_ignored_by_default():
    assert is_warning_only(WARNING)
    assert not is_warning_only("Traceback (most recent call last):\n  File x\n")
    assert not is_warning_only(WARNING + "but also this\n")
    stored = [code(stream("42\n"))]
    new = [code(stream("42\n"), stream(WARNING, "stderr"))]
    assert compare_cells(stored, new) == []
    assert compare_cells([code(stream("42\n"), tags=("nbval-check-output",))], new)
    # a warning printed to stdout, or stderr with other text, still counts
    assert compare_cells(stored, [code(stream("42\n"), stream(WARNING + "real error\n", "stderr"))])


def test_markers_in_source_and_tags():
    assert cell_marker(code(source="# NBVAL_IGNORE_OUTPUT\nrandom()")) == "ignore"
    assert cell_marker(code(source="x = 1  \n#NBVAL_SKIP")) == "skip"
    assert cell_marker(code(tags=("nbval-skip",))) == "skip"
    assert cell_marker(code(source="print('# NBVAL_SKIP')")) is None  # inside a string, not a comment
    cells = [code(stream("1\n"), source="# NBVAL_IGNORE_OUTPUT"), code(stream("1\n"), tags=("nbval-skip",)),
             code(stream("1\n"))]
    new = [code(stream("2\n")), code(stream("2\n")), code(stream("2\n"))]
    assert [d.cell for d in compare_cells(cells, new)] == [3]
    assert skipped_cells(cells) == [1]


def test_raised_cells_and_stored_outputs():
    err = {"output_type": "error", "ename": "AttributeError",
           "evalue": "module 'pandas' has no attribute 'read_csv_old'", "traceback": []}
    cells = [{"cell_type": "markdown", "source": "", "metadata": {}}, code(stream("ok\n")), code(err)]
    [raised] = raised_cells(cells)
    assert raised.cell == 3 and raised.describe() == "cell 3: AttributeError: module 'pandas' has no attribute 'read_csv_old'"
    assert has_stored_outputs(cells) and not has_stored_outputs([code(), code()])


def test_time_magic_durations_in_exponent_form():
    stored = "CPU times: user 7.93 ms, sys: 2.2 ms, total: 10.1 ms\nWall time: 10.2 ms"
    new = "CPU times: user 3 µs, sys: 1e+03 ns, total: 4 µs\nWall time: 6.91 µs"
    assert normalize_text(stored) == normalize_text(new)


def test_a_multi_line_warning_message_is_still_a_warning():
    pandas = ("/tmp/ipykernel_7/123.py:3: SettingWithCopyWarning: \nA value is trying to be set on a copy of a slice"
              " from a DataFrame.\nTry using .loc[row_indexer,col_indexer] = value instead\n\nSee the caveats in"
              " the documentation\n  df['a'] = 1\n")
    assert is_warning_only(pandas)
    assert is_warning_only(pandas + WARNING)
    assert not is_warning_only(pandas + "printed by the cell\n")


def test_microseconds_with_either_mu():
    assert normalize_text("sys: 295 \u03bcs") == normalize_text("sys: 2.2 ms") == normalize_text("sys: 12 \u00b5s")
