"""Golden-file and determinism tests of the rendered Dockerfile and its build context."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from envkit.build import forwarding
from envkit.dockerfile import context_tar, render_context, render_dockerfile, render_template
from envkit.errors import UsageError
from envkit.plan import BaseLayer, BuildOptions, needs_host_download, plan_install
from envkit.settings import PipSettings, template_dirs
from envkit.spec import EnvSpec, Lock, Pin, Requirement

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("ENVKIT_UPDATE_GOLDEN"))


def spec(*reqs: str, **kw) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs), **kw)


def pip(tmp_path: Path, **kw) -> PipSettings:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
    return PipSettings(ca_bundle=ca, **kw)


def image_lock(s: EnvSpec) -> Lock:
    return Lock(spec_digest=s.digest(), python="3.11.2", packages=(
        Pin(name="six", version="1.17.0", hashes=("sha256:" + "a" * 64,)),
        Pin(name="ipykernel", version="7.4.0", hashes=("sha256:" + "b" * 64,)),
    ))


CASES = {
    "loose": lambda t: (spec("six", "packaging>=23"), None, BuildOptions(), pip(t)),
    "locked": lambda t: (spec("six"), image_lock(spec("six")), BuildOptions(base_image="envkit-test-base:bookworm"),
                         pip(t)),
    "system-index-uid": lambda t: (
        spec("pandas[parquet]>=2; python_version>'3.8'", system_packages=("libgomp1", "git")), None,
        BuildOptions(base_image="ubuntu:24.04", uid=4242),
        pip(t, index_url="https://mirror.example/simple", extra_index_urls=("https://extra.example/simple",),
            trusted_hosts=("mirror.example",))),
}


# Everything Dockerfile.j2 asks for, for rendering it through other doors.
TEMPLATE_VARIABLES = dict(envkit_version="0", notebook="", spec_digest="sha256:0", base_image="base", prefix="/opt/envkit",
                          venv="/opt/envkit/venv", uv_version="0", ca_bundle="", system_packages=[], index_env=[],
                          wheels=False, install_command="true", base_layer="", packages_origin="", labels=[])


CONTEXT_CASES = {
    "offline": lambda t: dict(pip=pip(t, index_url="https://user:secret@private.example/simple"),
                              wheels={"six-1.17.0-py2.py3-none-any.whl": b"wheel"}),
    "incremental": lambda t: dict(pip=pip(t), base_layer=BaseLayer(
        requirements=b"six\nipykernel\n",
        command="uv pip compile /opt/envkit/layer/requirements.txt --generate-hashes -o /opt/envkit/hashes.txt")),
}


@pytest.mark.parametrize("name", sorted(CASES) + sorted(CONTEXT_CASES))
def test_golden(name, tmp_path):
    if name in CONTEXT_CASES:
        text = render_context(spec("six", "idna"), None, BuildOptions(), notebook="analysis.ipynb",
                              **CONTEXT_CASES[name](tmp_path)).dockerfile
    else:
        s, lock, options, settings = CASES[name](tmp_path)
        text = render_dockerfile(s, lock, options, notebook="analysis.ipynb", pip=settings)
    golden = GOLDEN / f"{name}.Dockerfile"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text(), f"re-render with ENVKIT_UPDATE_GOLDEN=1 if {golden.name} changed on purpose"


def test_same_inputs_same_bytes(tmp_path):
    a = render_context(spec("six", "idna"), None, BuildOptions(), notebook="n.ipynb", pip=pip(tmp_path))
    b = render_context(spec("idna", "six"), None, BuildOptions(), notebook="n.ipynb", pip=pip(tmp_path))
    assert a.dockerfile == b.dockerfile
    assert a.tar() == b.tar()


def test_context_tar_is_normalised():
    data = context_tar("FROM x\n", {"b.txt": b"b", "wheels/z.whl": b"z", "a.txt": b"a"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["wheels", "Dockerfile", "a.txt", "b.txt", "wheels/z.whl"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}


def test_layers_stable_to_volatile(tmp_path):
    text = render_dockerfile(spec("six", system_packages=("git",)), None, BuildOptions(), pip=pip(tmp_path))
    # The user comes before the packages (a uid changes far less often than a package list, and
    # the user owns the environment), after the installer (a uid change keeps it cached).
    order = ["FROM python:3.11-slim", "apt-get install", "python3 -m venv", "useradd", "\nUSER envkit\n",
             "uv pip compile", "uv pip sync", "find_spec('ipykernel')", "freeze.py >", "dev.envkit.build-key="]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_layout_contract(tmp_path):
    text = render_dockerfile(spec("six"), None, BuildOptions(uid=1234), notebook="nb.ipynb", pip=pip(tmp_path))
    assert "PATH=/opt/envkit/venv/bin:" in text
    assert "--uid 1234" in text and "USER envkit" in text and "WORKDIR /home/envkit" in text
    assert "HOME=/home/envkit" in text
    for label in ("dev.envkit.spec-digest=", "dev.envkit.version=", "dev.envkit.notebook=\"nb.ipynb\"",
                  "org.opencontainers.image.title=\"nb\"", "dev.envkit.kind=\"image\""):
        assert label in text
    assert "dev.envkit.test-run" not in text  # that one goes through the API, not the Dockerfile


def test_credentials_never_rendered(tmp_path):
    settings = pip(tmp_path, index_url="https://user:s3cr3t@private.example/simple",
                   extra_index_urls=("https://__token__:tok123@other.example/simple", "https://open.example/simple"))
    assert needs_host_download(settings)
    ctx = render_context(spec("six"), None, BuildOptions(), pip=settings, wheels={"six-1.17.0-py2.py3-none-any.whl": b"w"})
    blob = ctx.dockerfile.encode() + b"".join(ctx.files.values())
    assert b"s3cr3t" not in blob and b"tok123" not in blob
    assert "--offline --no-index" in ctx.dockerfile
    assert "wheels/six-1.17.0-py2.py3-none-any.whl" in ctx.files


def test_uncredentialed_index_forwarded(tmp_path):
    settings = pip(tmp_path, index_url="https://mirror.example/simple")
    assert not needs_host_download(settings)
    assert 'UV_INDEX_URL="https://mirror.example/simple"' in render_dockerfile(spec("six"), None, BuildOptions(),
                                                                               pip=settings)


def test_plan_from_lock_is_exact():
    s = spec("six")
    plan = plan_install(s, image_lock(s), BuildOptions())
    assert plan.from_lock and plan.hashed and plan.mode == "sync"
    assert plan.flags == ("--require-hashes",)
    assert "six==1.17.0" in plan.requirements and "--hash=sha256:" in plan.requirements


def test_plan_ignores_lock_of_another_spec_or_when_asked():
    s = spec("six")
    stale = image_lock(spec("six", "idna"))
    assert not plan_install(s, stale, BuildOptions()).from_lock
    assert not plan_install(s, image_lock(s), BuildOptions(use_lock=False)).from_lock


def test_plan_kernel_lock_resolves_the_rest():
    s = spec("six")
    lock = Lock(spec_digest=s.digest(), python="3.11.2", source="kernel", packages=(Pin(name="six", version="1.16.0"),))
    plan = plan_install(s, lock, BuildOptions())
    assert plan.requirements == "six==1.16.0\nipykernel\n"
    assert plan.flags == () and plan.mode == "resolve"


def test_loose_plan_adds_ipykernel_once():
    assert plan_install(spec("six"), None, BuildOptions()).requirements == "six\nipykernel\n"
    assert plan_install(spec("ipykernel>=6"), None, BuildOptions()).requirements == "ipykernel>=6\n"


def test_default_base_image_follows_python(tmp_path):
    s = EnvSpec(python="3.12")
    assert render_dockerfile(s, None, BuildOptions(), pip=pip(tmp_path)).count("FROM python:3.12-slim") == 1


def test_override_directory_searched_first(tmp_path, monkeypatch):
    (tmp_path / "Dockerfile.j2").write_text(
        '{% extends "envkit/Dockerfile.j2" %}{% block user %}# custom user block\n{% endblock %}')
    text = render_context(spec("six"), None, BuildOptions(), pip=pip(tmp_path), template_dirs=[tmp_path]).dockerfile
    assert "# custom user block" in text and "useradd" not in text
    assert "uv pip sync" in text
    # The folders come from the ENVKIT_TEMPLATES setting, read by the caller (envkit.build).
    monkeypatch.setenv("ENVKIT_TEMPLATES", str(tmp_path))
    assert template_dirs() == [tmp_path]
    assert forwarding.render_template("Dockerfile.j2", **dict(TEMPLATE_VARIABLES, uid=1000)).count("custom user") == 1
    assert "custom user" not in render_dockerfile(spec("six"), None, BuildOptions(), pip=pip(tmp_path))


def test_strict_undefined(tmp_path, monkeypatch):
    (tmp_path / "bad.j2").write_text("FROM {{ nothing_here }}\n")
    with pytest.raises(UsageError, match="nothing_here"):
        render_template("bad.j2", template_dirs=[tmp_path])
    with pytest.raises(UsageError, match="not found"):
        render_template("no-such-template.j2", template_dirs=[tmp_path])


def test_install_command_is_stored_beside_its_requirements(tmp_path):
    ctx = render_context(spec("six"), None, BuildOptions(), pip=pip(tmp_path))
    assert ctx.files["layer/requirements.txt"] == b"six\nipykernel\n"
    command = ctx.files["layer/run.txt"].decode().rstrip("\n")
    assert f"RUN {command}\n" in ctx.dockerfile
    assert "--generate-hashes" in command and "uv pip sync /opt/envkit/hashes.txt" in command


def test_previous_packages_layer_is_repeated_then_the_difference(tmp_path):
    first = render_context(spec("six"), None, BuildOptions(), pip=pip(tmp_path))
    base = BaseLayer(requirements=first.files["layer/requirements.txt"],
                     command=first.files["layer/run.txt"].decode().rstrip("\n"))
    second = render_context(spec("six", "idna"), None, BuildOptions(), pip=pip(tmp_path), base_layer=base)
    # Every instruction up to the first packages layer is the same: the engine's cache holds them.
    def instructions(text: str) -> str:
        text = text[:text.index("RUN " + base.command) + len("RUN " + base.command)]
        return "\n".join(line for line in text.splitlines() if not line.startswith("#"))

    assert instructions(second.dockerfile) == instructions(first.dockerfile)
    cut = second.dockerfile.index("RUN " + base.command)
    assert second.files["layer/requirements.txt"] == first.files["layer/requirements.txt"]
    assert second.files["layer/run.txt"] == first.files["layer/run.txt"]
    assert second.files["delta/requirements.txt"] == b"idna\nsix\nipykernel\n"
    assert "COPY delta/ /opt/envkit/delta/" in second.dockerfile[cut:]
    assert "/opt/envkit/delta/requirements.txt" in second.files["delta/run.txt"].decode()


def test_root_uid_refused(tmp_path):
    with pytest.raises(UsageError, match="root"):
        render_dockerfile(spec("six"), None, BuildOptions(uid=0), pip=pip(tmp_path))
