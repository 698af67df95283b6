"""The one place envkit reads its own environment variables and the host's pip settings.

Core functions take plain arguments; front ends call these functions to fill defaults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError, use_debug_switch

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli, tomllib's origin
    import tomli as tomllib

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


def default_uid(environ: Mapping[str, str] | None = None) -> int:
    """The uid of the image's user, the same for every front end (build, launch, run, kernels).

    ``ENVKIT_UID`` when set; else the caller's uid, so a kernel running as the caller owns the
    image's home folder; else (a root caller, or no uids on this system) 1000: the image's
    user is never root. The uid is part of the build key, so one rule gives one image per spec.
    """
    env = os.environ if environ is None else environ
    value = env.get("ENVKIT_UID", "").strip()
    if value:
        if not value.isdigit() or int(value) == 0:
            raise UsageError(f"ENVKIT_UID={value!r}: not a uid above 0",
                             "set it to the uid the image's user should have (e.g. 1000), or unset it")
        return int(value)
    caller = os.getuid() if hasattr(os, "getuid") else 0
    return caller if caller > 0 else 1000


def run_uid(environ: Mapping[str, str] | None = None) -> int:
    """The uid envkit's containers run as before the least-privilege rule: ``ENVKIT_UID``, else the
    caller's (0 for root, which ``envkit.privileges.run_as`` then replaces by an unprivileged user)."""
    env = os.environ if environ is None else environ
    if env.get("ENVKIT_UID", "").strip():
        return default_uid(env)
    return os.getuid() if hasattr(os, "getuid") else default_uid(env)


# A label key as Docker and the OCI conventions write them (reverse-DNS, dots, dashes, slashes).
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def extra_labels(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels ``ENVKIT_LABELS`` adds to everything envkit creates (``k=v,k2=v2``).

    Teams mark what envkit makes (``team=ds``); a test run marks its own objects, and the build
    reuses only images that carry these labels too. Keys are label keys; values hold no comma,
    newline or control character.
    """
    env = os.environ if environ is None else environ
    labels: dict[str, str] = {}
    for item in env.get("ENVKIT_LABELS", "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.strip().partition("=")
        if not sep or not _LABEL_KEY.fullmatch(key) or any(ord(c) < 32 or c == "\x7f" for c in value):
            raise UsageError(f"ENVKIT_LABELS: {item.strip()!r} is not KEY=VALUE",
                             "write labels as key=value pairs separated by commas, "
                             "e.g. ENVKIT_LABELS='team=ds,project=churn'")
        labels[key] = value
    return labels


def template_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """User template folders searched before envkit's own (only those that exist).

    ``ENVKIT_TEMPLATES`` (folders separated by the path separator), else
    ``$XDG_CONFIG_HOME/envkit/templates`` (``~/.config/envkit/templates``).
    """
    env = os.environ if environ is None else environ
    given = env.get("ENVKIT_TEMPLATES")
    if given:
        dirs = [Path(p) for p in given.split(os.pathsep) if p]
    else:
        config = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        dirs = [config / "envkit" / "templates"]
    return [d for d in dirs if d.is_dir()]


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    """envkit's user config file: ``$XDG_CONFIG_HOME/envkit/config.toml`` (``~/.config/envkit/config.toml``)."""
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "envkit" / "config.toml"


def default_base_image(environ: Mapping[str, str] | None = None) -> str:
    """The user's default base image: ``ENVKIT_BASE_IMAGE``, else ``base_image`` in the config file, else ``""``.

    Only a default: an explicit ``--base-image`` and the base stored in a notebook's spec come
    first (``envkit.plan.choose_base_image``). A bad value names where it was read.
    """
    from .validate import Invalid, image_reference

    env = os.environ if environ is None else environ
    value = env.get("ENVKIT_BASE_IMAGE", "").strip()
    if value:
        return image_reference(value, "ENVKIT_BASE_IMAGE")
    path = config_file(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})", "fix or remove the file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})", 'write e.g. base_image = "python:3.11-slim"') from None
    base = data.get("base_image", "")
    if base in ("", None):
        return ""
    if not isinstance(base, str):
        raise UsageError(f"{path}: base_image must be a string", 'write e.g. base_image = "python:3.11-slim"')
    try:
        return image_reference(base.strip(), "base_image")
    except Invalid as exc:
        raise UsageError(f"{path}: {exc.message}", exc.hint) from None


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



use_debug_switch(debug)

__all__ = ["PipSettings", "config_file", "debug", "default_base_image", "default_uid", "extra_labels", "pip_settings", "run_uid", "template_dirs", "verbose",
           "widgets"]
