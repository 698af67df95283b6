"""envkit inside its own image: ``%load_ext envkit`` works in the notebook's container kernel.

envkit itself (docker, jinja2, the builder) lives on the host. A notebook that loads envkit's
magics must still run top to bottom in its own kernel, so the image carries this small
stand-in (standard library and IPython only). ``%envkit capture`` reports the container's
environment (the Python, the distributions loaded in this kernel and everything installed);
``%%envkit run`` runs its cell here, since this kernel already is the notebook's container;
every host action (build, kernel, launch, push...) says in one line that it runs on the host.
A real envkit installed into the environment comes first on ``sys.path`` and replaces this.
"""

import platform
import shlex
import sys
from importlib import metadata

__version__ = "kernel"
IN_CONTAINER = True
# envkit's subcommands that need the host (its engine, its files, its Jupyter): every one but capture.
HOST_ONLY = ("dockerfile", "build", "images", "gc", "kernel", "run", "export", "export-jupyterhub", "import",
             "push", "pull", "launch", "badge")


def _canonical(name):
    return name.lower().replace("_", "-").replace(".", "-")


def loaded_distributions(modules=None):
    """``{distribution: version}`` of the distributions whose modules this kernel has imported."""
    modules = sys.modules if modules is None else modules
    owners = metadata.packages_distributions()
    found = {}
    for name in sorted({m.split(".")[0] for m in list(modules)}):
        for dist in owners.get(name, ()):
            try:
                found[_canonical(dist)] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
    return found


def installed_distributions():
    """``{distribution: version}`` of everything installed in this environment."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and _canonical(name) not in found:
            found[_canonical(name)] = dist.version
    return dict(sorted(found.items()))


def capture_report(modules=None):
    """The text ``%envkit capture`` prints inside the container."""
    loaded = loaded_distributions(modules)
    installed = installed_distributions()
    lines = [f"envkit capture (inside the notebook's container): Python {platform.python_version()} at {sys.prefix}",
             f"loaded in this kernel ({len(loaded)}):"]
    lines += [f"  {name}=={version}" for name, version in loaded.items()] or ["  (none)"]
    lines.append(f"installed in this environment: {len(installed)} distributions"
                 " ('%pip list' shows them); the notebook's spec is written from the host: 'envkit capture --write'")
    return "\n".join(lines)


def host_only(command):
    """The one line a host-only subcommand prints here."""
    return (f"%envkit {command} runs on the host, not inside the notebook's container: run it from a host "
            f"kernel or a terminal ('envkit {command} NOTEBOOK')")


def envkit(line, cell=None):
    """``%envkit <sub>`` inside the container: capture reports, host actions say where they run."""
    try:
        argv = shlex.split(line)
    except ValueError:
        argv = line.split()
    command = argv[0] if argv else "help"
    if cell is not None:
        if command == "run":
            import IPython

            IPython.get_ipython().run_cell(cell)  # this kernel is the notebook's container already
        else:
            print("%%envkit: only 'run' works as a cell magic")
        return
    if command == "capture":
        print(capture_report())
    elif command in ("--version", "version"):
        print(f"envkit {__version__} (the container's stand-in; envkit runs on the host)")
    elif command in HOST_ONLY:
        print(host_only(command))
    elif command in ("help", "-h", "--help"):
        print("inside the notebook's container: %envkit capture (this environment); "
              f"host only: {', '.join(HOST_ONLY)}")
    else:
        print(f"%envkit: unknown subcommand {command!r}; see '%envkit help'")


def load_ipython_extension(ipython):
    """``%load_ext envkit``: register ``%envkit`` / ``%%envkit`` (quietly, like the host's)."""
    ipython.register_magic_function(envkit, magic_kind="line_cell", magic_name="envkit")


def unload_ipython_extension(ipython):
    """``%unload_ext envkit``: nothing to undo beyond IPython's own bookkeeping."""
