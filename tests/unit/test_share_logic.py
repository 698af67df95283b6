"""Pure logic of sharing and launching: references, in-band stream errors, token hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envkit.engine.registry import _classify, _messages, registry_of, split_reference
from envkit.errors import RegistryError
from envkit.events import Log, Note, Transfer
from envkit.launch import LabServer, is_loopback, redact, start_lab
from envkit.share import default_tag


def test_references_split_and_name_their_registry() -> None:
    assert split_reference("127.0.0.1:5000/team/a@sha256:" + "0" * 64) == (
        "127.0.0.1:5000/team/a", None, "sha256:" + "0" * 64)
    assert split_reference("127.0.0.1:5000/team/a:v1") == ("127.0.0.1:5000/team/a", "v1", None)
    assert split_reference("team/a") == ("team/a", None, None)
    assert registry_of("registry.example.com/team/a") == "registry.example.com"
    assert registry_of("localhost/a") == "localhost"
    assert registry_of("team/a") == "docker.io"
    assert default_tag("sha256:" + "ab" * 32) == "envkit-" + "ab" * 6


def test_in_band_errors_of_a_successful_stream_are_raised() -> None:
    # docker-py #3161: the engine answers 200 and reports the failure inside the stream.
    chunks = [
        {"status": "Preparing", "id": "abc", "progressDetail": {}},
        {"status": "Pushing", "id": "abc", "progressDetail": {"current": 5, "total": 10}},
        {"errorDetail": {"message": "denied: requested access to the resource is denied"},
         "error": "denied: requested access to the resource is denied"},
    ]
    events: list = []
    with pytest.raises(RegistryError) as caught:
        list(_messages(chunks, "registry.example.com/team/a:v1", "push", events.append))
    assert "refused access" in caught.value.message
    assert "docker login registry.example.com" in caught.value.hint
    assert events[1] == Transfer(id="abc", status="Pushing", current=5, total=10)


@pytest.mark.parametrize(("message", "expected"), [
    ("Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused", "could not be reached"),
    ("manifest unknown: manifest unknown", "does not have it"),
    ("unauthorized: authentication required", "refused access"),
    ("something else entirely", "something else entirely"),
])
def test_registry_messages_are_classified(message: str, expected: str) -> None:
    assert expected in _classify(message, "127.0.0.1:1/a", "pull").message


def test_stream_status_lines_become_logs() -> None:
    events: list = []
    list(_messages([{"status": "latest: digest: sha256:1 size: 2"}], "a", "push", events.append))
    assert events == [Log(line="latest: digest: sha256:1 size: 2")]


def test_token_hygiene() -> None:
    assert redact("http://127.0.0.1:8888/lab?token=s3cret", "s3cret") == "http://127.0.0.1:8888/lab?token=<token>"
    server = LabServer(url="http://x/lab?token=s3cret", base_url="http://x/lab", token="s3cret", port=1,
                       container_id="c" * 64, image_id="i", notebook=Path("n.ipynb"))
    assert "s3cret" not in repr(server)


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


class _Stop(Exception):
    pass


def test_a_non_loopback_ip_is_warned_about_first(tmp_path: Path) -> None:
    nb = tmp_path / "a.ipynb"
    nb.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}))
    seen: list = []

    def progress(event) -> None:  # type: ignore[no-untyped-def]
        seen.append(event)
        raise _Stop  # stop before anything reaches the engine

    with pytest.raises(_Stop):
        start_lab(nb, ip="0.0.0.0", progress=progress)
    assert isinstance(seen[0], Note) and seen[0].level == "warning" and "0.0.0.0" in seen[0].text
    seen.clear()
    with pytest.raises(_Stop):
        start_lab(nb, ip="127.0.0.1", progress=progress)
    assert not isinstance(seen[0], Note)
