"""Kernel options, kernelspec content and the container's environment: pure logic."""

from __future__ import annotations

import json

import pytest

from envkit.commands import build_parser
from envkit.errors import KernelError
from envkit.kernels.container import container_env
from envkit.kernels.kernelspec import PROVISIONER, kernel_name, spec_dict
from envkit.kernels.options import KernelOptions, parse_gpus
from envkit.kernels.watchdog import SOURCE, command


def test_limits_and_gpus_become_plain_host_config_data():
    opts = KernelOptions(image="img", mem_limit="2g", cpus=1.5, gpus="all")
    hc = opts.host_config()
    assert hc["mem_limit"] == "2g" and hc["nano_cpus"] == 1_500_000_000
    assert hc["device_requests"] == [{"count": -1, "capabilities": [["gpu"]]}]
    assert KernelOptions(image="img", gpus=2).host_config()["device_requests"] == [{"count": 2, "capabilities": [["gpu"]]}]
    ids = KernelOptions(image="img", gpus="0,2").host_config()["device_requests"][0]["device_ids"]
    assert ids == ["0", "2"]
    assert KernelOptions(image="img").host_config() == {}
    assert type(hc["device_requests"][0]) is dict  # plain data: docker-py's types are the engine's


def test_the_engine_makes_gpu_requests_docker_types():
    from docker.types import DeviceRequest

    from envkit.engine.containers import _host_config

    hc = _host_config(KernelOptions(image="img", gpus="all", mem_limit="1g").host_config())
    [req] = hc["device_requests"]
    assert isinstance(req, DeviceRequest) and req["Count"] == -1 and req["Capabilities"] == [["gpu"]]
    [req] = _host_config(KernelOptions(image="img", gpus=["1"]).host_config())["device_requests"]
    assert req["DeviceIDs"] == ["1"] and not req["Count"]
    assert hc["mem_limit"] == "1g"


def test_config_round_trip_and_unknown_keys():
    opts = KernelOptions(image="img", cpus=2, cap_add=("SYS_PTRACE",), network="bridge")
    assert KernelOptions.from_config(json.loads(json.dumps(opts.to_config()))) == opts
    assert KernelOptions(image="img").to_config() == {"image": "img"}
    with pytest.raises(KernelError, match="unknown envkit kernel option"):
        KernelOptions.from_config({"image": "img", "memory": "1g"})
    with pytest.raises(KernelError, match="no image"):
        KernelOptions(image="")
    with pytest.raises(KernelError, match="network"):
        KernelOptions(image="img", network="overlay")


def test_kernelspec_has_provisioner_and_argv_forms():
    opts = KernelOptions(image="envkit/analysis:abc", mem_limit="1g")
    spec = spec_dict(opts, display_name="Python 3.11 (envkit: analysis)")
    prov = spec["metadata"]["kernel_provisioner"]
    assert prov == {"provisioner_name": PROVISIONER, "config": {"image": "envkit/analysis:abc", "mem_limit": "1g"}}
    argv = spec["argv"]
    assert argv[1:3] == ["-m", "envkit.kernels.launcher"] and argv[-1] == "{connection_file}"
    assert json.loads(argv[argv.index("--config") + 1]) == prov["config"]
    assert "kernel_provisioner" not in spec_dict(opts, display_name="x", argv_only=True)["metadata"]
    assert kernel_name("My Analysis (v2)") == "envkit-my-analysis-v2"
    assert kernel_name("envkit-x") == "envkit-x"


def test_container_env_is_the_kernelspecs_not_the_servers():
    env = container_env({"A": "1", "JPY_PARENT_PID": "9"},
                        {"JPY_PARENT_PID": "9", "SECRET": "s", "JPY_SESSION_NAME": "/w/a.ipynb"}, "/home/envkit")
    assert env["A"] == "1" and env["JPY_SESSION_NAME"] == "/w/a.ipynb"
    assert "JPY_PARENT_PID" not in env and "SECRET" not in env
    assert env["HOME"] == "/home/envkit" and env["USER"]


def test_watchdog_wraps_the_kernel_and_compiles():
    argv = command("python", ["python", "-m", "ipykernel_launcher", "-f", "/c.json"])
    assert argv[:4] == ["python", "-I", "-S", "-c"] and argv[5:] == ["python", "-m", "ipykernel_launcher", "-f", "/c.json"]
    compile(SOURCE, "<watchdog>", "exec")


def test_kernel_command_arguments():
    args = build_parser().parse_args(["kernel", "install", "a.ipynb", "--cpus", "2", "--gpus", "all", "--argv-only"])
    assert (args.action, args.target, args.cpus, args.gpus, args.argv_only) == ("install", "a.ipynb", 2.0, "all", True)
    assert build_parser().parse_args(["kernel", "remove", "envkit-a"]).name == "envkit-a"
    run = build_parser().parse_args(["run", "a.ipynb", "-o", "out.ipynb", "--verify"])
    assert (run.output, run.verify) == ("out.ipynb", True)


@pytest.mark.parametrize(("given", "parsed"), [
    (None, None), ("", None), (0, None), ("0", None), ("all", "all"), ("ALL", "all"), (2, 2), ("2", 2),
    ("0,2", ["0", "2"]), (["GPU-3a", "1"], ["GPU-3a", "1"]), ("GPU-3a", ["GPU-3a"]),
])
def test_gpus_are_parsed_once_for_every_front_end(given, parsed):
    # `envkit kernel install --gpus` passes the raw text; a kernelspec's config passes JSON values.
    assert parse_gpus(given) == parsed
    assert KernelOptions(image="img", gpus=given).gpus == parsed
    if isinstance(given, str) and given:
        args = build_parser().parse_args(["kernel", "install", "a.ipynb", "--gpus", given])
        assert KernelOptions(image="img", gpus=args.gpus).gpus == parsed


def test_negative_gpu_count_is_refused():
    with pytest.raises(KernelError, match="gpus"):
        KernelOptions(image="img", gpus=-1)
