"""The remote engine's file copies: what is sent, and what comes back to the client folder."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from envkit.engine import engine_hostname, shares_files
from envkit.errors import KernelError
from envkit.kernels import transfer


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar}


def _returned(folder: Path, files: dict[str, bytes]) -> list[bytes]:
    """A tar as get_archive gives it for ``folder``: names start with the folder's own name."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"{folder.name}/{rel}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return [buf.getvalue()]


def test_pack_puts_the_connection_file_and_the_folder_at_their_paths_owned_by_the_kernel(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    data, snapshot = transfer.pack(tmp_path, "/run/envkit/kernel.json", json.dumps({"key": "k"}).encode(),
                                   uid=1234, gid=99)
    members = _members(data)
    base = tmp_path.as_posix().lstrip("/")
    assert members["run/envkit/kernel.json"].mode == 0o600
    assert {f"{base}/data.csv", f"{base}/sub", f"{base}/sub/x.txt"} <= set(members)
    assert not any(".git" in name for name in members)
    assert {(m.uid, m.gid) for m in members.values()} == {(1234, 99)}
    assert set(snapshot.sent) == {"data.csv", "sub/x.txt"}


def test_pack_refuses_a_folder_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(transfer, "MAX_FILES", 2)
    for i in range(3):
        (tmp_path / f"f{i}").write_text("x")
    with pytest.raises(KernelError, match="too large to copy"):
        transfer.pack(tmp_path, "/run/envkit/kernel.json", b"{}", uid=1, gid=1)


def test_unpack_writes_new_and_changed_files_only_and_keeps_a_client_edit(tmp_path):
    (tmp_path / "same.txt").write_text("same")
    (tmp_path / "changed.txt").write_text("old")
    (tmp_path / "edited.ipynb").write_text("v1")
    _, snapshot = transfer.pack(tmp_path, "/run/envkit/kernel.json", b"{}", uid=1, gid=1)
    (tmp_path / "edited.ipynb").write_text("v2 saved on the client")  # while the kernel ran
    done = transfer.unpack(_returned(tmp_path, {
        "same.txt": b"same", "changed.txt": b"new", "edited.ipynb": b"v1 from the kernel",
        "out/result.txt": b"42", "../escape.txt": b"no",
    }), snapshot)
    assert sorted(done.written) == ["changed.txt", "out/result.txt"]
    assert done.conflicts == ("edited.ipynb",)
    assert (tmp_path / "changed.txt").read_text() == "new"
    assert (tmp_path / "out" / "result.txt").read_text() == "42"
    assert (tmp_path / "edited.ipynb").read_text() == "v2 saved on the client"
    assert not (tmp_path.parent / "escape.txt").exists()


def test_unpack_beside_writes_the_containers_version_next_to_a_client_edit_never_over_it(tmp_path):
    (tmp_path / "answer.ipynb").write_text("v1")
    (tmp_path / "notes").write_text("n1")
    (tmp_path / "answer.from-lab.ipynb").write_text("an older copy, not envkit's to replace")
    data, snapshot = transfer.pack(tmp_path, "", b"", uid=1, gid=1)
    assert not any("run/envkit" in name for name in _members(data))  # no connection file asked for
    (tmp_path / "answer.ipynb").write_text("v2 saved on the client")
    (tmp_path / "notes").write_text("n2 on the client")
    (tmp_path / "new.txt").write_text("made on the client")
    done = transfer.unpack(_returned(tmp_path, {
        "answer.ipynb": b"v1 edited in the lab", "notes": b"n1 edited in the lab",
        "new.txt": b"made in the lab", "same-edit.txt": b"x",
    }), snapshot, beside="from-lab")
    assert done.conflicts == ("answer.ipynb", "notes", "new.txt")
    assert done.beside == ("answer.from-lab-2.ipynb", "notes.from-lab", "new.from-lab.txt")
    assert (tmp_path / "answer.ipynb").read_text() == "v2 saved on the client"
    assert (tmp_path / "answer.from-lab-2.ipynb").read_text() == "v1 edited in the lab"
    assert (tmp_path / "answer.from-lab.ipynb").read_text() == "an older copy, not envkit's to replace"
    assert (tmp_path / "notes.from-lab").read_text() == "n1 edited in the lab"
    assert (tmp_path / "new.txt").read_text() == "made on the client"
    assert done.written == ("same-edit.txt",)


def test_unpack_leaves_a_file_changed_on_the_client_only_alone(tmp_path):
    (tmp_path / "a.txt").write_text("sent")
    _, snapshot = transfer.pack(tmp_path, "", b"", uid=1, gid=1)
    (tmp_path / "a.txt").write_text("changed here")
    done = transfer.unpack(_returned(tmp_path, {"a.txt": b"sent"}), snapshot, beside="from-lab")
    assert done == transfer.Returned()
    assert (tmp_path / "a.txt").read_text() == "changed here"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_kernels_version_of_a_client_edit_goes_beside_it_under_its_own_tag(tmp_path):
    (tmp_path / "answer.ipynb").write_text("v1")
    (tmp_path / "data").write_text("d1")
    _, snapshot = transfer.pack(tmp_path, "", b"", uid=1, gid=1)
    (tmp_path / "answer.ipynb").write_text("v2 saved on the client")
    (tmp_path / "data").write_text("d2 on the client")
    (tmp_path / "data.from-kernel").write_text("someone's file")
    done = transfer.unpack(_returned(tmp_path, {"answer.ipynb": b"v1 run by the kernel", "data": b"d1 kernel"}),
                           snapshot, beside=transfer.BESIDE_KERNEL)
    assert done.beside == ("answer.from-kernel.ipynb", "data.from-kernel-2")
    assert (tmp_path / "answer.from-kernel.ipynb").read_text() == "v1 run by the kernel"
    assert (tmp_path / "data.from-kernel").read_text() == "someone's file"
    assert (tmp_path / "answer.ipynb").read_text() == "v2 saved on the client"
    assert transfer.conflict_notes(done, tmp_path, "the kernel") == [
        f"answer.ipynb changed in {tmp_path} while the kernel ran: kept yours, "
        "the container's version is in answer.from-kernel.ipynb",
        f"data changed in {tmp_path} while the kernel ran: kept yours, the container's version is in data.from-kernel-2",
    ]


def test_a_snapshot_stored_in_the_container_reads_back_the_same_and_is_roots(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    _, snapshot = transfer.pack(tmp_path, "", b"", uid=1000, gid=1000)
    data = transfer.snapshot_archive(snapshot)
    members = _members(data)
    stored = members[transfer.SNAPSHOT_PATH.lstrip("/")]
    assert (stored.uid, stored.gid, stored.mode) == (0, 0, 0o644)
    assert [n for n in members if not transfer.SNAPSHOT_PATH.lstrip("/").startswith(n)] == []
    # get_archive names the file by its own name, without its folders
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        content = tar.extractfile(stored).read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("copy-back.json")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    assert transfer.read_snapshot([buf.getvalue()]) == snapshot
    assert set(snapshot.sent) == {"a.txt", "sub/b.txt"}


@pytest.mark.parametrize("content", [b"[]", b'{"folder": "relative", "sent": {}}', b'{"folder": "/x"}', b"not json"])
def test_a_stored_snapshot_that_is_not_one_is_refused(content):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("copy-back.json")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    with pytest.raises(ValueError):
        transfer.read_snapshot([buf.getvalue()])


@pytest.mark.parametrize(("url", "shared", "host"), [
    ("unix:///var/run/docker.sock", True, ""),
    ("tcp://127.0.0.1:2376", False, "127.0.0.1"),
    ("ssh://me@build-box", False, "build-box"),
])
def test_an_engine_over_the_network_does_not_share_the_clients_files(url, shared, host):
    assert shares_files(url) is shared
    assert engine_hostname(url) == host



def test_a_docker_contexts_endpoint_and_certificates_are_used(tmp_path, monkeypatch):
    from envkit import engine

    digest = "a" * 64  # the docker CLI names the folders by the context name's digest
    meta = tmp_path / "contexts" / "meta" / digest
    tls = tmp_path / "contexts" / "tls" / digest / "docker"
    meta.mkdir(parents=True)
    tls.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "build-box", "Endpoints": {
        "docker": {"Host": "tcp://127.0.0.1:2376", "SkipTLSVerify": False}}}))
    for name in ("ca", "cert", "key"):
        (tls / f"{name}.pem").write_text("x")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONTEXT", "build-box")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine.engine_url() == "tcp://127.0.0.1:2376"
    assert not engine.shares_files()
    config = engine._context_tls(engine._docker(), "tcp://127.0.0.1:2376")
    assert config.ca_cert == str(tls / "ca.pem") and config.verify
    assert config.cert == (str(tls / "cert.pem"), str(tls / "key.pem"))
