"""Why a build failed, in the user's words: the base image, the network, or a package.

Pure functions over the failing step and the last lines of its log (uv's and pip's own
messages), so each rule is unit-tested on real-looking lines.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from ..errors import BuildFailed
from ..plan import redact
from ..spec import EnvSpec

_FAULT = [
    re.compile(r"Because (?:there (?:is|are) no versions? of |only [^ ]+ is available and )?([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"Failed to (?:build|download|fetch|prepare distributions?)[:]? `([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry"),
]

# What uv (reqwest/hyper/rustls) and pip (urllib3/requests) print when the network, not a
# package, is at fault; the first group that matches names the reason.
_NETWORK = [
    ("name resolution failed", re.compile(
        r"dns error|failed to lookup address|name resolution|Name or service not known|nodename nor servname"
        r"|getaddrinfo failed|NameResolutionError", re.I)),
    ("TLS certificate not trusted", re.compile(
        r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|invalid peer certificate|UnknownIssuer|SSLError"
        r"|tls handshake|ssl handshake", re.I)),
    ("timed out", re.compile(r"timed out|timeout|deadline has elapsed", re.I)),
    ("connection reset", re.compile(r"connection reset|ConnectionResetError|connection closed before message"
                                    r"|RemoteDisconnected|IncompleteRead|unexpected EOF", re.I)),
    ("connection refused", re.compile(r"connection refused|ConnectionRefusedError", re.I)),
    ("network unreachable", re.compile(r"network is unreachable|no route to host", re.I)),
    ("connection failed", re.compile(r"error sending request for url|tcp connect error|client error \(Connect\)"
                                     r"|Failed to establish a new connection|NewConnectionError"
                                     r"|after connection broken by|Could not fetch URL|ProxyError", re.I)),
]
_URL = re.compile(r"https?://[^\s`'\"()<>]+")


def package_at_fault(lines: list[str], spec: EnvSpec) -> str | None:
    """The distribution an installer's error blames, preferring names the spec requires."""
    names = {r.name for r in spec.requirements}
    blamed = []
    for line in lines:
        for pattern in _FAULT:
            blamed += [canonicalize_name(m.rstrip(".")) for m in pattern.findall(line)]
    for name in blamed:
        if name in names:
            return name
    for line in reversed(lines):
        for name in sorted(names):
            if re.search(rf"(?<![A-Za-z0-9._-]){re.escape(name)}(?![A-Za-z0-9_-])", line, re.I):
                return name
    return blamed[0] if blamed else None


def network_fault(lines: list[str]) -> str | None:
    """The network failure a log reports (``"timed out"``, ``"connection reset"``, ...), or None."""
    for reason, pattern in _NETWORK:
        if any(pattern.search(line) for line in lines):
            return reason
    return None


def failing_index(lines: list[str], configured: str) -> str:
    """The index the failing request went to: the first URL in the log (scheme and host), else ``configured``."""
    for line in lines:
        for url in _URL.findall(line):
            parts = urlsplit(url)
            if parts.hostname:
                return redact(f"{parts.scheme}://{parts.netloc}")
    return configured


def explain(exc: BuildFailed, spec: EnvSpec, *, base_image: str, index: str) -> BuildFailed:
    """``exc`` with what went wrong said plainly: the base image, the network, or the package at fault.

    ``index`` names the configured package index (credentials hidden) for network errors.
    """
    if exc.step and " : FROM " in exc.step:
        return BuildFailed(exc.message, f"the base image {base_image} is neither on this engine nor pullable: "
                           "pull it ('docker pull'), or pass --base-image with a local image",
                           step=exc.step, log_tail=exc.log_tail)
    reason = network_fault(exc.log_tail)
    if reason is not None:
        where = failing_index(exc.log_tail, index)
        if reason == "TLS certificate not trusted":
            hint = ("the build trusts the CA bundle of PIP_CERT, REQUESTS_CA_BUNDLE or SSL_CERT_FILE (or pip's "
                    "'cert' setting): point one of them at the bundle your proxy or index uses")
        else:
            hint = ("check the network, a proxy, and the index the host's pip uses (PIP_INDEX_URL or "
                    "'pip config list'); the build reaches the same index. Then build again")
        return BuildFailed(f"{exc.message}: a network error reaching the package index {where} ({reason})", hint,
                           step=exc.step, log_tail=exc.log_tail)
    package = package_at_fault(exc.log_tail, spec)
    hint = ("check the package's name and version (the spec's requirements are in the notebook's "
            "metadata; 'envkit capture' shows where each came from)") if package else \
        "read the log above; 'envkit dockerfile' prints the Dockerfile that was built"
    return BuildFailed(exc.message, hint, step=exc.step, package=package, log_tail=exc.log_tail)


__all__ = ["explain", "failing_index", "network_fault", "package_at_fault"]
