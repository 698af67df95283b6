"""The dead-man switch that runs inside a kernel container, between docker-init and ipykernel.

It is passed to ``python -c`` (so the image needs nothing from envkit): it starts the kernel in
its own process group, forwards interrupt/terminate signals to that group (docker-init gives
them to its one child, this watchdog), and reads its stdin, which the host holds open through
an attach socket. When the host process goes away for any reason, even SIGKILL, the engine
closes that stdin (``StdinOnce``); the watchdog then kills the kernel's group and exits, the
container stops, and ``auto_remove`` deletes it.
"""

from __future__ import annotations

SOURCE = """\
import os, signal, subprocess, sys, threading
kernel = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, start_new_session=True)
def forward(signum, frame):
    try:
        os.killpg(kernel.pid, signum)
    except OSError:
        pass
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, forward)
def watch():
    while True:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            break
    forward(signal.SIGKILL, None)
    os._exit(137)
threading.Thread(target=watch, daemon=True).start()
code = kernel.wait()
sys.exit(code if code >= 0 else 128 - code)
"""


def command(python: str, kernel_argv: list[str]) -> list[str]:
    """The container command: the watchdog (isolated, no site-packages) wrapping ``kernel_argv``."""
    return [python, "-I", "-S", "-c", SOURCE, *kernel_argv]
