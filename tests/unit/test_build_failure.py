"""What a failed build is blamed on, from the installers' own log lines (uv and pip)."""

from __future__ import annotations

import pytest

from envkit.build.failure import explain, failing_index, network_fault, package_at_fault
from envkit.errors import BuildFailed
from envkit.spec import EnvSpec, Requirement

STEP = "Step 9/14 : RUN uv pip compile /opt/envkit/layer/requirements.txt --generate-hashes -o /opt/envkit/hashes.txt"


def spec(*reqs: str) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs))


@pytest.mark.parametrize(("lines", "expected"), [
    (["  cause: Because nosuchpkg-x was not found in the package registry and you require nosuchpkg-x, we can"],
     "nosuchpkg-x"),
    (["Because there is no version of six==99.0 and you require six==99.0, we can conclude ..."], "six"),
    (["ERROR: No matching distribution found for Idna==0.1"], "idna"),
    # uv's plural wording named "there" as the package
    (["  cause: Because there are no versions of exceptiongroup{python_full_version < '3.11'} and ipython"],
     "exceptiongroup"),
    (["  × Failed to build `pyyaml==5.3`", "  ╰─▶ gcc failed"], "pyyaml"),
    (["something unrelated failed"], None),
])
def test_package_at_fault(lines, expected):
    assert package_at_fault(lines, spec("six", "idna", "pyyaml", "nosuchpkg-x")) == expected


def test_package_at_fault_prefers_the_spec_over_dependencies():
    lines = ["Because only urllib3<1 is available and requests==2.0 depends on urllib3>=2, requests==2.0 cannot be used."]
    assert package_at_fault(lines, spec("requests==2.0")) == "requests"


# Real-looking output of uv (reqwest/rustls) and pip (urllib3) when the network fails.
NETWORK_LOGS = {
    "uv timeout": ("timed out", [
        "error: Failed to fetch: `https://mirror.example/simple/typing-extensions/`",
        "  Caused by: Request failed after 3 retries",
        "  Caused by: error sending request for url (https://mirror.example/simple/typing-extensions/)",
        "  Caused by: operation timed out",
    ]),
    "uv reset": ("connection reset", [
        "  × Failed to download `typing-extensions==4.12.2`",
        "  ├─▶ Failed to fetch: `https://files.example/packages/typing_extensions-4.12.2-py3-none-any.whl`",
        "  ├─▶ Request failed after 3 retries",
        "  ╰─▶ error sending request for url (https://files.example/packages/typing_extensions-4.12.2-py3-none-any.whl)",
        "      Connection reset by peer (os error 104)",
    ]),
    "uv dns": ("name resolution failed", [
        "error: Request failed after 3 retries",
        "  Caused by: error sending request for url (https://mirror.example/simple/six/)",
        "  Caused by: client error (Connect)",
        "  Caused by: dns error: failed to lookup address information: Temporary failure in name resolution",
    ]),
    "uv tls": ("TLS certificate not trusted", [
        "error: Failed to fetch: `https://mirror.example/simple/six/`",
        "  Caused by: error sending request for url (https://mirror.example/simple/six/)",
        "  Caused by: client error (Connect)",
        "  Caused by: invalid peer certificate: UnknownIssuer",
    ]),
    "pip dns": ("name resolution failed", [
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection "
        "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to "
        "establish a new connection: [Errno -3] Temporary failure in name resolution')': /simple/six/",
        "ERROR: Could not find a version that satisfies the requirement six (from versions: none)",
        "ERROR: No matching distribution found for six",
    ]),
    "pip read timeout": ("timed out", [
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection "
        "broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='mirror.example', port=443): Read timed out. "
        "(read timeout=15)\")': /simple/typing-extensions/",
        "ERROR: No matching distribution found for typing-extensions",
    ]),
    "pip tls": ("TLS certificate not trusted", [
        "Could not fetch URL https://mirror.example/simple/six/: There was a problem confirming the ssl certificate: "
        "HTTPSConnectionPool(host='mirror.example', port=443): Max retries exceeded with url: /simple/six/ (Caused by "
        "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))",
    ]),
    "pip refused": ("connection refused", [
        "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(': Failed to establish a "
        "new connection: [Errno 111] Connection refused')': /simple/six/",
    ]),
}


@pytest.mark.parametrize("name", sorted(NETWORK_LOGS))
def test_network_errors_are_named_as_such(name):
    reason, lines = NETWORK_LOGS[name]
    assert network_fault(lines) == reason
    error = explain(BuildFailed("building envkit/n:latest failed: The command returned a non-zero code: 1",
                               step=STEP, log_tail=lines),
                    spec("six", "typing-extensions"), base_image="python:3.11-slim",
                    index="https://mirror.example/simple")
    assert error.package is None and "package at fault" not in str(error)
    assert "a network error reaching the package index" in error.message and reason in error.message
    assert ("files.example" if name == "uv reset" else "mirror.example") in error.message
    assert error.step == STEP and error.log_tail == lines


@pytest.mark.parametrize("lines", [
    ["  × No solution found when resolving dependencies:",
     "  ╰─▶ Because there is no version of six==99.0 and you require six==99.0, we can conclude that your "
     "requirements are unsatisfiable."],
    ["  × Failed to build `pyyaml==5.3`", "  ├─▶ The build backend returned an error",
     "  ╰─▶ Call to `setuptools.build_meta.build_wheel` failed (exit status: 1)"],
    ["error: Failed to fetch: `https://mirror.example/simple/nosuchpkg-x/`",
     "  Caused by: HTTP status client error (404 Not Found) for url (https://mirror.example/simple/nosuchpkg-x/)"],
])
def test_package_errors_are_not_network_errors(lines):
    assert network_fault(lines) is None
    error = explain(BuildFailed("failed", step=STEP, log_tail=lines), spec("six", "pyyaml", "nosuchpkg-x"),
                    base_image="python:3.11-slim", index="the default package index")
    assert error.package in ("six", "pyyaml", "nosuchpkg-x") and "network" not in error.message


def test_failing_index_is_the_logged_host_without_credentials():
    assert failing_index(["Caused by: error sending request for url (https://u:secret@mirror.example/simple/six/)"],
                         "x") == "https://***@mirror.example"
    assert failing_index(["operation timed out"], "the default package index") == "the default package index"


def test_a_failed_from_blames_the_base_image():
    error = explain(BuildFailed("failed", step="Step 1/14 : FROM envkit-no-such-base:0", log_tail=[]), spec("six"),
                    base_image="envkit-no-such-base:0", index="the default package index")
    assert "envkit-no-such-base:0" in error.hint and error.package is None
