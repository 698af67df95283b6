"""Which notebooks the revive benchmark counts: decided from each notebook's code, never by hand.

The goal of issue 9 is stated over notebooks "that need no network, data download, GPU or
credentials". ``needs(nb, folder, root)`` names what a notebook needs beyond its repository and a
headless kernel, first found first; an empty list makes it eligible. The rules, in order:

- **no stored outputs**: nothing to compare a run against.
- **network**: a URL in a string the code uses (not one only printed or shown: ``print``,
  ``display``, ``HTML``, ``Markdown``, ``IFrame``, ``Image(url=...)``, ``YouTubeVideo``), a fetching call
  (``urlopen``, ``urlretrieve``, ``requests.get``, ``httpx``, ``wget``/``curl``/``git clone`` shell
  lines), or a loader that downloads its data (scikit-learn's ``fetch_*``, seaborn's and Hugging
  Face's ``load_dataset``, ``from_pretrained``, Keras' ``datasets.*.load_data``, ``tfds.load``,
  ``download=True``, ``nltk.download``, ``pandas_datareader``, ``yfinance``). ``pip install`` lines
  are not: the build installs them.
- **data download**: a data file named by a string literal (``data/x.csv``), or a path read by
  ``open``, ``read_*``, ``load``, ``loadtxt``, ``imread``... (``./data/popularity-contest``; not
  a file opened for writing), that is in neither the notebook's folder nor its repository's
  root and that the notebook does not write itself, or a path on the author's machine
  (``/Users/...``, ``/home/...``, ``C:\\...``, ``~/...``).
- **GPU**: ``.cuda(``, a ``"cuda"`` device, ``tf.config`` GPU queries, CuPy, ``numba.cuda``, ``nvidia-smi``.
- **credentials**: ``getpass``, an environment variable named like a key, token, secret or
  password, SDKs of hosted services (boto3, google.cloud, azure, openai, kaggle, tweepy, praw),
  Colab's ``drive.mount`` / ``auth``.
- **a person**: ``input()``, ``%debug``, ``pdb.set_trace()``, ``breakpoint()`` (a headless run has
  no keyboard).
- **heavy framework** (reported apart, not part of the goal's wording): TensorFlow, PyTorch,
  Keras, JAX, PySpark. Their wheels are hundreds of megabytes; on the two shared cores here one
  build takes longer than the rest of a run. They are listed with their count, not hidden.

Comments are ignored (``# download the data first`` is not a download).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path
from typing import Any

URL = re.compile(r"^\s*(?:https?|ftp|s3|gs)://", re.I)
SHOWN = {"print", "display", "HTML", "Markdown", "IFrame", "Image", "YouTubeVideo", "Video", "Audio",
         "Javascript", "Latex", "FileLink", "Link"}
FETCH = re.compile(
    r"\burlopen\s*\(|\burlretrieve\s*\(|\brequests\.(?:get|post|Session)\b|\bhttpx\.|\burllib3\b|"
    r"^\s*!\s*(?:wget|curl|git\s+clone)\b|\bfetch_\w+\s*\(|\bload_dataset\s*\(|\bfrom_pretrained\s*\(|"
    r"\bdatasets\.\w+\.load_data\s*\(|\btfds\.load\s*\(|\bdownload\s*=\s*True|\bnltk\.download\s*\(|"
    r"\bpandas_datareader\b|\bDataReader\s*\(|\byfinance\b|\bgdown\b|\bopenml\b", re.M)
DATA_FILE = re.compile(r"""['"]([\w./ ~-]+\.(?:csv|tsv|txt|json|xlsx?|h5|hdf5?|dat|npy|npz|pkl|pickle|gz|zip|"""
                       r"""bz2|db|sqlite|parquet|feather|png|jpe?g|gif|tiff?|shp|geojson|mat|wav|nc))['"]""")
# The first argument of a call that reads a file: a path with a folder or an extension ("./data/popcon").
READ_CALL = re.compile(r"""\b(?:open|read_\w+|load|loadtxt|genfromtxt|fromfile|imread|ExcelFile|HDFStore)\s*\(\s*"""
                       r"""[rbuf]?['"]([^'"{}<>\n]*(?:/|\.\w{1,5})[^'"{}<>\n]*)['"]\s*(,\s*['"][wax])?""")
