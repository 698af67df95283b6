"""``python -m envkit.kernels.launcher --config JSON CONNECTION_FILE``: the plain-argv kernel.

For front ends that ignore kernel provisioners: it starts the same container a
``ContainerProvisioner`` would, stays in the foreground as the "kernel process", forwards
SIGINT/SIGTERM to the container and exits with the kernel's status. If it is killed, even by
SIGKILL, its attach socket closes and the container's watchdog ends the kernel.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

from ..errors import EnvkitError
from .container import ContainerKernel, launch
from .options import KernelOptions


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m envkit.kernels.launcher",
                                description="Run ipykernel in a container for a connection file.")
    p.add_argument("--config", default="{}", help="kernel options as JSON (image, mem_limit, cpus, gpus, ...)")
    p.add_argument("--image", default="", help="the image (overrides the config's)")
    p.add_argument("connection_file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one container kernel until it exits; returns its exit status."""
    args = parse(argv)
    try:
        config = json.loads(args.config)
        if args.image:
            config["image"] = args.image
        options = KernelOptions.from_config(config)
        conn = Path(args.connection_file)
        # jupyter_client names connection files kernel-<id>.json; use the id for the labels.
        kernel_id = conn.stem.removeprefix("kernel-") or uuid.uuid4().hex
        kernel: ContainerKernel = launch(options, connection_file=conn, cwd=Path.cwd(), kernel_id=kernel_id,
                                         launch_env=dict(os.environ))
    except (EnvkitError, ValueError) as exc:
        print(f"envkit kernel: {exc}", file=sys.stderr)
        return 1

    def forward(signum: int, frame: object) -> None:
        try:
            kernel.signal(signum)
        except EnvkitError:
            pass

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(s, forward)
    try:
        while (code := kernel.poll()) is None:
            time.sleep(0.2)
    finally:
        kernel.close()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
