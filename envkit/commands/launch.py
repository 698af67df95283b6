"""``envkit launch NB``: JupyterLab in a container of the notebook's image, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal

from ..ui import UI
from . import add_as_of_argument, add_notebook_argument, notebook_path

HELP = "start JupyterLab in a container of the notebook's image and open the notebook (Ctrl-C stops it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_notebook_argument(p)
    p.add_argument("--copy", action="store_true",
                   help="bake the notebook's folder into the image instead of mounting it")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    p.add_argument("--port", type=int, default=None, help="host port (default: a free one)")
    p.add_argument("--base-image", default="",
                   help="base image of the notebook's image, stored in its spec (see 'envkit build')")
    add_as_of_argument(p)
    p.add_argument("--stop", action="store_true",
                   help="stop the JupyterLab servers started for this notebook (e.g. by %%envkit launch)")
    p.add_argument("--user", default="",
                   help="run the server as 'root' or UID[:GID] (default: never root; see docs/kernels.md)")
    p.add_argument("--mem-limit", default=None,
                   help="memory limit, e.g. 8g (default: 3/4 of the engine's memory; 0: none)")
    p.add_argument("--pids-limit", type=int, default=None, help="process limit (default 4096; -1: none)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="host address to listen on (default 127.0.0.1; anything else is reachable from other machines)")


def run(args: argparse.Namespace, ui: UI) -> int:
    from ..build import BuildOptions
    from ..launch import start_lab, stop_labs

    path = notebook_path(args, ui)
    if args.stop:
        report: list[tuple[str, str]] = []
        stopped = stop_labs(path, report)
        ui.message(f"stopped {len(stopped)} JupyterLab server(s) for {path.name}"
                   + (f": {', '.join(stopped)}" if stopped else ""))
        for level, text in report:
            ui.message(text, level=level)
        return 0
    # In a notebook, the kernel's loaded versions pin the spec (what %envkit capture shows).
    options = BuildOptions(base_image=args.base_image, live=ui.interactive_notebook, as_of=args.as_of)
    with ui.progress(f"launch {path.name}") as progress:
        server = start_lab(path, copy=args.copy, port=args.port, ip=args.ip, options=options, user=args.user,
                           mem_limit=args.mem_limit, pids_limit=args.pids_limit, progress=progress)
    if not server.started:
        # Another process runs it (and owns it): show it, leave it running.
        if args.no_browser or not _open_browser(server.url):
            ui.link(f"JupyterLab for {path.name} is already running", server.url, public_url=server.base_url)
        else:
            ui.message(f"JupyterLab for {path.name} is already running; opened {server.base_url} in your browser")
        return 0
    if ui.interactive_notebook:
        # In a notebook the server keeps running. The link carries the token in the page only:
        # outputs are saved with the notebook, the token never goes into one (NotebookUI.link).
        if args.no_browser or not _open_browser(server.url):
            ui.link("JupyterLab", server.url, public_url=server.base_url)
        else:
            ui.message(f"opened {server.base_url} in your browser")
        ui.message("stop it with: %envkit launch --stop")
        return 0
    try:
        if args.no_browser or not _open_browser(server.url):
            ui.link(f"JupyterLab for {path.name}", server.url, public_url=server.base_url)
        else:
            ui.message(f"opened {server.base_url} in your browser")
        ui.message("press Ctrl-C to stop it")
        # SIGTERM and SIGHUP stop it as Ctrl-C does (the dead-man switch covers SIGKILL).
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        server.wait()
        server.stop()
        if server.removed_elsewhere:  # envkit launch --stop in another process (which copied the files back)
            return 0
        ui.message("JupyterLab stopped by itself", level="warning")
        return 1
    except KeyboardInterrupt:
        ui.message("stopping JupyterLab")
        return 0
    finally:
        server.stop()
        for level, text in server.copy_back_report():  # an engine that cannot see this machine's files
            ui.message(text, level=level)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False
