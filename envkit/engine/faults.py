"""An engine that stops answering in the middle of an operation, told apart from one never reached.

When dockerd dies during a streamed build, docker-py reads the response's raw socket itself, so
the failure arrives as urllib3's ``ProtocolError`` ("Connection broken: IncompleteRead"), not as
a requests error; during a plain call it is requests' ``ConnectionError`` or
``ChunkedEncodingError``. Each becomes one ``EngineGone`` line naming the engine and the step
("the container engine at unix:///… stopped answering during building …"), instead of the
84 lines of chained tracebacks those libraries print.
"""

from __future__ import annotations

import http.client

from ..errors import EngineGone


def _broken_types() -> tuple[type[BaseException], ...]:
    from requests.exceptions import ChunkedEncodingError
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from urllib3.exceptions import ProtocolError

    return (ProtocolError, ChunkedEncodingError, RequestsConnectionError, http.client.IncompleteRead,
            ConnectionResetError, BrokenPipeError)


def broke_off(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is a connection to the engine broken mid-answer."""
    broken = _broken_types()
    seen: set[int] = set()
    stack = [exc]
    while stack:
        err = stack.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, broken):
            return True
        stack += [x for x in (err.__cause__, err.__context__, *err.args) if isinstance(x, BaseException)]
    return False


def gone(url: str, during: str) -> EngineGone:
    """The one line for an engine at ``url`` that stopped answering ``during`` a step."""
    return EngineGone(f"the container engine at {url} stopped answering during {during}")


__all__ = ["broke_off", "gone"]
