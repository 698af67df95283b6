"""ssh:// engines without a server: addresses, what is forwarded, and one line per failure.

The failure texts are the ones OpenSSH 9.2 prints (the integration test,
tests/integration/test_ssh_engine.py, gets them from a real sshd).
"""

from __future__ import annotations

import json

import pytest

from envkit import engine
from envkit.engine.ssh import Target, Tunnel, login_failure, remote_socket
from envkit.errors import EngineUnavailable


@pytest.mark.parametrize(("url", "target", "args"), [
    ("ssh://me@build.example:2222", Target("build.example", "me", 2222), ["-l", "me", "-p", "2222", "--", "build.example"]),
    ("ssh://build.example", Target("build.example"), ["--", "build.example"]),
    ("ssh://-oProxyCommand=x", Target("-oproxycommand=x"), ["--", "-oproxycommand=x"]),
])
def test_the_address_becomes_ssh_arguments_with_the_host_after_a_double_dash(url, target, args):
    assert Target.parse(url) == target
    assert target.args() == args


@pytest.mark.parametrize("url", ["ssh://", "tcp://host:2375", "ssh://host:port"])
def test_a_malformed_address_is_one_line_saying_how_to_write_it(url):
    with pytest.raises(EngineUnavailable) as caught:
        Target.parse(url)
    assert "ssh://[USER@]HOST[:PORT]" in caught.value.hint


def test_the_remote_engines_address_becomes_what_ssh_forwards_to():
    assert remote_socket("unix:///var/run/docker.sock") == "/var/run/docker.sock"
    assert remote_socket("tcp://127.0.0.1:2375") == "127.0.0.1:2375"
    with pytest.raises(ValueError):
        remote_socket("npipe:////./pipe/docker_engine")


TARGET = Target("box", "ann", 2200)


@pytest.mark.parametrize(("status", "stderr", "says", "hint"), [
    (255, "No ED25519 host key is known for [box]:2200 and you have requested strict checking.\n"
          "Host key verification failed.\n", "the host key of box is not known here", "ssh -p 2200 ann@box"),
    (255, "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n", "has changed", "ssh-keygen -R"),
    (255, "ann@box: Permission denied (publickey).\n", "box refused the SSH login of ann", "ssh-add"),
    (255, "ssh: connect to host box port 2200: Connection refused\n", "nothing answers SSH there", "sshd runs"),
    (127, "envkit: no docker command on this host\n", "box has no docker command", "install Docker on box"),
    (1, "something else entirely\n", "something else entirely", "ssh -p 2200 ann@box docker version"),
])
def test_each_login_failure_is_one_line_naming_what_to_do(status, stderr, says, hint):
    error = login_failure("ssh://ann@box:2200", TARGET, status, stderr)
    assert error.message.startswith("no container engine answered at ssh://ann@box:2200: ")
    assert says in error.message and "\n" not in error.message
    assert hint in error.hint


def test_no_ssh_client_is_one_line_and_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    tunnel = Tunnel("ssh://ann@box")
    with pytest.raises(EngineUnavailable) as caught:
        tunnel.open()
    assert "the ssh client, which is not installed" in caught.value.message
    assert "openssh-client" in caught.value.hint
    assert not tunnel.folder.exists()


def test_an_ssh_docker_context_is_an_engine_that_does_not_share_files(monkeypatch, tmp_path):
    meta = tmp_path / "contexts" / "meta" / "0123abcd"
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "far", "Endpoints": {"docker": {"Host": "ssh://ann@box"}}}))
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "far"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    assert engine.engine_url() == "ssh://ann@box"
    assert not engine.shares_files() and engine.engine_hostname() == "box"
