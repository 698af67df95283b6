"""Reading the host's pip settings for forwarding into builds."""

from __future__ import annotations

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
