"""The one place envkit reads its own environment variables and the host's pip settings.

Core functions take plain arguments; front ends call these functions to fill defaults.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

CA_BUNDLE_VARIABLES = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


_OFF = ("0", "false", "no", "off")


def _flag(name: str, default: bool = False) -> bool:
    """A yes/no variable: unset or empty means ``default``; ``0``, ``false``, ``no``, ``off`` mean no."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return value.lower() not in _OFF


def debug() -> bool:
    """True when ``ENVKIT_DEBUG`` asks for tracebacks and debug logs (the CLI and the magics alike)."""
    return _flag("ENVKIT_DEBUG")


def verbose() -> bool:
    """True when ``ENVKIT_VERBOSE`` asks for the full log of long operations from the start."""
    return _flag("ENVKIT_VERBOSE")


def widgets() -> bool:
    """False when ``ENVKIT_WIDGETS`` turns ipywidgets progress off (the magics' default; on when unset)."""
    return _flag("ENVKIT_WIDGETS", default=True)


def default_uid() -> int:
    """The uid the image's user and container kernels run as (``ENVKIT_UID`` or the caller's)."""
    value = os.environ.get("ENVKIT_UID")
    if value:
        return int(value)
    return os.getuid() if hasattr(os, "getuid") else 1000


@dataclass(frozen=True, kw_only=True)
class PipSettings:
    """The host's pip index settings, as ``pip install`` would use them."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    ca_bundle: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)


def _pip_config() -> dict[str, str]:
    """``pip config list`` as a dict (pip knows its own file order and precedence)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True, text=True, timeout=20, check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values: dict[str, str] = {}
    for line in out.splitlines():
        key, sep, raw = line.partition("=")
        if not sep:
            continue
        section, _, name = key.partition(".")
        name = name.replace("_", "-")
        # Environment entries (":env:") are re-read from os.environ below, where they win.
        if section in ("global", "install", "download"):
            values.setdefault(name, raw.strip().strip("'\""))
    return values


def _parse_ini_value(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split() if v)


def pip_settings(environ: dict[str, str] | None = None) -> PipSettings:
    """Read the host's index URLs, trusted hosts and CA bundle (environment beats config files).

    ``file://`` extra index URLs are dropped: they name folders on the host that a build
    cannot see.
    """
    env = os.environ if environ is None else environ
    config = _pip_config() if environ is None else {}
    sources: dict[str, str] = {}

    def pick(var: str, key: str) -> str | None:
        if env.get(var):
            sources[key] = var
            return env[var]
        if config.get(key):
            sources[key] = "pip config"
            return config[key]
        return None

    index_url = pick("PIP_INDEX_URL", "index-url")
    extras = _parse_ini_value(pick("PIP_EXTRA_INDEX_URL", "extra-index-url") or "")
    trusted = _parse_ini_value(pick("PIP_TRUSTED_HOST", "trusted-host") or "")
    ca: Path | None = None
    for var in CA_BUNDLE_VARIABLES:
        if env.get(var) and Path(env[var]).is_file():
            ca, sources["cert"] = Path(env[var]), var
            break
    if ca is None and config.get("cert") and Path(config["cert"]).is_file():
        ca, sources["cert"] = Path(config["cert"]), "pip config"
    return PipSettings(
        index_url=index_url if index_url and not index_url.startswith("file:") else None,
        extra_index_urls=tuple(u for u in extras if not u.startswith("file:")),
        trusted_hosts=trusted,
        ca_bundle=ca,
        sources=sources,
    )


__all__ = ["PipSettings", "pip_settings", "debug", "default_uid", "verbose", "widgets"]
