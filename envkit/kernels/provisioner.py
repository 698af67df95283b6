"""``ContainerProvisioner``: a ``jupyter_client`` kernel provisioner that runs ipykernel in a container.

Registered as ``envkit-docker`` under the ``jupyter_client.kernel_provisioners`` entry point. It
extends ``LocalProvisioner`` so the host picks ports and key and the ``KernelManager`` writes the
connection file exactly as for a local kernel (restarts keep both); only the process is a
container. ``poll``/``wait``/``send_signal``/``kill``/``terminate``/``cleanup`` follow the
``subprocess.Popen`` shape of the base class.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import string
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Any as AnyTrait
from traitlets import Dict, Float, List, Unicode

from ..engine import engine_url
from ..engine.faults import broke_off
from ..errors import EngineUnavailable, KernelError
from .container import ContainerKernel, launch
from .options import KernelOptions

# Kernels whose engine stopped answering while this process watched them: kernel id -> the
# engine's URL. nbclient asks ``poll`` every second while a cell runs; an exception there dies
# in its polling task unseen and the run waits for a reply forever (envkit run "hung without
# a word" when the engine died), so ``poll`` reports such a kernel as ended and notes why.
_lost: dict[str, str] = {}
LOST = -2  # poll()'s exit code for a kernel whose engine is gone


def engine_lost(kernel_id: str) -> str | None:
    """The URL of the engine that stopped answering while kernel ``kernel_id`` ran, if it did."""
    return _lost.get(kernel_id)


def _engine_gone(exc: BaseException) -> bool:
    return isinstance(exc, EngineUnavailable) or broke_off(exc)


class ContainerProvisioner(LocalProvisioner):  # type: ignore[misc]
    """Start and manage one ipykernel per container of the kernelspec's ``image``."""

    image = Unicode("", help="Image (tag or id) holding ipykernel in /opt/envkit/venv.").tag(config=True)
    network = Unicode("auto", help="auto | host | bridge (bridge publishes on 127.0.0.1 only).").tag(config=True)
    mem_limit = AnyTrait(None, allow_none=True, help="Memory limit, e.g. '2g'.").tag(config=True)
    cpus = Float(None, allow_none=True, help="CPU limit, e.g. 1.5.").tag(config=True)
    pids_limit = AnyTrait(None, allow_none=True, help="Process limit (default 4096; -1: none).").tag(config=True)
    user = Unicode("", help="'' (never root: see envkit.privileges), 'root' or 'uid:gid'.").tag(config=True)
    gpus = AnyTrait(None, allow_none=True, help="'all', a count, or a list of device ids.").tag(config=True)
    cap_add = List(Unicode(), help="Capabilities to add back after dropping all.").tag(config=True)
    python = Unicode("python", help="The image's Python (its venv is first on PATH).").tag(config=True)
    home = Unicode("/home/envkit", help="HOME inside the container.").tag(config=True)
    env = Dict(help="Extra environment for the kernel (besides the kernelspec's env).").tag(config=True)

    container: ContainerKernel | None = None

    def options(self) -> KernelOptions:
        """This provisioner's configuration as validated ``KernelOptions``."""
        return KernelOptions(
            image=self.image, network=self.network, mem_limit=self.mem_limit, cpus=self.cpus,
            pids_limit=self.pids_limit, gpus=self.gpus, cap_add=tuple(self.cap_add), python=self.python,
            home=self.home, user=self.user, env=dict(self.env),
        )

    @property
    def has_process(self) -> bool:
        return self.container is not None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """Start the container for the connection file ``pre_launch`` wrote (``cmd`` is unused)."""
        km = self.parent
        if km is None or not getattr(km, "connection_file", None):
            raise KernelError("the envkit kernel provisioner needs a KernelManager with a connection file")
        launch_env: dict[str, str] = kwargs.get("env") or {}
        # Only the kernelspec's env (with {placeholders} filled from the launch env), never
        # the server's whole environment.
        spec_env = {k: string.Template(v).safe_substitute(launch_env)
                    for k, v in (self.kernel_spec.env or {}).items()}
        cwd = Path(kwargs.get("cwd") or os.getcwd())
        self.cwd = cwd
        _lost.pop(self.kernel_id or "", None)  # a restart on an engine that is back
        self.container = await asyncio.to_thread(
            launch, self.options(), connection_file=Path(km.connection_file), cwd=cwd,
            kernel_id=self.kernel_id or "", spec_env=spec_env, launch_env=launch_env,
            notebook=launch_env.get("JPY_SESSION_NAME", ""),
        )
        self.pid = None
        self.pgid = None
        return self.connection_info

    async def poll(self) -> int | None:
        if self.container is None:
            return 0
        known = self.container.exit_code
        if self.kernel_id in _lost:
            return LOST
        try:
            code = await asyncio.to_thread(self.container.poll)
        except Exception as exc:
            if not _engine_gone(exc):
                raise
            _lost[self.kernel_id or ""] = engine_url()
            self.log.warning("envkit kernel %s: the container engine at %s stopped answering",
                             self.kernel_id, engine_url())
            return LOST
        if code is not None and known is None and not self.container.killed:
            # What a local kernel would have printed on the server's terminal.
            self.log.warning("envkit kernel %s: %s", self.kernel_id, self.container.describe_exit())
        return code

    async def wait(self) -> int | None:
        if self.container is None:
            return 0
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.1)
        return code

    async def send_signal(self, signum: int) -> None:
        if self.container is not None and signum != 0 and self.kernel_id not in _lost:
            try:
                await asyncio.to_thread(self.container.signal, signum)
            except Exception as exc:  # the engine went away: nothing to signal through
                if not _engine_gone(exc):
                    raise
                _lost[self.kernel_id or ""] = engine_url()

    async def kill(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        await self.send_signal(signal.SIGTERM)

    async def cleanup(self, restart: bool = False) -> None:
        """Remove the container (restarts make a new one) and return cached ports when done."""
        if self.container is not None:
            container, self.container = self.container, None
            try:
                await asyncio.to_thread(container.close)
            except Exception as exc:
                if not _engine_gone(exc):
                    raise
                # The engine is gone: the container is its to remove (an auto-remove kernel)
                # once it is back, or the sweep's and 'envkit gc''s (its owner will be gone).
                if container.stdin is not None:
                    try:
                        container.stdin.close()
                    except OSError:
                        pass
                if container.private_dir is not None:
                    shutil.rmtree(container.private_dir, ignore_errors=True)
        await super().cleanup(restart=restart)

    async def get_provisioner_info(self) -> dict[str, Any]:
        info = await super().get_provisioner_info()
        if self.container is not None:
            info["container_id"] = self.container.id
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        cid = provisioner_info.get("container_id")
        if cid:
            self.container = ContainerKernel(id=cid, kernel_id=self.kernel_id or "")
