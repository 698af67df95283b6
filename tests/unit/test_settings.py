"""Settings: the host's pip settings for builds, and envkit's own variables, read in one place."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from envkit import settings
from envkit.settings import pip_settings


def test_environment_settings_are_read_and_file_urls_dropped(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    s = pip_settings({
        "PIP_INDEX_URL": "https://user:secret@pypi.corp.invalid/simple",
        "PIP_EXTRA_INDEX_URL": "file:///opt/local/simple https://mirror.corp.invalid/simple",
        "PIP_TRUSTED_HOST": "mirror.corp.invalid",
        "REQUESTS_CA_BUNDLE": str(ca),
    })
    assert s.index_url == "https://user:secret@pypi.corp.invalid/simple"
    assert s.extra_index_urls == ("https://mirror.corp.invalid/simple",)
    assert s.trusted_hosts == ("mirror.corp.invalid",)
    assert s.ca_bundle == ca and s.sources["cert"] == "REQUESTS_CA_BUNDLE"


def test_missing_ca_file_is_not_forwarded(tmp_path):
    s = pip_settings({"PIP_CERT": str(tmp_path / "nope.pem")})
    assert s.ca_bundle is None and s.index_url is None


def test_extra_labels_are_parsed_and_checked():
    import pytest

    from envkit.errors import UsageError
    from envkit.settings import extra_labels

    assert extra_labels({}) == {}
    assert extra_labels({"ENVKIT_LABELS": "team=ds, dev.envkit.test-run=abc,,empty="}) == {
        "team": "ds", "dev.envkit.test-run": "abc", "empty": ""}
    for bad in ("team", "=ds", "te am=ds", "team=a\nb", "-x=1"):
        with pytest.raises(UsageError, match="ENVKIT_LABELS"):
            extra_labels({"ENVKIT_LABELS": bad})


def test_base_labels_add_the_configured_labels_without_overriding_envkit(monkeypatch):
    from envkit.labels import LABEL, LABEL_KIND, base_labels

    monkeypatch.setenv("ENVKIT_LABELS", f"team=ds,{LABEL_KIND}=forged")
    labels = base_labels("kernel")
    assert labels["team"] == "ds" and labels[LABEL_KIND] == "kernel" and labels[LABEL] == "1"
    assert base_labels("run", {})["dev.envkit.kind"] == "run" and "team" not in base_labels("run", {})


def test_one_default_uid_rule(monkeypatch):
    import os

    import pytest

    from envkit.errors import UsageError
    from envkit.settings import default_uid

    assert default_uid({"ENVKIT_UID": "4242"}) == 4242
    caller = os.getuid()
    assert default_uid({}) == (caller if caller > 0 else 1000)
    monkeypatch.setattr(os, "getuid", lambda: 0)
    assert default_uid({}) == 1000  # a root caller gets an unprivileged image user
    monkeypatch.setattr(os, "getuid", lambda: 1234)
    assert default_uid({}) == 1234
    for bad in ("0", "abc", "-5"):
        with pytest.raises(UsageError, match="ENVKIT_UID"):
            default_uid({"ENVKIT_UID": bad})


def test_every_front_end_builds_with_the_same_uid(monkeypatch):
    import argparse

    from envkit.build import resolve_options
    from envkit.commands.build import add_build_options, build_options
    from envkit.plan import BuildOptions, build_key
    from envkit.spec import EnvSpec

    monkeypatch.setenv("ENVKIT_UID", "4242")
    p = argparse.ArgumentParser()
    add_build_options(p)
    cli = resolve_options(build_options(p.parse_args([])))
    # launch, %%envkit run, kernel install and run pass BuildOptions(base_image=...) alone.
    others = resolve_options(BuildOptions(base_image=""))
    assert cli.uid == others.uid == 4242
    assert build_key(EnvSpec(python="3.11"), cli) == build_key(EnvSpec(python="3.11"), others)
    assert resolve_options(BuildOptions(uid=1500)).uid == 1500


def test_template_dirs_come_from_the_setting(tmp_path):
    from envkit.settings import template_dirs

    (tmp_path / "a").mkdir()
    assert template_dirs({"ENVKIT_TEMPLATES": f"{tmp_path / 'a'}:{tmp_path / 'missing'}"}) == [tmp_path / "a"]
    (tmp_path / "envkit" / "templates").mkdir(parents=True)
    assert template_dirs({"XDG_CONFIG_HOME": str(tmp_path)}) == [tmp_path / "envkit" / "templates"]
# --- envkit's own variables: read in settings.py alone, one meaning each ------------------------

ENVKIT = Path(__file__).resolve().parents[2] / "envkit"


def _environment_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """``os.environ[...]`` (read or write), ``.get``/``.pop``/``.setdefault`` and ``os.getenv``
    whose key is an ``ENVKIT_*`` string, as (line, variable)."""
    found = []
    for node in ast.walk(tree):
        key: ast.AST | None = None
        if isinstance(node, ast.Subscript):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            key = node.args[0]
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in ("get", "getenv", "pop", "setdefault", "__getitem__"):
                continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("ENVKIT_"):
            found.append((node.lineno, key.value))
    return found


def test_envkit_variables_are_read_only_in_settings():
    offenders = []
    for path in sorted(ENVKIT.rglob("*.py")):
        if path == ENVKIT / "settings.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(ENVKIT.parent)}:{line}: {name}" for line, name in _environment_reads(tree)]
    assert not offenders, "read ENVKIT_* variables through envkit.settings:\n" + "\n".join(offenders)


def test_the_check_finds_a_read():
    tree = ast.parse('import os\nos.environ.get("ENVKIT_X")\nos.getenv("ENVKIT_Y", "")\nos.environ["ENVKIT_Z"]\n'
                     'os.environ["ENVKIT_W"] = "0"\nos.environ.get("HOME")\n')
    assert sorted(name for _, name in _environment_reads(tree)) == ["ENVKIT_W", "ENVKIT_X", "ENVKIT_Y", "ENVKIT_Z"]


@pytest.mark.parametrize(("value", "on"), [
    (None, False), ("", False), ("0", False), ("false", False), ("no", False), ("OFF", False),
    ("1", True), ("yes", True), ("true", True),
])
def test_debug_has_one_meaning(monkeypatch, value, on):
    from envkit.errors import EnvkitError

    if value is None:
        monkeypatch.delenv("ENVKIT_DEBUG", raising=False)
    else:
        monkeypatch.setenv("ENVKIT_DEBUG", value)
    assert settings.debug() is on
    # The notebook's renderer follows the same switch (ENVKIT_DEBUG=0 used to turn it on there).
    try:
        raise EnvkitError("boom")
    except EnvkitError as exc:
        shown = "".join(exc._render_traceback_())
    assert ("Traceback" in shown) is on


def test_widgets_and_verbose(monkeypatch):
    monkeypatch.delenv("ENVKIT_WIDGETS", raising=False)
    monkeypatch.delenv("ENVKIT_VERBOSE", raising=False)
    assert settings.widgets() is True and settings.verbose() is False
    monkeypatch.setenv("ENVKIT_WIDGETS", "0")
    monkeypatch.setenv("ENVKIT_VERBOSE", "1")
    assert settings.widgets() is False and settings.verbose() is True


def test_turning_widgets_off_in_a_magic_leaves_the_process_alone(monkeypatch):
    from IPython.testing.globalipapp import start_ipython

    from envkit.magics import EnvkitMagics
    from envkit.widgets import NotebookUI

    monkeypatch.delenv("ENVKIT_WIDGETS", raising=False)
    shell = start_ipython()
    magics = EnvkitMagics(shell=shell)
    magics.widgets = False
    ui = magics._ui()
    assert ui.widgets is False
    assert "ENVKIT_WIDGETS" not in os.environ
    assert NotebookUI(None).widgets is True  # another UI in the same process keeps the default


# ---- the base image: chosen once ---------------------------------------------------------------


def test_base_image_precedence() -> None:
    from envkit.plan import choose_base_image

    assert choose_base_image(explicit="a:1", stored="b:1", user_default="c:1") == "a:1"
    assert choose_base_image(stored="b:1", user_default="c:1") == "b:1"
    assert choose_base_image(user_default="c:1") == "c:1"
    assert choose_base_image() == ""  # python:X.Y-slim for the spec's Python


def test_explicit_base_image_is_validated() -> None:
    import pytest

    from envkit.plan import choose_base_image
    from envkit.validate import Invalid

    with pytest.raises(Invalid, match="^base_image: "):
        choose_base_image(explicit="bad image\nRUN x")


def test_default_base_image_variable_then_config_file(tmp_path) -> None:
    import pytest

    from envkit.errors import UsageError
    from envkit.settings import default_base_image

    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert default_base_image(env) == ""  # no variable, no file
    config = tmp_path / "envkit" / "config.toml"
    config.parent.mkdir()
    config.write_text('base_image = "registry.example.com/team/py:3.11"\n')
    assert default_base_image(env) == "registry.example.com/team/py:3.11"
    assert default_base_image({**env, "ENVKIT_BASE_IMAGE": "envkit-test-base:bookworm"}) == "envkit-test-base:bookworm"
    with pytest.raises(UsageError, match="ENVKIT_BASE_IMAGE"):
        default_base_image({**env, "ENVKIT_BASE_IMAGE": "no spaces allowed"})
    config.write_text('base_image = "FROM x"\n')
    with pytest.raises(UsageError, match="config.toml"):
        default_base_image(env)
    config.write_text("base_image = [\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        default_base_image(env)


def test_config_file_honours_xdg_config_home(tmp_path) -> None:
    from envkit.settings import config_file

    assert config_file({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "envkit" / "config.toml"
    assert config_file({}).parts[-3:] == (".config", "envkit", "config.toml")
