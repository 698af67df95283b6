"""Build progress in words: step labels from the plan, and uv's phases inside the install step.

The log replayed here is a real one: a build of ``six``, ``attrs`` and ``tomli-w`` on the test
base image with uv 0.13.9, as the engine streamed it (tests/data/logs).
"""

from __future__ import annotations

import re
from pathlib import Path

from envkit.dockerfile import render_context
from envkit.dockerfile.steps import describe, describe_steps, install_phase, instructions, names, narrate
from envkit.events import Log, Phase, Step
from envkit.plan import BuildOptions
from envkit.settings import PipSettings
from envkit.spec import EnvSpec, Lock, Pin, Requirement

LOG = Path(__file__).parent.parent / "data" / "logs" / "build-resolve-uv-0.13.9.txt"
STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def spec(*reqs: str, **kw) -> EnvSpec:
    return EnvSpec(python="3.11", requirements=tuple(Requirement.parse(r) for r in reqs), **kw)


RECORDED_INSTALL_STEP = 15  # the recorded build's packages step (of 16)


def replay(progress, total: int = 16) -> None:
    """Feed the recorded build to ``progress`` as the engine module does (Step and Log events).

    The recording predates the kernel-side layer, which comes after the packages step: steps up
    to the packages step keep their numbers, later ones are counted from the end of a Dockerfile
    of ``total`` instructions (the same instructions, as the engine would number them now).
    """
    recorded_total = 16
    for line in LOG.read_text().splitlines():
        m = STEP.match(line)
        if m:
            n = int(m.group(1))
            if n > RECORDED_INSTALL_STEP:
                n += total - recorded_total
            progress(Step(n=n, total=total, text=m.group(3)))
        else:
            progress(Log(line=line))


def recorded_context(tmp_path: Path):
    # The same spec and options as the recorded build (a CA bundle forwarded), so the rendered
    # Dockerfile has the recorded build's instructions (and the kernel-side layer after them).
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n")
    return render_context(spec("six", "attrs", "tomli-w"), None,
                          BuildOptions(base_image="envkit-test-base:bookworm", uid=1000), notebook="w3.ipynb",
                          pip=PipSettings(ca_bundle=ca))


def test_uv_summary_lines_become_phases_with_their_counts():
    lines = [line for line in LOG.read_text().splitlines() if install_phase(line)]
    assert lines == ["Resolved 32 packages in 365ms", "Prepared 32 packages in 3.57s",
                     "Installed 32 packages in 1.36s", "Bytecode compiled 1480 files in 8.48s"]
    assert [install_phase(line) for line in lines] == [
        "downloading 32 packages (resolved in 365ms)",
        "installing 32 packages (downloaded in 3.57s)",
        "byte-compiling 32 packages (installed in 1.36s)",
        "recording the lock (byte-compiled 1480 files in 8.48s)",
    ]
    assert install_phase("Audited 1 package in 4ms") == "recording the lock (1 package already installed)"
    assert install_phase(" + six==1.17.0") is None
    assert install_phase("Using Python 3.11.2 environment at: /opt/envkit/venv") is None


def test_every_step_of_a_real_build_gets_words_and_the_install_step_its_phases(tmp_path):
    context = recorded_context(tmp_path)
    total = len(instructions(context.dockerfile))
    events = []
    replay(narrate(events.append, context.dockerfile, context.plan, install_command=context.install_command),
           total=total)
    steps = [e for e in events if isinstance(e, Step)]
    assert len(steps) == 16
    labels = [s.text for s in steps]
    assert labels[0] == "starting from envkit-test-base:bookworm"
    assert "installing uv 0.13.9 and creating the environment" in labels
    assert "creating the user envkit (uid 1000)" in labels
    assert labels[14] == "installing attrs, six, tomli-w and ipykernel"
    assert labels[15] == "labelling the image"
    assert all(len(label) <= 70 and "RUN" not in label and "&&" not in label for label in labels), labels
    # The phases come after the install step's label, in uv's order, before the next step.
    after = events[events.index(steps[14]) + 1:events.index(steps[15])]
    phases = [e.text for e in after if isinstance(e, Phase)]
    assert phases == ["resolving", "downloading 32 packages (resolved in 365ms)",
                      "installing 32 packages (downloaded in 3.57s)",
                      "byte-compiling 32 packages (installed in 1.36s)",
                      "recording the lock (byte-compiled 1480 files in 8.48s)"]
    # The log itself still reaches the listener (the widget's log view, the failure tail).
    assert Log(line=" + tomli-w==1.2.0") in events
    assert not any(isinstance(e, Phase) for e in events[:events.index(steps[14])])


