"""Hub profiles, hub Dockerfile and devcontainer.json: pure logic, checked against the real spawners."""

from __future__ import annotations

import ast
import json
from pathlib import PurePosixPath

import pytest

from envkit.devcontainer import devcontainer_config, workspace_root
from envkit.errors import UsageError
from envkit.hub import check_digest_reference, check_repository, content_tag, hub_dockerfile, hub_requirement
from envkit.spawners import HubProfile, memory_bytes, render_config, settings

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"127.0.0.1:5000/team/analysis@{DIGEST}"


def _config(text: str):
    """Load printed config text the way JupyterHub does (a traitlets Python config file)."""
    from traitlets.config import Config

    c = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"c": c})  # noqa: S102 - that is how hubs load it
    return c


def _user():
    from types import SimpleNamespace

    return SimpleNamespace(name="alice", id=1, url="/user/alice/")


@pytest.mark.parametrize("ref", [IMAGE, f"analysis@{DIGEST}", f"registry.example.com:443/a/b-c_d.e:v1@{DIGEST}",
                                 f"localhost/x__y@{DIGEST}"])
def test_digest_references_by_the_registry_grammar(ref):
    assert check_digest_reference(ref) == ref


@pytest.mark.parametrize("ref", ["analysis:latest", f"Team/analysis@{DIGEST}", f"a@sha256:{'ab' * 31}",
                                 f"a b@{DIGEST}", f"a@{DIGEST}\nimport os", f"-a@{DIGEST}", f"a//b@{DIGEST}", ""])
def test_bad_references_are_refused(ref):
    with pytest.raises(UsageError, match="not an image reference by digest"):
        check_digest_reference(ref)


def test_repository_names():
    assert check_repository("127.0.0.1:5000/team/x") == "127.0.0.1:5000/team/x"
    for bad in ("Team/x", "x@" + DIGEST, "x y"):
        with pytest.raises(UsageError):
            check_repository(bad)


def test_hub_requirement_follows_the_hub_major():
    assert hub_requirement("5.2.1") == "jupyterhub>=5,<6"
    assert hub_requirement(6) == "jupyterhub>=6,<7"
    assert hub_requirement(None).startswith("jupyterhub>=")
    for bad in ("3", "five", "1.0"):
        with pytest.raises(UsageError, match="--hub-version"):
            hub_requirement(bad)


@pytest.mark.parametrize(("value", "expected"), [("4g", 4 << 30), ("512m", 512 << 20), ("1.5G", 3 << 29),
                                                 (1 << 30, 1 << 30), ("2048mb", 2 << 30), (None, None)])
def test_memory_in_docker_forms(value, expected):
    assert memory_bytes(value) == expected


@pytest.mark.parametrize("value", ["lots", "4x", "1k", "-1g"])
def test_bad_memory_is_refused(value):
    with pytest.raises(UsageError):
        memory_bytes(value)


def test_docker_profile_loads_into_a_real_dockerspawner():
    pytest.importorskip("dockerspawner")
    from dockerspawner import DockerSpawner

    profile = HubProfile(image=IMAGE, notebook="my {user} nb.ipynb", mem_bytes=2 << 30, cpus=1.5, gpus="all")
    c = _config(render_config(profile, "docker"))
    # DockerSpawner itself, with the digest-pull fix (it splits NAME@sha256:... at its last ':').
    assert issubclass(c.JupyterHub.spawner_class, DockerSpawner)
    spawner = c.JupyterHub.spawner_class(config=c, user=_user())
    assert spawner.image == IMAGE
    assert spawner.mem_limit == 2 << 30 and spawner.cpu_limit == 1.5
    assert spawner.cmd == ["jupyterhub-singleuser"]
    assert spawner.remove is True and spawner.pull_policy == "ifnotpresent"
    # The spawner expands {username} in these; the notebook's braces survive as braces.
    assert spawner.format_string(spawner.default_url) == "/lab/tree/my%20%7Buser%7D%20nb.ipynb"
    assert spawner.extra_host_config == {"device_requests": [{"count": -1, "capabilities": [["gpu"]]}]}


def test_swarm_profile_loads_into_a_real_swarmspawner():
    pytest.importorskip("dockerspawner")
    from dockerspawner import SwarmSpawner

    profile = HubProfile(image=IMAGE, notebook="a.ipynb", mem_bytes=1 << 30, cpus=2.0, gpus=1)
    c = _config(render_config(profile, "swarm"))
    spawner = SwarmSpawner(config=c, user=_user())
    assert (spawner.image, spawner.mem_limit, spawner.cpu_limit) == (IMAGE, 1 << 30, 2.0)
    assert spawner.pull_policy == "skip"  # the swarm's engine pulls the digest itself
    assert spawner.extra_resources_spec == {"generic_resources": {"NVIDIA-GPU": 1}}
    with pytest.raises(UsageError, match="by count"):
        settings(HubProfile(image=IMAGE, notebook="a.ipynb", gpus="all"), "swarm")


