"""Pure parts of least privilege, ownership and archive checking (the engine parts are integration tests)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from envkit.errors import EnvkitError, KernelError
from envkit.kernels.options import KernelOptions
from envkit.ownership import owner, owner_state
from envkit.privileges import DEFAULT_PIDS_LIMIT, RunAs, folder_access, limits, resolve_user, run_as
from envkit.share_archive import _untagged, check_member

PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/sbin/nologin\nenvkit:x:1000:1000::/home/envkit:/bin/bash\n"


@pytest.mark.parametrize(("user", "expected"), [
    ("envkit", (1000, 1000)), ("1000", (1000, 1000)), ("1234:55", (1234, 55)), ("envkit:7", (1000, 7)),
    ("root", (1000, 1000)), ("0", (1000, 1000)), ("", (1000, 1000)), ("ghost", (1000, 1000)),
])
def test_an_images_user_is_never_root(user, expected):
    assert resolve_user(user, PASSWD) == expected


def test_an_image_without_a_non_root_user_runs_as_nobody():
    assert resolve_user("root", "root:x:0:0::/root:/bin/sh\n") == (65534, 65534)
    assert resolve_user("", "") == (65534, 65534)


def test_a_non_root_caller_runs_as_itself_and_an_explicit_user_is_taken(tmp_path):
    assert run_as("img", tmp_path, caller_uid=1234, caller_gid=99) == RunAs(uid=1234, gid=99, why="the caller's uid")
    assert run_as("img", tmp_path, explicit="root", caller_uid=0).uid == 0
    assert run_as("img", tmp_path, explicit="1500", caller_uid=0).user == "1500:1500"


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
def test_a_root_caller_runs_as_the_folders_owner(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    os.chown(folder, 1234, 4321)
    assert run_as("img", folder, caller_uid=0, caller_gid=0).user == "1234:4321"


def test_folder_access_follows_the_mode_bits(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    st = folder.stat()
    stranger = RunAs(uid=st.st_uid + 4242, gid=st.st_gid + 4242, why="test")
    folder.chmod(0o700)
    assert folder_access(folder, stranger) == (False, False)
    folder.chmod(0o755)
    assert folder_access(folder, stranger) == (True, False)
    folder.chmod(0o777)
    assert folder_access(folder, stranger) == (True, True)
    assert folder_access(folder, RunAs(uid=st.st_uid, gid=st.st_gid, why="owner")) == (True, True)


def test_limits_default_and_can_be_raised_or_lifted():
    assert limits("2g", None) == {"mem_limit": "2g", "pids_limit": DEFAULT_PIDS_LIMIT}
    assert limits("64g", 100000) == {"mem_limit": "64g", "pids_limit": 100000}
    assert limits("0", -1) == {"pids_limit": -1}


def test_kernel_options_check_pids_limit_and_user():
    assert KernelOptions.from_config({"image": "i", "pids_limit": "200"}).pids_limit == 200
    assert KernelOptions(image="i", pids_limit=500, user="root").to_config() == {"image": "i", "pids_limit": 500,
                                                                                 "user": "root"}
    with pytest.raises(KernelError):
        KernelOptions(image="i", pids_limit=-5)
    with pytest.raises(KernelError):
        KernelOptions(image="i", user="admin; rm -rf /")


def test_owner_state_knows_live_dead_and_foreign_owners():
    assert owner_state(owner()) == "alive"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert owner_state(f"{socket.gethostname()}:{dead.pid}") == "gone"
    assert owner_state(str(dead.pid)) == "gone"  # a bare pid (envkit 0.1's launch) means this host
    assert owner_state(f"another-host:{os.getpid()}") == "unknown"
    assert owner_state("") == "unknown"


def _member(name: str, *, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("member", [
    _member("/etc/passwd"), _member("../x"), _member("a/../../x"), _member("a\\..\\x"),
    _member("l", kind=tarfile.SYMTYPE, link="/etc/passwd"), _member("a/l", kind=tarfile.SYMTYPE, link="../../x"),
    _member("h", kind=tarfile.LNKTYPE, link="../x"), _member("dev", kind=tarfile.CHRTYPE),
])
def test_members_that_leave_the_archive_are_refused(member):
    with pytest.raises(EnvkitError) as caught:
        check_member(Path("a.envkit.tar"), "image.tar", member)
    assert "a.envkit.tar: refused" in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize("member", [
    _member("abc/layer.tar"), _member("manifest.json"), _member("blobs/sha256/ab", kind=tarfile.DIRTYPE),
    _member("abc/layer.tar", kind=tarfile.SYMTYPE, link="../blobs/sha256/ab"),
])
def test_ordinary_image_members_pass(member):
    check_member(Path("a.envkit.tar"), "image.tar", member)


def test_the_loaded_stream_names_no_image():
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["base:latest", "envkit/x:latest"], "Layers": []}])
    assert json.loads(_untagged("manifest.json", manifest.encode()))[0]["RepoTags"] is None
    assert _untagged("repositories", b'{"base": {"latest": "abc"}}') is None
    index = {"manifests": [{"digest": "sha256:1", "annotations": {"io.containerd.image.name": "docker.io/base:latest",
                                                                  "org.opencontainers.image.ref.name": "latest",
                                                                  "keep": "me"}}]}
    assert json.loads(_untagged("index.json", json.dumps(index).encode()))["manifests"][0]["annotations"] == {
        "keep": "me"}


def test_load_stream_is_a_valid_tar_without_names(tmp_path):
    from envkit.share_archive import ArchiveContents, load_stream

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        for name, data in (("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["base:1"]}]).encode()),
                           ("repositories", b"{}"), ("c.json", b"{}"), ("l/layer.tar", os.urandom(3 << 20))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "a.envkit.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("image.tar")
        info.size = len(inner.getvalue())
        tar.addfile(info, io.BytesIO(inner.getvalue()))
    with tarfile.open(archive) as tar:
        member = tar.getmember("image.tar")
    contents = ArchiveContents(path=archive, manifest={}, image_id="", spec_digest="", notebook_name="n.ipynb",
                               notebook_data=b"", metadata=None, image_offset=member.offset_data,  # type: ignore[arg-type]
                               image_size=member.size)
    chunks = list(load_stream(contents))
    assert max(len(c) for c in chunks) <= (1 << 20) + 4096  # streamed, never a whole layer at once
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert sorted(tar.getnames()) == ["c.json", "l/layer.tar", "manifest.json"]
        assert json.loads(tar.extractfile("manifest.json").read())[0]["RepoTags"] is None
        with tarfile.open(fileobj=io.BytesIO(inner.getvalue())) as original:
            assert tar.extractfile("l/layer.tar").read() == original.extractfile("l/layer.tar").read()


def test_a_failed_builds_own_layers_are_read_from_its_log():
    from support.build import committed_layers

    log = ["Step 1/4 : FROM envkit-test-base:bookworm", " ---> c95337e3f2a1",
           "Step 2/4 : RUN apt-get update", " ---> Using cache", " ---> 1111aaaa2222",
           "Step 3/4 : COPY x /x", " ---> 3333bbbb4444",
           "Step 4/4 : RUN false", " ---> Running in 5555cccc6666", "Removing intermediate container 5555cccc6666"]
    assert committed_layers(log) == ["3333bbbb4444"]  # never the base image or a reused layer