def test_labels_know_system_packages_locks_and_many_packages():
    s = spec("pandas", "numpy", "scipy", "attrs", "six", system_packages=("git", "curl"))
    context = render_context(s, None, BuildOptions(uid=4242))
    labels = [w.label for w in describe_steps(context.dockerfile, context.plan,
                                              install_command=context.install_command)]
    assert "adding system packages: curl and git" in labels
    assert "creating the user envkit (uid 4242)" in labels
    assert "installing 6 packages and their dependencies" in labels
    assert labels[0] == "starting from python:3.11-slim"

    locked = spec("six")
    lock = Lock(spec_digest=locked.digest(), python="3.11.2", source="image", packages=(
        Pin(name="six", version="1.17.0", hashes=("sha256:" + "a" * 64,)),
        Pin(name="ipykernel", version="7.4.0", hashes=("sha256:" + "b" * 64,))))
    context = render_context(locked, lock, BuildOptions())
    words = describe_steps(context.dockerfile, context.plan, install_command=context.install_command)
    assert [w.label for w in words if w.install] == ["installing 2 pinned packages"]


def test_an_unknown_step_is_named_by_its_comment_or_its_kind():
    dockerfile = ("FROM base\n# Fetch the model weights; cached.\nRUN curl -o /w https://x \\\n  && true\n"
                  "RUN make\nRUN uv pip install rich\n")
    assert [t for t, _ in instructions(dockerfile)] == [
        "FROM base", "RUN curl -o /w https://x && true", "RUN make", "RUN uv pip install rich"]
    words = describe_steps(dockerfile)
    assert [w.label for w in words] == ["starting from base", "fetch the model weights", "running a command",
                                        "installing packages"]
    assert [w.install for w in words] == [False, False, False, True]
    # A step the engine numbers differently from the parsed file is still described from its text.
    assert describe("COPY freeze.py /opt/envkit/freeze.py").label == "copying envkit's lock writer"


def test_names_count_beyond_a_few():
    assert names(["six"], "package") == "six"
    assert names(["a", "b"], "package") == "a and b"
    assert names(list("abcdef"), "package") == "6 packages"


def test_host_paths_are_shown_relative_to_the_notebook_or_home():
    from envkit.ui import relative_paths

    cwd, home = Path("/home/ana/projects/study"), Path("/home/ana")
    text = "wrote the lock into /home/ana/projects/study/analysis.ipynb and /home/ana/other/x.ipynb, /srv/y"
    assert relative_paths(text, cwd=cwd, home=home) == \
        "wrote the lock into analysis.ipynb and ~/other/x.ipynb, /srv/y"
    # A kernel started in / shortens nothing by that rule ("/" is not a folder to drop).
    assert relative_paths("/etc/hosts", cwd=Path("/"), home=Path("/root")) == "/etc/hosts"


def test_the_summary_says_done_or_failed_with_the_notes_once_and_never_the_result():
    from envkit.ui import progress_summary

    summary = progress_summary("build a.ipynb", seconds=12.34,
                               notes=["reused 12 cached layer(s)", "reused 12 cached layer(s)", "warning: x"])
    assert summary == "build a.ipynb: done in 12.3s\nreused 12 cached layer(s)\nwarning: x"
    assert progress_summary("build a.ipynb", seconds=3, failed=True) == "build a.ipynb: failed after 3.0s"


def test_plain_progress_prints_steps_phases_and_notes_but_not_the_result(capsys):
    import io

    from envkit.events import Done, Note
    from envkit.ui import UI

    out = io.StringIO()
    with UI(out).progress("build a.ipynb") as sink:
        sink(Step(n=15, total=16, text="installing six and ipykernel"))
        sink(Phase(text="downloading 2 packages (resolved in 10ms)"))
        sink(Log(line=" + six==1.17.0"))
        sink(Note(text="reused 12 cached layer(s)"))
        sink(Done(text="built envkit/a:latest in 3.0s"))
    assert out.getvalue().splitlines() == ["[15/16] installing six and ipykernel",
                                           "    downloading 2 packages (resolved in 10ms)",
                                           "reused 12 cached layer(s)"]
