"""Installs that only Colab runs are hints (the package), not pins the image must honour."""

from __future__ import annotations

from pathlib import Path

from support.notebooks import make_notebook

from envkit.capture import capture_notebook
from envkit.capture.mapping import Mapper


def write(tmp_path: Path, *sources: str) -> Path:
    return make_notebook(tmp_path / "nb.ipynb", sources)


def capture(path: Path):
    return capture_notebook(path, mapper=Mapper(installed=False))


def test_installs_under_a_colab_guard_are_hints_and_others_stay_pins(tmp_path):
    result = capture(write(
        tmp_path,
        "import sys\nif 'google.colab' in sys.modules:\n    !pip install pandas==0.25.3\nelse:\n    !pip install six==1.16.0",
        "try:\n    import google.colab\n    %pip install tqdm==4.30.0\nexcept ImportError:\n    pass",
        "try:\n    from google import colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False",
        "if IN_COLAB:\n    !pip install -q requests==2.0.0\nif not IN_COLAB:\n    !pip install attrs==19.1.0",
    ))
    spec = result.spec
    for name in ("pandas", "tqdm", "requests"):
        req = spec.requirement(name)
        assert req is not None and req.specifier == "" and not req.optional, name
    assert spec.requirement("six").specifier == "==1.16.0"
    assert spec.requirement("attrs").specifier == "==19.1.0"
    assert any("pandas==0.25.3 is installed on Colab only; a hint, not a pin" in n for n in result.notes)
