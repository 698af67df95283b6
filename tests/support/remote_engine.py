"""A second dockerd that cannot see this machine's /tmp, on tcp://127.0.0.1 with TLS.

A thin front of ``support.second_engine`` (``own_mounts=True, tls=True``), kept for the code
that starts one by these names (benchmarks/engines.py). Tests use the ``second_engine``
fixture (tests/conftest.py) instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .second_engine import SecondEngine, Unavailable, free_port, free_subnets, ip, make_certificates

_free_port = free_port
_ip = ip


def _free_subnet():
    return free_subnets(1)[0]


@contextmanager
def remote_engine(local, images: tuple[str, ...], *, unix_socket: bool = False,
                  name: str = "remote") -> Iterator[tuple[str, Path | None]]:
    """(DOCKER_HOST, DOCKER_CERT_PATH) of the second engine, with ``images`` copied from ``local``.

    With ``unix_socket`` it listens only on a socket under /var/tmp (no tcp, no TLS, no
    certificates: None). Everything is removed on exit: its containers, the daemon, its bridge
    and its folder.
    """
    engine = SecondEngine(name, own_mounts=True, tls=not unix_socket)
    try:
        engine.start()
        for image in images:
            engine.load(image, local)
        yield engine.url, engine.certs
    finally:
        engine.close()


__all__ = ["SecondEngine", "Unavailable", "make_certificates", "remote_engine"]
