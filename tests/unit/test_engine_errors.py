"""Engine failures become envkit errors by their type, not by their wording."""

from __future__ import annotations

import pytest
from requests.exceptions import ConnectionError as RequestsConnectionError
from urllib3.exceptions import ProtocolError

from envkit import engine
from envkit.engine import _os_error, _unavailable, translated
from envkit.errors import EngineError, EngineNotFound, EngineUnavailable


def test_socket_errors_are_found_under_the_wrappers():
    denied = PermissionError(13, "Permission non accordée")  # wording of another language
    wrapped = RequestsConnectionError(ProtocolError("Connection aborted.", denied))
    assert _os_error(wrapped) is denied
    assert "permission denied" in _unavailable("unix:///x.sock", wrapped).message
    assert "nothing is listening" in _unavailable("unix:///x.sock", RequestsConnectionError(
        ProtocolError("Connection aborted.", FileNotFoundError(2, "x")))).message
    other = _unavailable("tcp://h:1", RuntimeError("TLS handshake failed"))
    assert "TLS handshake failed" in other.message and _os_error(RuntimeError("x")) is None


@pytest.mark.parametrize("url", ["unix:///nonexistent/envkit-test.sock", "tcp://127.0.0.1:1"])
def test_no_engine_at_the_address_is_engine_unavailable(url, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", url)
    engine.reset()
    try:
        with pytest.raises(EngineUnavailable, match="nothing is listening there"):
            engine.api()
    finally:
        monkeypatch.undo()
        engine.reset()


def test_a_missing_object_is_engine_not_found_and_still_an_engine_error():
    from docker.errors import APIError, ImageNotFound, NotFound

    for exc in (ImageNotFound("No such image: x"), NotFound("No such container: y")):
        with pytest.raises(EngineNotFound, match="inspecting x: not found"), translated("inspecting x"):
            raise exc
    with pytest.raises(EngineError) as caught, translated("removing x"):
        raise APIError("conflict")
    assert not isinstance(caught.value, EngineNotFound) and issubclass(EngineNotFound, EngineError)
