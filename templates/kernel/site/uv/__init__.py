"""``python -m uv`` in an envkit image (IPython's ``%uv`` runs it): envkit's uv, on this environment.

uv's own package is not in the environment (envkit installs uv beside it), so this module runs
that binary with the kernel's environment as the target of ``uv pip``. A real ``uv`` package
installed into the environment comes first on ``sys.path`` and replaces this module.
"""

import os
import shutil
import sys


def uv_binary():
    """The uv envkit installed (``<prefix>/installer/bin/uv``), else the first on PATH."""
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    own = os.path.join(prefix, "installer", "bin", "uv")
    return own if os.access(own, os.X_OK) else shutil.which("uv")


def main(argv=None, replace=False):
    """Run uv with ``argv``: in place of this process (``python -m uv``) or as a child."""
    uv = uv_binary()
    if uv is None:
        print("uv: not in this image (envkit installs it in <prefix>/installer)", file=sys.stderr)
        return 1
    env = dict(os.environ, UV_PYTHON=sys.executable)
    if sys.prefix != sys.base_prefix:  # this environment, whatever VIRTUAL_ENV the caller had
        env["VIRTUAL_ENV"] = sys.prefix
    env.setdefault("UV_NO_PROGRESS", "1")
    uv_args = sys.argv[1:] if argv is None else argv
    if replace:
        os.execve(uv, [uv, *uv_args], env)
    import subprocess

    return subprocess.call([uv, *uv_args], env=env)