def test_kube_profile_builds_a_pod_with_kubespawners_own_objects():
    """No cluster runs here: the pod is built offline by kubespawner's make_pod from the profile."""
    pytest.importorskip("kubespawner")
    from kubespawner.objects import make_pod

    profile = HubProfile(image=IMAGE, notebook="sub dir/a.ipynb", mem_bytes=4 << 30, cpus=2.0, gpus=1,
                         pull_secrets=("team-registry", "backup.pull"))
    c = _config(render_config(profile, "kube")).KubeSpawner
    pod = make_pod(name="jupyter-alice", cmd=c.cmd, port=8888, image=c.image, image_pull_policy=c.image_pull_policy,
                   image_pull_secrets=c.image_pull_secrets, working_dir=c.working_dir,
                   mem_limit=c.mem_limit, mem_guarantee=c.mem_guarantee, cpu_limit=c.cpu_limit,
                   cpu_guarantee=c.cpu_guarantee, extra_resource_limits=c.extra_resource_limits,
                   extra_resource_guarantees=c.extra_resource_guarantees)
    container = pod.spec.containers[0]
    assert container.image == IMAGE and container.image_pull_policy == "IfNotPresent"
    assert container.args == ["jupyterhub-singleuser"] or container.command == ["jupyterhub-singleuser"]
    assert [s.name for s in pod.spec.image_pull_secrets] == ["team-registry", "backup.pull"]
    assert container.resources.limits == {"memory": 4 << 30, "cpu": 2.0, "nvidia.com/gpu": "1"}
    assert container.resources.requests == {"memory": 4 << 30, "cpu": 2.0, "nvidia.com/gpu": "1"}
    assert container.working_dir == "/home/envkit/work"
    assert c.default_url == "/lab/tree/sub%20dir/a.ipynb"


def test_kube_profile_settings_are_kubespawner_traits():
    pytest.importorskip("kubespawner")
    from kubespawner import KubeSpawner

    profile = HubProfile(image=IMAGE, notebook="a.ipynb", mem_bytes=1 << 30, pull_secrets=("s",))
    for key, _ in settings(profile, "kube"):
        cls, trait = key.split(".")
        if cls == "KubeSpawner":
            assert KubeSpawner.class_traits(config=True).get(trait) is not None, trait


def test_printed_config_is_literals_only_whatever_the_notebook_is_called():
    nasty = "x'\"\n__import__('os').system('id')#.ipynb"
    profile = HubProfile(image=IMAGE, notebook="ok.ipynb")
    text = render_config(profile, "docker", notebook_name=nasty)
    from envkit.spawners import DOCKER_DIGEST_PULL

    assert DOCKER_DIGEST_PULL in text  # constant code, nothing from the notebook in it
    tree = ast.parse(text.replace(DOCKER_DIGEST_PULL, ""))
    assert all(isinstance(node, ast.Assign) for node in tree.body)
    for node in tree.body:
        ast.literal_eval(node.value)
    assert "system('id')" not in "".join(line for line in text.splitlines() if not line.startswith("#"))
    with pytest.raises(UsageError):
        HubProfile(image=IMAGE, notebook="../etc/passwd")


def test_pull_secret_names_are_checked():
    with pytest.raises(UsageError, match="Secret name"):
        HubProfile(image=IMAGE, notebook="a.ipynb", pull_secrets=("Bad_Name",))


def test_hub_dockerfile_layers_on_the_environment_image():
    text, labels = hub_dockerfile("sha256:" + "cd" * 32, "envkit", jupyterhub="jupyterhub>=6,<7",
                                  spec_digest="sha256:" + "ef" * 32, has_files=True)
    assert text.splitlines()[1] == "FROM sha256:" + "cd" * 32
    assert '"jupyterhub>=6,<7"' in text and "jupyterlab>=4,<5" in text
    assert "COPY --chown=envkit work/ /home/envkit/work/" in text
    assert text.rstrip().endswith('CMD ["jupyterhub-singleuser"]')
    assert labels["dev.envkit.kind"] == "hub" and labels["dev.envkit.spec-digest"] == ""
    # The content tag follows the files as well as the Dockerfile.
    assert content_tag(text, {"work/a": b"1"}) != content_tag(text, {"work/a": b"2"})
    assert content_tag(text, {"work/a": b"1"}) == content_tag(text, {"work/a": b"1"})


