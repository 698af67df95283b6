"""The revive benchmark's eligibility rules (benchmarks/eligibility.py): decided from a notebook's code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "eligibility", Path(__file__).resolve().parents[2] / "benchmarks" / "eligibility.py")
assert _SPEC and _SPEC.loader
eligibility = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(eligibility)


def nb(*sources: str, outputs: bool = True) -> dict:
    out = [{"output_type": "stream", "name": "stdout", "text": "x\n"}] if outputs else []
    return {"cells": [{"cell_type": "code", "source": s, "outputs": out, "metadata": {}} for s in sources]}


def kinds(found: list[str]) -> list[str]:
    return [f.split(" (")[0] for f in found]


def test_a_plain_notebook_needs_nothing(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n1\n")
    code = ("import pandas as pd\n# download the data first: see https://example.org/x.csv\n"
            "df = pd.read_csv('data/x.csv')\nprint('see https://example.org')\n"
            "display(Image(url='https://example.org/a.png'))\nopen('out/result.txt', 'w').write('1')\n%matplotlib inline")
    assert eligibility.needs(nb(code), tmp_path) == []


def test_each_rule_names_what_the_code_needs(tmp_path):
    cases = {
        "network": ["pd.read_csv('https://example.org/x.csv')", "url = 'http://x.org/d'\nf(url)",
                    "from sklearn.datasets import fetch_openml\nfetch_openml('mnist')", "!wget x",
                    "sns.load_dataset('tips')", "urllib.request.urlretrieve(u, 'x')"],
        "data download": ["pd.read_csv('./data/popularity-contest')", "np.loadtxt('data.txt')",
                          "pd.read_csv('/Users/me/x.csv')"],
        "GPU": ["model.cuda()", "torch.device('cuda:0')", "import cupy"],
        "credentials": ["from getpass import getpass", "key = os.environ['OPENAI_API_KEY']", "import boto3",
                        "drive.mount('/content/drive')"],
        "a person at the keyboard": ["name = input('name? ')", "%debug", "import pdb; pdb.set_trace()"],
        "heavy framework": ["import tensorflow as tf", "from torch import nn"],
    }
    for kind, codes in cases.items():
        for code in codes:
            assert kind in kinds(eligibility.needs(nb(code), tmp_path)), code


def test_a_file_in_the_repository_root_counts_and_no_outputs_is_its_own_reason(tmp_path):
    root, folder = tmp_path, tmp_path / "notebooks"
    folder.mkdir()
    (root / "data.csv").write_text("a\n")
    assert eligibility.needs(nb("pd.read_csv('data.csv')"), folder, root) == []
    assert eligibility.needs(nb("pd.read_csv('data.csv')"), folder) == ["data download (data.csv)"]
    assert eligibility.needs(nb("1 + 1", outputs=False), folder) == ["no stored outputs"]
