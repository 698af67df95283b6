"""Other bases: a Debian image whose python3 lacks venv support, and system packages via apt."""

from __future__ import annotations

import pytest
from support.build import run_notebook, tiny_spec

from envkit.build import BuildOptions, build_dockerfile, build_spec
from envkit.labels import base_labels

pytestmark = pytest.mark.docker

NO_VENV = """FROM {base}
# Debian's python3 without python3-venv (and the wheels ensurepip needs), like a bare Ubuntu image.
RUN dpkg --remove python3-venv python3.11-venv python3-pip-whl python3-setuptools-whl >/dev/null \\
 && ! python3 -m venv /tmp/check-no-venv
"""


@pytest.fixture(scope="module")
def apt_reachable(engine, base_image) -> None:
    out = engine.containers.run(base_image, ["sh", "-c", "apt-get update -qq >/dev/null 2>&1 && echo ok || echo no"],
                                remove=True, labels=base_labels("run"))
    if out.decode().strip() != "ok":
        pytest.skip("Debian's package mirrors are not reachable from containers here")


def test_base_without_venv_and_system_packages(engine, base_image, apt_reachable):
    bare = build_dockerfile(NO_VENV.format(base=base_image), {}, tag="", labels={})
    spec = tiny_spec("six").with_changes(system_packages=("jq",))
    result = build_spec(spec, options=BuildOptions(base_image=bare), notebook=run_notebook("bare-base"))
    assert "apt-get install" in result.dockerfile and " jq" in result.dockerfile
    out = engine.containers.run(result.image.id, ["sh", "-c", "jq --version && python -c 'import six, sys; "
                                                 "print(sys.prefix)' && ls /var/lib/apt/lists | wc -l"],
                                remove=True, labels=base_labels("run")).decode().split()
    assert out[0].startswith("jq-") and out[1] == "/opt/envkit/venv"
    assert int(out[2]) <= 2  # lists removed in the same layers (only 'auxfiles', 'partial' may stay)