# The devcontainer.json properties of the Dev Container specification (devContainer.base.schema.json).
SPEC_KEYS = {"name", "image", "build", "dockerFile", "context", "appPort", "runArgs", "shutdownAction",
             "overrideCommand", "workspaceMount", "workspaceFolder", "forwardPorts", "portsAttributes",
             "otherPortsAttributes", "updateRemoteUserUID", "containerEnv", "containerUser", "mounts", "init",
             "privileged", "capAdd", "securityOpt", "remoteEnv", "remoteUser", "initializeCommand",
             "onCreateCommand", "updateContentCommand", "postCreateCommand", "postStartCommand",
             "postAttachCommand", "waitFor", "userEnvProbe", "features", "overrideFeatureInstallOrder",
             "hostRequirements", "customizations"}


def test_devcontainer_uses_the_specs_keys():
    config = devcontainer_config(image=IMAGE, user="envkit", notebook_folder=PurePosixPath("notebooks/a"), name="a")
    assert set(config) <= SPEC_KEYS
    assert set(config["customizations"]) == {"vscode"}
    assert set(config["customizations"]["vscode"]) <= {"extensions", "settings"}
    assert {"ms-toolsai.jupyter", "ms-python.python"} <= set(config["customizations"]["vscode"]["extensions"])
    assert config["image"] == IMAGE and config["remoteUser"] == config["containerUser"] == "envkit"
    assert config["workspaceFolder"] == "/workspaces/${localWorkspaceFolderBasename}/notebooks/a"
    assert config["workspaceMount"].startswith("source=${localWorkspaceFolder},target=/workspaces/")
    json.dumps(config)


def test_devcontainer_refuses_root_tags_and_escapes():
    for kwargs in ({"user": "root"}, {"image": "team/analysis:latest"}, {"notebook_folder": PurePosixPath("../x")}):
        args = {"image": IMAGE, "user": "envkit", "notebook_folder": PurePosixPath("."), "name": "a", **kwargs}
        with pytest.raises(UsageError):
            devcontainer_config(**args)


def test_workspace_root_is_the_parent_of_dot_devcontainer(tmp_path):
    assert workspace_root(tmp_path / "repo" / ".devcontainer") == tmp_path / "repo"
    assert workspace_root(tmp_path / "repo" / ".devcontainer" / "analysis") == tmp_path / "repo"
    assert workspace_root(tmp_path / "repo" / "dc") == tmp_path / "repo"


def test_export_cli_forms_are_exclusive(tmp_path):
    from envkit.commands import build_parser
    from envkit.ui import UI

    parser = build_parser()
    args = parser.parse_args(["export", "jupyterhub", "a.ipynb", "--spawner", "kube", "-o", "x.tar"])
    with pytest.raises(UsageError, match="other forms"):
        args._module.run(args, UI())
    args = parser.parse_args(["export", "a.ipynb", "--binder", "b", "--devcontainer", "d"])
    with pytest.raises(UsageError, match="exactly one"):
        args._module.run(args, UI())
    args = parser.parse_args(["export", "jupyterhub", str(tmp_path / "missing.ipynb"), "--image", IMAGE])
    with pytest.raises(UsageError, match="no such notebook"):
        args._module.run(args, UI())
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "a.ipynb"))
    args = parser.parse_args(["export", "jupyterhub", str(tmp_path / "a.ipynb"), "--image", "team/a:latest"])
    with pytest.raises(UsageError, match="by digest"):
        args._module.run(args, UI())


def test_export_jupyterhub_with_a_given_digest_prints_a_loadable_profile(tmp_path, capsys):
    import io

    import nbformat

    from envkit.commands import build_parser
    from envkit.ui import UI

    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "a.ipynb"))
    out = io.StringIO()
    args = build_parser().parse_args(["export", "jupyterhub", str(tmp_path / "a.ipynb"), "--image", IMAGE,
                                      "--mem-limit", "2g", "--cpus", "1", "--spawner", "docker"])
    assert args._module.run(args, UI(out)) == 0
    c = _config(out.getvalue())
    assert c.DockerSpawner.image == IMAGE and c.DockerSpawner.mem_limit == 2 << 30


def test_without_a_push_or_to_the_hub_export_says_push_first_and_builds_nothing(tmp_path):
    import nbformat

    from envkit.devcontainer import export_devcontainer
    from envkit.errors import RegistryError
    from envkit.hub import push_hub_image

    nb = tmp_path / "a.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(nb))
    with pytest.raises(RegistryError, match="no pushed image") as info:
        push_hub_image(nb)
    assert "envkit push" in info.value.hint
    with pytest.raises(RegistryError, match="no pushed image"):
        export_devcontainer(nb, tmp_path / ".devcontainer")
    assert not (tmp_path / ".devcontainer").exists()
    with pytest.raises(UsageError, match="--to"):
        push_hub_image(nb, to="Not A Repo")