# Files the notebook writes itself (and may read back later): not a download.
WRITE_CALL = re.compile(r"""\b(?:open\s*\(\s*['"]([^'"]+)['"]\s*,\s*['"][wax]|(?:to_\w+|savefig|save\w*|dump|"""
                        r"""imwrite|write\w*)\s*\(\s*['"]([^'"]+)['"])""")
AUTHOR_PATH = re.compile(r"""['"](?:/Users/|/home/|~/|[A-Za-z]:\\\\)""")
GPU = re.compile(r"\.cuda\b|['\"]cuda(?::\d+)?['\"]|list_physical_devices\s*\(\s*['\"]GPU|\bcupy\b|"
                 r"\bnumba\.cuda\b|from numba import cuda|nvidia-smi|\bgpu_options\b")
CREDENTIALS = re.compile(
    r"\bgetpass\b|\b(?:environ|getenv)\b[^\n]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)|"
    r"\bimport\s+(?:boto3|botocore|openai|kaggle|tweepy|praw)\b|\bfrom\s+(?:boto3|openai|kaggle|tweepy)\b|"
    r"\bgoogle\.cloud\b|from google\.cloud\b|\bazure\.|\bdrive\.mount\s*\(|from google\.colab import auth",
    re.I)
PERSON = re.compile(r"(?<![\w.])input\s*\(|^\s*%debug\b|\bpdb\.set_trace\s*\(|\bbreakpoint\s*\(", re.M)
HEAVY = re.compile(r"^\s*(?:import|from)\s+(tensorflow|torch|keras|jax|pyspark)\b", re.M)


def _source(cell: dict[str, Any]) -> str:
    value = cell.get("source", "")
    return "".join(value) if isinstance(value, list) else str(value)


def without_comments(code: str) -> str:
    """``code`` with its ``#`` comments removed (strings kept); a line-wise guess if it does not tokenize."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in code.splitlines())


def used_urls(code: str) -> list[str]:
    """URLs in string constants the code uses, leaving out those only printed or displayed."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return [m.group(0) for m in re.finditer(r"""['"](?:https?|ftp)://[^'"]+""", code)]
    shown: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in SHOWN:
                for sub in ast.walk(node):
                    shown.add(id(sub))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and URL.match(node.value)
            and id(node) not in shown]


def needs(nb: dict[str, Any], folder: Path, root: Path | None = None) -> list[str]:
    """What ``nb`` (in ``folder``, its repository at ``root``) needs beyond a headless kernel; [] if nothing."""
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict) and c.get("cell_type") == "code"]
    if not any(c.get("outputs") for c in cells):
        return ["no stored outputs"]
    code = "\n".join(without_comments(_source(c)) for c in cells)
    found: list[str] = []
    urls = used_urls(code)
    fetch = FETCH.search(code)
    if urls or fetch:
        found.append(f"network ({(urls[0] if urls else fetch.group(0)).strip()[:60]})")
    named = DATA_FILE.findall(code) + [m.group(1) for m in READ_CALL.finditer(code)
                                       if not m.group(2) and "://" not in m.group(1)]
    written = {name for m in WRITE_CALL.finditer(code) for name in m.groups() if name}
    missing = [name for name in named if name not in written
               and not any((base / name).exists() for base in (folder, root or folder))]
    author = AUTHOR_PATH.search(code)
    if missing or author:
        found.append(f"data download ({missing[0] if missing else author.group(0)[1:] + '...'})")
    gpu = GPU.search(code)
    if gpu:
        found.append(f"GPU ({gpu.group(0)})")
    credentials = CREDENTIALS.search(code)
    if credentials:
        found.append(f"credentials ({credentials.group(0)[:40]})")
    person = PERSON.search(code)
    if person:
        found.append(f"a person at the keyboard ({person.group(0).strip()})")
    heavy = HEAVY.search(code)
    if heavy:
        found.append(f"heavy framework ({heavy.group(1)})")
    return found
