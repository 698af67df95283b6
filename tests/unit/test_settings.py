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
