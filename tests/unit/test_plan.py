"""Build planning without an engine: install plans, keys, tags, labels and the reuse rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.errors import UsageError
from envkit.labels import LABEL_BUILD_KEY, LABEL_NOTEBOOK, LABEL_OPTIONS_KEY, LABEL_SPEC, LABEL_TEST_RUN
from envkit.plan import (
    BaseLayer,
    BuildOptions,
    build_key,
    fresh_build,
    holds_lock,
    image_labels,
    image_tags,
    image_uid,
    make_plan,
    may_build_on,
    options_key,
    plan_install,
    recorded_layer,
    reuse_filter,
    usable_lock,
)
from envkit.settings import PipSettings
from envkit.spec import EnvSpec, Lock, Pin, Requirement

HASH_A, HASH_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def spec(*reqs: str, **kw) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs), **kw)


def lock_for(s: EnvSpec, *pins: Pin, source: str = "image") -> Lock:
    return Lock(spec_digest=s.digest(), python="3.11.2", packages=pins, source=source)


SIX = Pin(name="six", version="1.17.0", hashes=(HASH_A,))
KERNEL = Pin(name="ipykernel", version="7.4.0", hashes=(HASH_B,))


# ---- plan_install: every branch -------------------------------------------------------------------


def test_no_lock_resolves_the_spec_and_adds_ipykernel():
    plan = plan_install(spec("six", "idna>=3"), None, BuildOptions())
    assert plan.mode == "resolve" and not plan.from_lock and not plan.hashed and plan.flags == ()
    assert plan.requirements == "idna>=3\nsix\nipykernel\n"
    assert plan_install(spec("ipykernel>=6"), None, BuildOptions()).requirements == "ipykernel>=6\n"


def test_complete_image_lock_is_synced_with_hashes():
    s = spec("six")
    plan = plan_install(s, lock_for(s, SIX, KERNEL), BuildOptions())
    assert plan.mode == "sync" and plan.from_lock and plan.hashed and plan.flags == ("--require-hashes",)
    assert plan.requirements == f"ipykernel==7.4.0 \\\n    --hash={HASH_B}\nsix==1.17.0 \\\n    --hash={HASH_A}\n"
    assert "2 packages" in plan.origin


def test_complete_lock_without_every_hash_is_synced_without_require_hashes():
    s = spec("six")
    plan = plan_install(s, lock_for(s, Pin(name="six", version="1.17.0"), KERNEL), BuildOptions())
    assert plan.mode == "sync" and not plan.hashed and plan.flags == () and "--hash" not in plan.requirements


def test_kernel_lock_is_incomplete_so_the_rest_is_resolved():
    s = spec("six")
    plan = plan_install(s, lock_for(s, SIX, source="kernel"), BuildOptions())
    assert plan.mode == "resolve" and plan.from_lock and not plan.hashed
    assert plan.requirements == "six==1.17.0\nipykernel\n"


def test_image_lock_without_ipykernel_counts_as_incomplete():
    s = spec("six")
    plan = plan_install(s, lock_for(s, SIX), BuildOptions())
    assert plan.mode == "resolve" and plan.requirements.endswith("ipykernel\n")


def test_stale_empty_or_unwanted_lock_is_not_used():
    s = spec("six")
    stale = Lock(spec_digest=spec("six", "idna").digest(), python="3.11.2", packages=(SIX, KERNEL))
    assert usable_lock(s, stale, BuildOptions()) is None
    assert not plan_install(s, stale, BuildOptions()).from_lock
    assert usable_lock(s, lock_for(s), BuildOptions()) is None  # no packages
    assert usable_lock(s, lock_for(s, SIX, KERNEL), BuildOptions(use_lock=False)) is None
    assert usable_lock(s, lock_for(s, SIX, KERNEL), BuildOptions()) is not None


def test_offline_installs_pins_or_requirements_without_require_hashes():
    s = spec("six")
    locked = plan_install(s, lock_for(s, SIX, KERNEL), BuildOptions(), offline=True)
    assert locked.mode == "offline" and locked.from_lock and not locked.hashed and "--hash" not in locked.requirements
    loose = plan_install(s, None, BuildOptions(), offline=True)
    assert loose.mode == "offline" and loose.requirements == "six\nipykernel\n"


# ---- keys, uid, tags ------------------------------------------------------------------------------------


def test_build_key_follows_spec_base_uid_platform_only():
    s = spec("six")
    key = build_key(s, BuildOptions())
    assert key == build_key(s, BuildOptions(tag="other", use_lock=False, no_cache=True))
    assert key == build_key(s, BuildOptions(uid=1000))  # the fallback uid is 1000
    for other in (BuildOptions(uid=1001), BuildOptions(base_image="ubuntu:24.04"), BuildOptions(platform="linux/arm64")):
        assert build_key(s, other) != key
    assert build_key(spec("six", "idna"), BuildOptions()) != key
    assert build_key(spec("six", base_image="ubuntu:24.04"), BuildOptions()) == \
        build_key(spec("six", base_image="ubuntu:24.04"), BuildOptions(base_image="ubuntu:24.04")) != key


def test_options_key_ignores_packages_but_not_base_uid_platform():
    assert options_key(spec("six"), BuildOptions()) == options_key(spec("six", "idna"), BuildOptions())
    assert options_key(spec("six"), BuildOptions()) != options_key(EnvSpec(python="3.12"), BuildOptions())
    assert options_key(spec("six"), BuildOptions()) != options_key(spec("six"), BuildOptions(uid=4242))
    assert options_key(spec("six"), BuildOptions()) != options_key(spec("six"), BuildOptions(platform="linux/amd64"))


def test_uid_defaults_to_1000_and_is_never_root():
    assert image_uid(BuildOptions()) == 1000 and image_uid(BuildOptions(uid=1234)) == 1234
    with pytest.raises(UsageError, match="root"):
        image_uid(BuildOptions(uid=0))
    with pytest.raises(UsageError, match="root"):
        make_plan(spec("six"), None, BuildOptions(uid=0))


def test_same_named_notebooks_in_different_folders_get_different_tags():
    s = spec("six")
    a, _ = image_tags(s, "~/a/analysis.ipynb", BuildOptions())
    b, _ = image_tags(s, "~/b/analysis.ipynb", BuildOptions())
    assert a != b and a.startswith("envkit/analysis-") and b.startswith("envkit/analysis-") and a.endswith(":latest")
    assert image_tags(s, "~/a/analysis.ipynb", BuildOptions())[0] == a  # stable
    readable, content = image_tags(s, "/x/My Analysis (v2).ipynb", BuildOptions())
    repo = readable.rsplit(":", 1)[0]
    assert repo.startswith("envkit/my-analysis-v2-") and len(repo) == len("envkit/my-analysis-v2-") + 6
    assert content == f"{repo}:{s.digest()[7:19]}"
    assert image_tags(s, "", BuildOptions())[0] == "envkit/environment:latest"


def test_tag_option_names_the_repository():
    s = spec("six")
    assert image_tags(s, "a.ipynb", BuildOptions(tag="team/env:v1")) == ("team/env:v1", f"team/env:{s.digest()[7:19]}")
    assert image_tags(s, "a.ipynb", BuildOptions(tag="registry:5000/env")) == (
        "registry:5000/env:latest", f"registry:5000/env:{s.digest()[7:19]}")


# ---- labels and reuse ------------------------------------------------------------------------------------


def test_image_labels_carry_keys_notebook_and_extras_without_overriding_envkit():
    s = spec("six")
    labels = image_labels(s, BuildOptions(), notebook="~/a/n.ipynb",
                          extra={LABEL_TEST_RUN: "abc", "team": "ds", LABEL_SPEC: "forged"})
    assert labels[LABEL_TEST_RUN] == "abc" and labels["team"] == "ds"
    assert labels[LABEL_SPEC] == s.digest() and labels[LABEL_NOTEBOOK] == "~/a/n.ipynb"
    assert labels[LABEL_BUILD_KEY] == build_key(s, BuildOptions())
    assert labels[LABEL_OPTIONS_KEY] == options_key(s, BuildOptions())
    assert labels["org.opencontainers.image.title"] == "n"
    assert LABEL_TEST_RUN not in image_labels(s, BuildOptions(), notebook="n.ipynb")


def test_reuse_filter_requires_the_configured_labels():
    s = spec("six")
    assert reuse_filter(s, BuildOptions()) == {LABEL_SPEC: s.digest(), LABEL_BUILD_KEY: build_key(s, BuildOptions())}
    assert reuse_filter(s, BuildOptions(), {LABEL_TEST_RUN: "abc"})[LABEL_TEST_RUN] == "abc"


def test_fresh_build_on_no_cache_or_no_lock():
    assert not fresh_build(BuildOptions())
    assert fresh_build(BuildOptions(no_cache=True)) and fresh_build(BuildOptions(use_lock=False))


def test_an_image_is_reused_only_when_it_holds_the_wanted_pins():
    s = spec("six")
    found = lock_for(s, SIX, KERNEL)
    assert holds_lock(found, None)
    assert holds_lock(found, lock_for(s, Pin(name="six", version="1.17.0"), source="kernel"))
    assert not holds_lock(found, lock_for(s, Pin(name="six", version="1.16.0"), source="kernel"))
    assert not holds_lock(found, lock_for(s, Pin(name="six", version="1.17.0", url="https://x.example/six.whl")))
    assert not holds_lock(found, lock_for(s, Pin(name="idna", version="3.10")))


def test_a_packages_layer_is_built_on_only_for_the_same_notebook_and_options():
    s = spec("six", "idna")
    labels = image_labels(spec("six"), BuildOptions(), notebook="~/a/analysis.ipynb")
    assert may_build_on(labels, s, BuildOptions(), notebook="~/a/analysis.ipynb")
    assert not may_build_on(labels, s, BuildOptions(), notebook="~/b/analysis.ipynb")
    assert not may_build_on(labels, s, BuildOptions(uid=4321), notebook="~/a/analysis.ipynb")
    assert not may_build_on({}, s, BuildOptions(), notebook="")


def test_recorded_layer_needs_both_files_and_an_online_install():
    files = {"layer/requirements.txt": b"six\n", "layer/run.txt": b"uv pip sync x\n"}
    assert recorded_layer(files) == BaseLayer(requirements=b"six\n", command="uv pip sync x")
    assert recorded_layer({"layer/requirements.txt": b"six\n"}) is None
    assert recorded_layer({**files, "layer/run.txt": b"uv pip install --offline x\n"}) is None


# ---- the whole plan ----------------------------------------------------------------------------------------


def test_make_plan_forwards_the_index_unless_it_needs_credentials(tmp_path: Path):
    s = spec("six")
    plain = make_plan(s, None, BuildOptions(), pip=PipSettings(index_url="https://mirror.example/simple"))
    assert not plain.offline and ("UV_INDEX_URL", "https://mirror.example/simple") in plain.index_env
    secret = make_plan(s, None, BuildOptions(), pip=PipSettings(index_url="https://u:p@private.example/simple"))
    assert secret.offline and secret.index_env == () and secret.install.mode == "offline"
    assert make_plan(s, None, BuildOptions(), pip=None).index_env == ()


def test_make_plan_gathers_what_render_needs():
    s = spec("six")
    base = BaseLayer(requirements=b"six\n", command="true")
    plan = make_plan(s, None, BuildOptions(uid=4242, base_image="ubuntu:24.04"), notebook="~/n.ipynb",
                     base_layer=base, extra_labels={"team": "ds"})
    assert plan.uid == 4242 and plan.base_image == "ubuntu:24.04" and plan.layer_dir == "delta"
    assert plan.labels == tuple(sorted(plan.labels)) and ("team", "ds") in plan.labels
    assert make_plan(s, None, BuildOptions()).layer_dir == "layer"
