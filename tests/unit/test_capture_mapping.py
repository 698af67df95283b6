"""Import name → distribution: shipped data, family rules, installed metadata, and refusals."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from envkit.capture.mapping import Mapper, import_names, known_distributions, load_rules, system_packages_for


@pytest.fixture(scope="module")
def shipped() -> Mapper:
    return Mapper(installed=False)


@pytest.mark.parametrize(("module", "dist"), [
    ("sklearn.linear_model", "scikit-learn"), ("cv2", "opencv-python"), ("PIL.Image", "pillow"),
    ("yaml", "pyyaml"), ("bs4", "beautifulsoup4"), ("skimage.io", "scikit-image"), ("grpc", "grpcio"),
    ("google.cloud.storage", "google-cloud-storage"), ("umap", "umap-learn"), ("pyro.infer", "pyro-ppl"),
    ("mpl_toolkits.mplot3d", "matplotlib"), ("mpl_toolkits.basemap", "basemap"),
    ("google.cloud.videointelligence_v1", "google-cloud-videointelligence"),
    ("google.cloud.frobnicator_v2beta1", "google-cloud-frobnicator"),  # family rule, not in the table
    ("azure.mgmt.frobnicator", "azure-mgmt-frobnicator"), ("numpy.linalg", "numpy"),
    ("mdutils.mdutils", "mdutils"),  # known distribution of the same name
])
def test_maps_to_the_right_distribution(shipped: Mapper, module: str, dist: str) -> None:
    mapped = shipped.map(module)
    assert (mapped.kind, mapped.name) == ("dist", dist)


@pytest.mark.parametrize(("module", "kind"), [
    ("os.path", "stdlib"), ("urllib2", "stdlib"), ("cPickle", "stdlib"), ("asyncore", "stdlib"),
    ("google.colab.drive", "platform"), ("kaggle_secrets", "platform"), ("js", "platform"),
    ("IPython.display", "kernel"), ("ipykernel", "kernel"),
    ("utils", "unresolved"), ("definitely_not_a_package_q9", "unresolved"), ("google.nothing", "unresolved"),
])
def test_not_requirements(shipped: Mapper, module: str, kind: str) -> None:
    mapped = shipped.map(module)
    assert mapped.kind == kind
    if kind == "unresolved":
        assert mapped.reason


def test_shipped_data_is_large_and_general() -> None:
    from packaging.utils import canonicalize_name

    table = import_names()
    differing = [k for k, v in table.items() if canonicalize_name(k) != canonicalize_name(v)]
    assert len(differing) >= 300
    assert all(v == canonicalize_name(v) for v in table.values())
    assert "grpc" not in known_distributions() or table["grpc"] == "grpcio"
    assert "utils" not in known_distributions()  # generic names never taken at face value
    assert set(load_rules()["generic_local_names"]).isdisjoint(known_distributions())


def test_system_packages() -> None:
    assert system_packages_for(["opencv-python", "graphviz", "numpy"]) == ["graphviz", "libgl1", "libglib2.0-0"]
    assert system_packages_for(["pyodbc"]) == ["unixodbc"]


def _fake_dist(site: Path, name: str, files: list[str]) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    for f in files:
        (site / f).parent.mkdir(parents=True, exist_ok=True)
        (site / f).write_text("")


def test_installed_metadata_first_and_namespace_by_file_owner(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    _fake_dist(site, "nsfake_alpha", ["nsfake/alpha/__init__.py"])
    _fake_dist(site, "nsfake_beta", ["nsfake/beta/__init__.py", "nsfake/beta/deep.py"])
    _fake_dist(site, "renamed-thing", ["cv2/__init__.py"])  # an installed variant wins over the table
    _fake_dist(site, "gauth-fake", ["google/auth/__init__.py"])
    monkeypatch.syspath_prepend(str(site))
    mapper = Mapper()
    assert mapper.map("nsfake.beta.deep").name == "nsfake-beta"
    assert mapper.map("nsfake.alpha").name == "nsfake-alpha"
    assert mapper.map("cv2").name == "renamed-thing"
    # google.* is a shared namespace: one installed google distribution says nothing about others
    assert mapper.map("google.cloud.storage").name == "google-cloud-storage"
    assert Mapper(installed=False).map("cv2").name == "opencv-python"
    assert str(site) in sys.path


def test_rules_file_is_valid_json() -> None:
    from envkit.capture.mapping import DATA

    for path in DATA.glob("*.json"):
        json.loads(path.read_text())
