"""``envkit build``/``dockerfile``/``images``/``gc`` on a real engine and a real notebook."""

from __future__ import annotations

import json

import pytest
from support import TEST_RUN
from support import build as support_build
from support.build import run_notebook, run_tag, tiny_notebook, tiny_spec

from envkit.build import BuildOptions, build_dockerfile, build_notebook, notebook_label
from envkit.cleanup import collect_garbage
from envkit.cli import main
from envkit.labels import LABEL_TEST_RUN
from envkit.notebook import read_notebook
from envkit.plan import image_tags

pytestmark = pytest.mark.docker
env_image = support_build.env_image  # the session's shared image (a fixture)


def test_build_writes_lock_and_image_into_the_notebook(env_image, base_image, tmp_path, capsys):
    run = TEST_RUN
    nb = tiny_notebook(tmp_path / f"My Analysis {run}.ipynb", spec=tiny_spec())
    before = read_notebook(nb).raw["cells"]
    assert main(["build", str(nb), "--base-image", base_image]) == 0
    out = capsys.readouterr().out
    readable, _ = image_tags(tiny_spec(), notebook_label(nb), BuildOptions())
    assert readable.startswith(f"envkit/my-analysis-{run}-") and f"reused {readable}" in out
    meta = read_notebook(nb).envkit()
    assert meta is not None and meta.lock == env_image.lock
    assert meta.image is not None and meta.image.id == env_image.image.id
    assert meta.image.tag == readable and meta.image.spec_digest == tiny_spec().digest()
    assert read_notebook(nb).raw["cells"] == before


def test_dry_run_and_dockerfile_build_nothing(base_image, tmp_path, capsys, engine):
    nb = tiny_notebook(tmp_path / "dry.ipynb", spec=tiny_spec("six", "idna"))
    # Only what this run could have made counts: other sessions may build on a shared engine.
    ours = {"label": f"dev.envkit.test-run={TEST_RUN}"}
    images_before = {i.id for i in engine.images.list(all=True, filters=ours)}
    assert main(["build", str(nb), "--base-image", base_image, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"FROM {base_image}" in out and "requirements.txt" in out and "freeze.py" in out
    assert main(["dockerfile", str(nb), "--base-image", base_image]) == 0
    assert f"FROM {base_image}" in capsys.readouterr().out
    assert {i.id for i in engine.images.list(all=True, filters=ours)} == images_before
    assert read_notebook(nb).envkit().lock is None


def test_images_lists_envkit_images(env_image, capsys):
    assert main(["images", "--json"]) == 0
    listed = {i["id"]: i for i in json.loads(capsys.readouterr().out)}
    assert env_image.image.id in listed
    assert listed[env_image.image.id]["notebook"].endswith("tiny.ipynb")
    assert main(["images"]) == 0
    assert run_tag("tiny") in capsys.readouterr().out


def test_gc_removes_untagged_images_only(engine, env_image, base_image):
    run = TEST_RUN
    mine = {LABEL_TEST_RUN: run, "dev.envkit.gc-test": "1"}
    untagged = build_dockerfile(f"FROM {base_image}\nRUN echo gc-test > /gc\n", {}, tag="", labels=mine)
    tagged = build_dockerfile(f"FROM {base_image}\nRUN echo gc-test-kept > /gc\n", {}, tag=run_tag("gc-kept"),
                              labels=mine)
    try:
        planned = collect_garbage(dry_run=True, min_age=0, labels=mine)
        assert [g.image.id for g in planned] == [untagged]
        engine.images.get(untagged)  # a dry run removes nothing
        removed = collect_garbage(min_age=0, labels=mine)
        assert [g.image.id for g in removed] == [untagged]
        assert engine.images.get(tagged).id == tagged
        assert engine.images.get(env_image.image.id)
    finally:
        engine.images.remove(tagged, force=True)


def test_notebook_without_spec_is_captured_first(env_image, base_image, tmp_path):
    nb = tiny_notebook(tmp_path / run_notebook("raw"))  # imports six; no metadata.envkit
    assert read_notebook(nb).envkit() is None
    result = build_notebook(nb, options=BuildOptions(base_image=base_image))
    meta = read_notebook(nb).envkit()
    assert meta is not None and meta.spec is not None and meta.spec.requirement("six") is not None
    assert meta.lock == result.lock and result.lock.pin("six") is not None
    assert meta.image is not None and meta.image.id == result.image.id


def test_ensure_image_uses_the_recorded_image(env_image, base_image, tmp_path):
    from envkit.build import ensure_image

    nb = tiny_notebook(tmp_path / run_notebook("ensure"), spec=tiny_spec())
    first = ensure_image(nb, options=BuildOptions(base_image=base_image))
    assert first.id == env_image.image.id
    events: list = []
    again = ensure_image(nb, progress=events.append)  # recorded in the notebook: no build, no look-up
    assert again == first and events == []


def test_foreign_image_under_the_tag_is_not_built_upon(engine, base_image, env_image):
    from envkit.build import previous_layer
    from envkit.engine.images import remove_image, tag_image
    from envkit.labels import LABEL_NOTEBOOK, LABEL_OPTIONS_KEY
    from envkit.plan import options_key

    options = BuildOptions(base_image=base_image)
    foreign, labelled, envkit_made = run_tag("foreign"), run_tag("labelled-only"), run_tag("envkit-made")
    tag_image(base_image, foreign)  # not an envkit image at all
    # Carries the right labels but no /opt/envkit/layer (an older envkit, or made by hand).
    mine = engine.images.get(env_image.image.id).labels[LABEL_NOTEBOOK]  # the tiny notebook's label
    build_dockerfile(f"FROM {base_image}\n", {}, tag=labelled,
                     labels={LABEL_OPTIONS_KEY: options_key(tiny_spec(), options), LABEL_NOTEBOOK: mine})
    tag_image(env_image.image.id, envkit_made)
    try:
        assert previous_layer(foreign, tiny_spec("idna"), options, notebook=mine) is None
        assert previous_layer(labelled, tiny_spec("idna"), options, notebook=mine) is None
        assert previous_layer(envkit_made, tiny_spec("idna"), options, notebook=mine) is not None
        assert previous_layer(envkit_made, tiny_spec("idna"), BuildOptions(base_image=base_image, uid=4321),
                              notebook=mine) is None
        # A same-named notebook in another folder never builds on this one's packages layer.
        other = mine.replace("tiny.ipynb", "elsewhere/tiny.ipynb")
        assert previous_layer(envkit_made, tiny_spec("idna"), options, notebook=other) is None
    finally:
        for tag in (foreign, labelled, envkit_made):
            remove_image(tag)
