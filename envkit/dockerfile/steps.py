"""What each step of a build does, in words, and the installer's progress inside the packages step.

The engine reports a step as its instruction ("Step 15/16 : RUN uv pip compile …", several
hundred characters with the continuation lines joined). A person wants "installing six, attrs
and ipykernel". ``describe_steps`` reads the rendered Dockerfile with the plan that made it and
gives one label per instruction, from envkit's own knowledge of its templates (the install
command the renderer put in, the system packages, the uid); an instruction it does not know
(an override template's) is named by the comment above it, else by its kind. ``narrate`` wraps
a progress callback: ``Step`` events get their label, and inside an install step uv's summary
lines become ``Phase`` events with uv's own counts and times. uv 0.13 prints, without a
terminal, only these (``--quiet`` silences ``uv pip compile``, so resolving shows no line)::

    Resolved 32 packages in 365ms
    Prepared 32 packages in 3.57s
    Installed 32 packages in 1.36s
    Bytecode compiled 1480 files in 8.48s
    Audited 32 packages in 4ms            (nothing to install)

Pure: nothing here talks to the engine; the log lines come in through the events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..events import Event, Log, Phase, Progress, Step
from ..plan import UV_VERSION, BuildPlan

# The step label names at most this many packages; more are counted.
NAMED = 4
_SETUP = ("ENV", "USER", "WORKDIR", "ARG", "SHELL", "EXPOSE", "CMD", "ENTRYPOINT", "STOPSIGNAL", "VOLUME",
          "HEALTHCHECK", "ONBUILD")


@dataclass(frozen=True)
class StepWords:
    """One instruction in words; ``install`` marks a step whose output is the installer's."""

    label: str
    install: bool = False


def _normal(text: str) -> str:
    """An instruction's text as the engine shows it: continuations joined, spaces collapsed."""
    return " ".join(text.replace("\\\n", " ").split())


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """``(instruction, comment above it)`` for each instruction, in the order the engine numbers them.

    Comment lines inside a continued instruction are dropped, as the engine drops them.
    """
    found: list[tuple[str, str]] = []
    comment: list[str] = []
    current: list[str] = []
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            if not current:
                comment.append(line.lstrip("#").strip())
            continue
        if not line and not current:
            comment = []
            continue
        current.append(line.removesuffix("\\"))
        if not line.endswith("\\"):
            found.append((_normal(" ".join(current)), " ".join(comment)))
            current, comment = [], []
    if current:
        found.append((_normal(" ".join(current)), " ".join(comment)))
    return found


def names(items: Sequence[str], noun: str) -> str:
    """``"six, attrs and ipykernel"``, or ``"36 packages"`` when there are more than ``NAMED``."""
    if not items:
        return f"no {noun}s"
    if len(items) > NAMED:
        return f"{len(items)} {noun}s"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _requirement_names(text: str) -> list[str]:
    """Project names of a requirements file (hash and option lines skipped)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-", "--")):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match:
            out.append(match.group(0))
    return out


def _install_label(plan: BuildPlan) -> str:
    install = plan.install
    packages = _requirement_names(install.requirements)
    if plan.base_layer is not None:
        return f"adding what changed: {names(packages, 'package')}"
    if install.mode == "sync":
        return f"installing {len(packages)} pinned packages"
    if install.mode == "offline":
        return f"installing {names(packages, 'package')} from wheels downloaded on the host"
    if len(packages) > NAMED:
        return f"installing {len(packages)} packages and their dependencies"
    return f"installing {names(packages, 'package')}"


def _from_comment(comment: str) -> str:
    """The first clause of a template's comment, as a label (``The installer (uv, …)`` → ``the installer``)."""
    clause = re.split(r"[.;:(,]", comment, maxsplit=1)[0].strip()
    return clause[:1].lower() + clause[1:60] if clause else ""


