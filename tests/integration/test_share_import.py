"""``envkit import`` of archives someone else made: checked before loading, never applying its own tags.

Each tampered archive starts from a real ``envkit export`` and is changed the way an attacker or a
careless hand would; each refusal must be one line, exit 1, and leave every tag on the engine
where it was, with no image loaded.
"""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import tags_on_engine
from support.build import env_image  # noqa: F401
from support.share_image import SharedImage, notebook_for, share_image  # noqa: F401

from envkit.build import BuildOptions, image_tags, notebook_label
from envkit.cli import main
from envkit.engine import registry as engine_registry
from envkit.engine.images import inspect_image, tag_image

pytestmark = [pytest.mark.docker]


def _tags(engine) -> dict[str, str]:
    """Every tag on the engine and the image it names (and ``"@" + id`` for every image)."""
    return tags_on_engine()


def _unchanged(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Tags moved to another image, or taken off an image still here (another session may remove its own)."""
    return sorted(f"{t}: {i[:19]} -> {after.get(t, 'gone')[:19]}" for t, i in before.items()
                  if not t.startswith("@") and after.get(t) != i and (t in after or "@" + i in after))


@pytest.fixture(scope="module")
def exported(share_image, tmp_path_factory) -> tuple[Path, Path]:
    """A real archive made by ``envkit export`` and the notebook it came from."""
    folder = tmp_path_factory.mktemp("import")
    nb = notebook_for(share_image, folder / "src", name="imported.ipynb")
    archive = folder / "imported.envkit.tar"
    assert main(["export", str(nb), "-o", str(archive)]) == 0
    return archive, nb


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar.getmembers()]


def _write(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _rewrite_image(archive: Path, out: Path, change: Callable[[list[tuple[tarfile.TarInfo, bytes]]], None]) -> Path:
    """A copy of ``archive`` whose image.tar members went through ``change`` (a list edited in place)."""
    members = _members(archive)
    for i, (info, data) in enumerate(members):
        if info.name == "image.tar":
            with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                image = [(m, inner.extractfile(m).read() if m.isfile() else b"") for m in inner.getmembers()]
            change(image)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for m, d in image:
                    m.size = len(d) if m.isfile() else 0
                    tar.addfile(m, io.BytesIO(d) if m.isfile() else None)
            members[i] = (info, buf.getvalue())
    return _write(out, members)


def _set(members: list[tuple[tarfile.TarInfo, bytes]], name: str, data: bytes) -> None:
    for i, (info, _) in enumerate(members):
        if info.name == name:
            members[i] = (info, data)
            return
    members.append((tarfile.TarInfo(name), data))


def _refused(engine, archive: Path, capsys, image: SharedImage, *, gone: bool = True) -> str:
    """Import ``archive`` expecting a refusal; checks the exit code, one line, and an engine left alone."""
    if gone:
        engine.images.remove(image.image_id, force=True)
    before = _tags(engine)
    dest = archive.parent / (archive.stem + "-dest")
    assert main(["import", str(archive), "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert archive.name in first and "refused" in first, err
    assert _unchanged(before, _tags(engine)) == []
    if gone:
        assert inspect_image(image.image_id) is None  # nothing was loaded
    assert not dest.exists()  # nor the notebook restored
    return first


def test_a_genuine_archive_loads_untagged_and_gets_only_the_content_tag(engine, share_image, exported, tmp_path,
                                                                        capsys):
    archive, nb = exported
    engine.images.remove(share_image.image_id, force=True)
    before = _tags(engine)
    assert main(["import", str(archive), "--dest", str(tmp_path)]) == 0
    assert "loaded as" in capsys.readouterr().out
    after = _tags(engine)
    _, content = image_tags(share_image.spec, notebook_label(tmp_path / "imported.ipynb"), BuildOptions())
    assert after[content] == share_image.image_id
    assert share_image.tag not in after  # the tag the exporter's engine had is not applied
    new = {t for t in after if t not in before and not t.startswith("@") and after[t] == share_image.image_id}
    assert new == {content}
    assert _unchanged(before, after) == []
    assert (tmp_path / "imported.ipynb").read_bytes() == nb.read_bytes()
    tag_image(share_image.image_id, share_image.tag)  # for the other tests


def test_an_archive_retagged_to_a_base_image_moves_no_tag(engine, share_image, base_image, exported, tmp_path,
                                                          capsys):
    archive, _ = exported

    def retag(image: list[tuple[tarfile.TarInfo, bytes]]) -> None:
        manifest = json.loads(dict((m.name, d) for m, d in image)["manifest.json"])
        manifest[0]["RepoTags"] = [base_image, share_image.tag]
        _set(image, "manifest.json", json.dumps(manifest).encode())
        repo, tag = base_image.split(":")
        layer = manifest[0]["Layers"][-1].split("/")[0]
        _set(image, "repositories", json.dumps({repo: {tag: layer}}).encode())

    tampered = _rewrite_image(archive, tmp_path / "retagged.envkit.tar", retag)
    engine.images.remove(share_image.image_id, force=True)
    base_id = engine.images.get(base_image).id
    before = _tags(engine)
    assert main(["import", str(tampered), "--dest", str(tmp_path / "dest")]) == 0
    after = _tags(engine)
    assert after[base_image] == base_id  # the archive's RepoTags were not applied
    assert share_image.tag not in after
    assert _unchanged(before, after) == []
    capsys.readouterr()
    tag_image(share_image.image_id, share_image.tag)


def test_an_archive_carrying_another_image_is_refused(engine, share_image, base_image, exported, tmp_path, capsys):
    archive, _ = exported
    # The base image's own save, named with the notebook's tag, where the notebook's image should be.
    buf = io.BytesIO()
    engine_registry.save(base_image, buf)
    swapped = [(m, d if m.name != "image.tar" else buf.getvalue()) for m, d in _members(archive)]
    tampered = _write(tmp_path / "swapped.envkit.tar", swapped)
    first = _refused(engine, tampered, capsys, share_image)
    assert "not the" in first and share_image.image_id[:19] in first
    tag_image(*_restore(engine, archive, share_image))


def _restore(engine, archive: Path, image: SharedImage) -> tuple[str, str]:
    """Bring the share image back from the genuine archive; (id, tag) to re-tag it."""
    from envkit.share import import_archive

    import_archive(archive, dest=archive.parent / "restore")
    return image.image_id, image.tag


def test_a_manifest_with_another_image_id_is_refused(engine, share_image, exported, tmp_path, capsys):
    archive, _ = exported
    members = _members(archive)
    manifest = json.loads(dict((m.name, d) for m, d in members)["envkit-manifest.json"])
    manifest["image_id"] = "sha256:" + "ab" * 32
    _set(members, "envkit-manifest.json", json.dumps(manifest).encode())
    first = _refused(engine, _write(tmp_path / "wrong-id.envkit.tar", members), capsys, share_image)
    assert "sha256:abababababab" in first
    tag_image(*_restore(engine, archive, share_image))


def test_a_notebook_for_another_spec_is_refused(engine, share_image, exported, tmp_path, capsys):
    archive, _ = exported
    members = _members(archive)
    name = next(m.name for m, _ in members if m.name.startswith("notebook/"))
    nb = json.loads(dict((m.name, d) for m, d in members)[name])
    nb["metadata"]["envkit"]["spec"]["python"] = "3.12"
    _set(members, name, json.dumps(nb).encode())
    first = _refused(engine, _write(tmp_path / "other-spec.envkit.tar", members), capsys, share_image)
    assert "spec" in first


@pytest.mark.parametrize("where", ["archive", "image"])
@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink-out"])
def test_a_member_leaving_the_archive_is_refused(engine, share_image, exported, tmp_path, capsys, where, kind):
    archive, _ = exported
    bad = tarfile.TarInfo({"dotdot": "../escaped.txt", "absolute": "/tmp/escaped.txt", "symlink-out": "link"}[kind])
    if kind == "symlink-out":
        bad.type, bad.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    entry = (bad, b"" if kind == "symlink-out" else b"x")
    if where == "archive":
        tampered = _write(tmp_path / f"{kind}.envkit.tar", [*_members(archive), entry])
    else:
        tampered = _rewrite_image(archive, tmp_path / f"{kind}.envkit.tar", lambda image: image.append(entry))
    first = _refused(engine, tampered, capsys, share_image, gone=False)
    assert "unsafe member name" in first or "pointing out of it" in first
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()
