"""Push/pull by digest through a real registry, export/import archives, and their failures."""

# ruff: noqa: F811  (pytest fixtures imported from support modules)
from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from support.build import env_image  # noqa: F401
from support.registry import free_port, registry  # noqa: F401
from support.share_image import notebook_for, share_image  # noqa: F401

from envkit.cli import main
from envkit.engine.images import inspect_image, tag_image
from envkit.errors import ArchiveError, NotebookError, RegistryError
from envkit.events import Transfer
from envkit.labels import LABEL_SPEC
from envkit.notebook import read_notebook, update_envkit
from envkit.share import export_notebook, import_archive, pull_notebook, push_notebook

pytestmark = [pytest.mark.docker, pytest.mark.registry]


def _forget(engine, image_id: str) -> None:
    """Remove the image and every tag or digest reference to it: a clean engine state."""
    engine.images.remove(image_id, force=True)
    assert inspect_image(image_id) is None


def test_push_records_digest_and_pull_restores_it(engine, registry, share_image, tmp_path):
    nb = notebook_for(share_image, tmp_path)
    events = []
    result = push_notebook(nb, registry.repository("team/analysis"), progress=events.append)
    repository, _, digest = result.repo_digest.partition("@")
    assert repository == f"{registry.host}/team/analysis" and digest.startswith("sha256:")
    assert any(isinstance(e, Transfer) for e in events)  # layer progress reached the listener
    assert read_notebook(nb).envkit().image.repo_digest == result.repo_digest

    _forget(engine, share_image.image_id)
    events.clear()
    pulled = pull_notebook(nb, progress=events.append)
    assert pulled.image_id == share_image.image_id  # content-addressed: the very same image
    assert pulled.spec_digest == share_image.spec.digest()
    assert engine.images.get(result.repo_digest).labels[LABEL_SPEC] == share_image.spec.digest()
    assert engine.images.get(share_image.tag).id == share_image.image_id  # the recorded name is back
    assert any(isinstance(e, Transfer) for e in events)


def test_pull_of_an_image_for_another_spec_is_refused(registry, share_image, tmp_path, capsys):
    nb = notebook_for(share_image, tmp_path)
    push_notebook(nb, registry.repository("team/mismatch"))
    changed = share_image.spec.with_changes(python="3.12")
    update_envkit(nb, spec=changed)
    with pytest.raises(RegistryError) as caught:
        pull_notebook(nb)
    assert "was built for spec" in caught.value.message and changed.digest() in caught.value.message
    assert f"envkit build {nb}" in caught.value.hint
    assert main(["pull", str(nb)]) == 1
    assert "envkit build" in capsys.readouterr().err


def test_unreachable_registry_and_lost_digest_offer_a_rebuild(registry, share_image, tmp_path, capsys):
    nb = notebook_for(share_image, tmp_path)
    gone = f"127.0.0.1:{free_port()}/team/analysis@sha256:" + "0" * 64
    update_envkit(nb, image=replace(share_image.record(), repo_digest=gone))
    assert main(["pull", str(nb)]) == 1
    err = capsys.readouterr().err
    assert "could not be reached" in err and f"envkit build {nb}" in err
    assert "Traceback" not in err

    lost = registry.repository("team/never-pushed") + "@sha256:" + "1" * 64
    update_envkit(nb, image=replace(share_image.record(), repo_digest=lost))
    with pytest.raises(RegistryError) as caught:
        pull_notebook(nb)
    assert "does not have it" in caught.value.message and "envkit build" in caught.value.hint


def test_push_to_an_unreachable_registry_says_so(share_image, tmp_path):
    nb = notebook_for(share_image, tmp_path)
    with pytest.raises(RegistryError) as caught:
        push_notebook(nb, f"127.0.0.1:{free_port()}/team/analysis")
    assert "could not be reached" in caught.value.message
    assert read_notebook(nb).envkit().image.repo_digest == ""  # nothing recorded on failure


def test_export_and_import_round_trip(engine, share_image, tmp_path, capsys):
    nb = notebook_for(share_image, tmp_path / "src", name="analysis.ipynb")
    archive = tmp_path / "analysis.envkit.tar"
    assert main(["export", str(nb), "-o", str(archive)]) == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("envkit-manifest.json").read())
    assert {"envkit-manifest.json", "notebook/analysis.ipynb", "image.tar"} <= set(names)
    assert manifest["image_id"] == share_image.image_id
    assert manifest["spec_digest"] == share_image.spec.digest()

    _forget(engine, share_image.image_id)
    dest = tmp_path / "elsewhere"
    result = import_archive(archive, dest=dest)
    assert result.image_id == share_image.image_id and result.notebook_written
    assert (dest / "analysis.ipynb").read_bytes() == nb.read_bytes()
    # The archive's own tags are not applied; the content tag envkit computes is.
    assert result.tag.startswith("envkit/analysis-") and result.tag.endswith(f":{share_image.spec.digest()[7:19]}")
    assert engine.images.get(result.tag).id == share_image.image_id
    tag_image(share_image.image_id, share_image.tag)  # for the other tests

    (dest / "analysis.ipynb").write_text("mine")  # an existing notebook is never overwritten
    assert main(["import", str(archive), "--dest", str(dest)]) == 0
    assert (dest / "analysis.ipynb").read_text() == "mine"
    assert "left as it was" in capsys.readouterr().out


def test_import_of_a_damaged_archive_names_it(tmp_path, engine, capsys):
    bad = tmp_path / "bad.envkit.tar"
    with tarfile.open(bad, "w") as tar:
        data = json.dumps({"notebook": "x.ipynb"}).encode()
        info = tarfile.TarInfo("envkit-manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert main(["import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.envkit.tar" in err and "not an envkit archive" in err
    assert not (tmp_path / "x.ipynb").exists()
    with pytest.raises(ArchiveError):
        import_archive(bad)
    (tmp_path / "not-a-tar.envkit.tar").write_text("hello")
    with pytest.raises(ArchiveError, match="not an envkit archive"):
        import_archive(tmp_path / "not-a-tar.envkit.tar")


def test_export_of_a_notebook_without_image_says_build_first(tmp_path):
    nb = Path(tmp_path / "n.ipynb")
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    with pytest.raises(NotebookError) as caught:
        export_notebook(nb, tmp_path / "n.envkit.tar")
    assert "envkit build" in caught.value.hint
    assert not (tmp_path / "n.envkit.tar").exists()


def test_push_and_pull_from_the_magic_in_a_real_kernel(registry, share_image, tmp_path):
    from support.notebooks import execute, make_notebook, text_of

    repository = registry.repository("team/magic")
    nb = make_notebook(tmp_path / "magic.ipynb", ["%load_ext envkit", f"%envkit push --to {repository}",
                                                  "%envkit pull", "%envkit badge --repo o/n --ref main"])
    update_envkit(nb, spec=share_image.spec, lock=share_image.lock, image=share_image.record())
    ran = execute(nb)
    pushed, pulled, badge = (text_of(c) for c in ran.cells[1:])
    recorded = read_notebook(nb).envkit().image.repo_digest
    assert recorded.startswith(repository + "@sha256:") and recorded in pushed
    assert "matches spec" in pulled and "Traceback" not in pulled
    assert "https://mybinder.org/v2/gh/o/n/main" in badge