def describe(instruction: str, plan: BuildPlan | None = None, comment: str = "", *,
             install_command: str = "") -> StepWords:
    """One instruction (as the engine shows it) in words.

    ``plan`` is the plan that rendered it and ``install_command`` the packages step's command
    the renderer put in (``BuildContext.install_command``).
    """
    keyword, _, args = _normal(instruction).partition(" ")
    keyword = keyword.upper()
    if keyword == "FROM":
        return StepWords(f"starting from {args.split(' ')[0]}")
    if keyword == "LABEL":
        return StepWords("labelling the image")
    if keyword in _SETUP:
        return StepWords("setting up the image")
    if keyword in ("COPY", "ADD"):
        if re.search(r"(^|\s)(layer|delta)/", args):
            return StepWords("copying the package list")
        if "freeze.py" in args:
            return StepWords("copying envkit's lock writer")
        if "ca-certificates.crt" in args:
            return StepWords("copying the host's certificate bundle")
        if "wheels" in args:
            return StepWords("copying the wheels downloaded on the host")
        return StepWords("copying files")
    if keyword != "RUN":
        return StepWords(_from_comment(comment) or keyword.lower())
    if plan is not None:
        if plan.base_layer is not None and args == _normal(plan.base_layer.command):
            return StepWords("repeating the previous image's packages layer (from the cache)", install=True)
        if install_command and args == _normal(install_command):
            return StepWords(_install_label(plan), install=True)
        if plan.spec.system_packages and "apt-get install" in args:
            return StepWords(f"adding system packages: {names(list(plan.spec.system_packages), 'package')}")
        if "useradd" in args:
            return StepWords(f"creating the user envkit (uid {plan.uid})")
    if "envkit-bootstrap" in args:
        return StepWords(f"installing uv {UV_VERSION} and creating the environment")
    if "jupyter lab" in args or "jupyterlab" in args:
        return StepWords("installing JupyterLab", install=True)
    if re.search(r"\b(uv pip|pip) (install|sync)\b", args):
        return StepWords(_from_comment(comment) or "installing packages", install=True)
    return StepWords(_from_comment(comment) or "running a command")


def describe_steps(dockerfile: str, plan: BuildPlan | None = None, *, install_command: str = "") -> tuple[StepWords, ...]:
    """One ``StepWords`` per instruction of ``dockerfile``: the engine's step n is entry n-1."""
    return tuple(describe(text, plan, comment, install_command=install_command)
                 for text, comment in instructions(dockerfile))


# ---- inside an install step: uv's summary lines ---------------------------------------------------

_UV = re.compile(r"^(Resolved|Prepared|Installed|Uninstalled|Audited) (\d+) packages? in (\S+)$"
                 r"|^Bytecode compiled (\d+) files? in (\S+)$")


def install_phase(line: str) -> str | None:
    """What the installer does next, in words with uv's counts, after its summary ``line``; else None."""
    match = _UV.match(line.strip())
    if match is None:
        return None
    verb, count, took, files, compiled_in = match.groups()
    if files is not None:
        return f"recording the lock (byte-compiled {files} files in {compiled_in})"
    n = int(count)
    plural = "package" if n == 1 else "packages"
    return {
        "Resolved": f"downloading {n} {plural} (resolved in {took})",
        "Prepared": f"installing {n} {plural} (downloaded in {took})",
        "Installed": f"byte-compiling {n} {plural} (installed in {took})",
        "Uninstalled": f"removed {n} {plural} no longer wanted",
        "Audited": f"recording the lock ({n} {plural} already installed)",
    }[verb]


class Narrator:
    """A progress callback that puts steps into words and reports the phases of an install step."""

    def __init__(self, progress: Progress, steps: Sequence[StepWords], plan: BuildPlan | None = None,
                 install_command: str = "") -> None:
        self.progress, self.steps, self.plan = progress, tuple(steps), plan
        self.install_command = install_command
        self.installing = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Step):
            words = (self.steps[event.n - 1] if event.total == len(self.steps) and 0 < event.n <= len(self.steps)
                     else describe(event.text, self.plan, install_command=self.install_command))
            self.installing = words.install
            self.progress(Step(n=event.n, total=event.total, text=words.label))
            if words.install:
                first = "reading the lock" if self.plan and self.plan.install.mode == "sync" else "resolving"
                self.progress(Phase(text=first))
            return
        self.progress(event)
        if self.installing and isinstance(event, Log):
            phase = install_phase(event.line)
            if phase is not None:
                self.progress(Phase(text=phase))


def narrate(progress: Progress | None, dockerfile: str, plan: BuildPlan | None = None, *,
            install_command: str = "") -> Progress | None:
    """``progress`` with the build of ``dockerfile`` (rendered from ``plan``) told in words."""
    if progress is None:
        return None
    steps = describe_steps(dockerfile, plan, install_command=install_command)
    return Narrator(progress, steps, plan, install_command)


__all__ = ["Narrator", "StepWords", "describe", "describe_steps", "install_phase", "instructions", "names",
           "narrate"]
