"""``pip`` in an envkit image: pip's everyday commands run by uv, into the kernel's own environment.

The image's environment has no pip (uv built it); IPython's ``%pip`` runs ``sys.executable -m
pip`` and ``!pip`` finds ``bin/pip`` (a two-line script calling this module), so both land here
and become ``uv pip <command> --python sys.executable``: fast, and always this environment, never
the base image's system Python (which refuses with PEP 668). The environment's folders are
writable by any uid (see the Dockerfile's kernel block), so this works whoever the kernel runs as.
A real pip installed into the environment comes first on ``sys.path`` and replaces this module.
"""

import os
import shutil
import sys

# pip commands uv's pip interface has under the same name.
FORWARDED = ("install", "uninstall", "freeze", "list", "show", "check")
# pip options uv does not know that change nothing here: dropped (with the value of those in VALUED).
# --user: pip refuses it inside a virtual environment; the environment itself is the user's.
DROPPED = {"--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--user",
           "--no-input", "-y", "--yes", "--no-color", "--root-user-action", "--progress-bar",
           "--no-python-version-warning", "--use-pep517", "--no-build-isolation-check"}
VALUED = {"--root-user-action", "--progress-bar"}


def uv_binary():
    """The uv envkit installed (``<prefix>/installer/bin/uv``), else the first on PATH."""
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    own = os.path.join(prefix, "installer", "bin", "uv")
    return own if os.access(own, os.X_OK) else shutil.which("uv")


def translate(argv, python):
    """``(uv arguments, message)``: the uv command for pip arguments ``argv``, or a one-line refusal."""
    args = list(argv)
    while args and args[0] in ("-q", "--quiet", "-v", "--verbose", "--disable-pip-version-check", "--no-cache-dir"):
        args.pop(0)  # global options before the command
    if not args or args[0] in ("-h", "--help", "help"):
        return None, ("pip here is uv's pip interface (envkit image): "
                      "pip " + " | ".join(FORWARDED) + " ...; see 'uv pip --help'")
    if args[0] in ("-V", "--version"):
        return ["--version"], None
    command, rest = args[0], args[1:]
    if command not in FORWARDED:
        return None, (f"pip {command} is not available in envkit's kernel (pip here is uv's pip interface: "
                      f"{', '.join(FORWARDED)}); use 'uv {command}' or '%pip install pip' for pip itself")
    out = []
    skip = False
    for arg in rest:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in DROPPED:
            skip = name in VALUED and "=" not in arg
            continue
        if arg == "--pre":
            out += ["--prerelease", "allow"]
            continue
        out.append(arg)
    return ["pip", command, "--python", python, *out], None


def main(argv=None, replace=False):
    """Run pip's command through uv; its exit status, or 1 with a message when it cannot.

    ``python -m pip`` replaces its process (``replace``); called in a kernel (``pip.main([...])``,
    as old notebooks do) uv runs as a child, so the kernel lives on.
    """
    uv_args, message = translate(sys.argv[1:] if argv is None else argv, sys.executable)
    if message:
        print(message, file=sys.stderr)
        return 1
    uv = uv_binary()
    if uv is None:
        print("pip: uv is not in this image (envkit installs it in <prefix>/installer)", file=sys.stderr)
        return 1
    # A terminal's progress bars become pages of carriage returns in a notebook's output.
    env = dict(os.environ)
    env.setdefault("UV_NO_PROGRESS", "1")
    if replace:
        os.execve(uv, [uv, *uv_args], env)
    import subprocess

    return subprocess.call([uv, *uv_args], env=env)
