"""The hint for a kernel that never started says what its output says happened."""

from __future__ import annotations

from envkit.run import start_hint


def test_missing_ipykernel_is_named_only_when_it_is_missing():
    assert "no ipykernel" in start_hint("exited with status 1; its last output:\n"
                                        "    /opt/envkit/venv/bin/python: No module named ipykernel_launcher")
    read_only = start_hint("OSError: [Errno 30] Read-only file system: '/run/envkit/kernel.json'")
    assert "ipykernel" not in read_only and "could not write" in read_only
    assert "ipykernel" not in start_hint("Kernel died before replying to kernel_info")
    assert "envkit build" in start_hint("exited with status 127; its last output:\n    exec python failed: "
                                        "No such file or directory")
