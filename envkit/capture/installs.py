"""Install lines in notebooks: ``%pip``, ``!pip``, ``python -m pip``, ``uv pip``, ``%conda``/``%mamba``.

A shell line is split into commands (``&&``, ``;``, ``||``, ``|``), each command tokenised like a
POSIX shell, and the package arguments parsed with ``packaging`` so extras, markers, URLs and
specifiers survive. Options that take a value are skipped with their value; ``-r file``, ``-e``,
local paths and ``--index-url`` become notes, never crashes. Conda specs (``numpy=1.26``,
``conda-forge::xarray``) are translated to PEP 508 and conda's own names (``pytorch``) to the
distribution pip knows.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508
from packaging.utils import canonicalize_name

# pip/uv/conda options that consume the next token (``--opt value``); ``--opt=value`` needs no table.
_VALUE_OPTIONS = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "--trusted-host", "-t", "--target", "--prefix",
    "--root", "--platform", "--python-version", "--implementation", "--abi", "--upgrade-strategy",
    "--progress-bar", "--src", "--global-option", "--install-option", "-C", "--config-settings",
    "--log", "--cache-dir", "--python", "-p", "--channel", "-n", "--name", "--timeout",
    "--retries", "--proxy", "--cert", "--client-cert", "--exists-action", "--only-binary",
    "--no-binary", "--report", "--index-strategy", "--keyring-provider", "--resolution",
    "--prerelease", "--extra", "--group", "-d", "--dest", "--override", "--with", "--file",
}
_SHELL_NOISE = re.compile(r"^(\d?>>?|&>|<|2>&1|>&2|/dev/null|&)$")
_PYTHON = re.compile(r"^(\{[^}]*\}|\$\w+|\$\{\w+\}|(.*/)?python[\d.]*(\.exe)?|(.*/)?py)$")
_CONDA_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?P<op>[=<>!~]+)?(?P<ver>[^=\s]*)?(=(?P<build>\S+))?$")


@dataclass(frozen=True, kw_only=True)
class InstallLine:
    """What one install command asks for: PEP 508 strings, plus notes on what was not a package."""

    tool: str  # "pip" | "uv" | "conda" | "apt" (requirements are then Debian package names)
    requirements: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Acc:
    reqs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _split_commands(line: str) -> list[list[str]]:
    """Tokenise a shell line and split it at ``&&``, ``||``, ``;`` and ``|``."""
    line = re.sub(r"(^|\s)#.*$", "", line)  # a shell comment starts a word; "#egg=" inside a URL does not
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to plain whitespace splitting
        tokens = [t.strip("'\"") for t in line.split()]
    commands: list[list[str]] = [[]]
    for tok in tokens:
        if tok and set(tok) <= set(";&|"):
            commands.append([])
        else:
            commands[-1].append(tok)
    return [c for c in commands if c]


def _strip_prefix(cmd: list[str]) -> list[str]:
    """Drop ``sudo``, ``VAR=value`` assignments, and ``python -m`` in front of the tool."""
    while cmd and (cmd[0] in {"sudo", "env", "time", "!"} or re.match(r"^\w+=", cmd[0])):
        cmd = cmd[1:]
        while cmd and cmd[0].startswith("-"):  # sudo -H, env -i
            cmd = cmd[1:]
    if len(cmd) >= 3 and _PYTHON.match(cmd[0]) and cmd[1] == "-m":
        cmd = cmd[2:]
    elif len(cmd) >= 2 and _PYTHON.match(cmd[0]) and cmd[1].startswith("-m") and len(cmd[1]) > 2:
        cmd = [cmd[1][2:], *cmd[2:]]
    return cmd


def parse_shell_line(line: str) -> list[InstallLine]:
    """Every install command in a shell line (``!pip install x && pip install y``)."""
    found = []
    for cmd in _split_commands(line):
        cmd = _strip_prefix(cmd)
        if not cmd:
            continue
        tool = cmd[0].rsplit("/", 1)[-1]
        if re.fullmatch(r"pip[\d.]*", tool) and len(cmd) > 1 and cmd[1] == "install":
            found.append(_parse_args("pip", cmd[2:]))
        elif tool == "uv" and len(cmd) > 2 and cmd[1] == "pip" and cmd[2] == "install":
            found.append(_parse_args("uv", cmd[3:]))
        elif tool == "uv" and len(cmd) > 1 and cmd[1] == "add":
            found.append(_parse_args("uv", cmd[2:]))
        elif tool in {"conda", "mamba", "micromamba"} and len(cmd) > 1 and cmd[1] == "install":
            found.append(_parse_args("conda", cmd[2:]))
        elif tool in {"apt-get", "apt"} and "install" in cmd[1:]:
            # Debian packages the notebook installs itself: system packages of the image
            args = cmd[cmd.index("install") + 1:]
            names = tuple(a.split("=")[0] for a in args if re.fullmatch(r"[a-z0-9][a-z0-9+.\-]*(=\S+)?", a))
            found.append(InstallLine(tool="apt", requirements=names))
    return found


def parse_magic(magic: str, args: str) -> list[InstallLine]:
    """``%pip install ...`` and friends: the magic's name is the tool."""
    if magic in {"pip", "conda", "mamba", "micromamba"}:
        return parse_shell_line(f"{magic} {args}")
    if magic == "uv":
        return parse_shell_line(f"uv {args}")
    return []


def _parse_args(tool: str, args: list[str]) -> InstallLine:
    acc = _Acc()
    i = 0
    while i < len(args):
        tok = args[i]
        i += 1
        if _SHELL_NOISE.match(tok) or tok.startswith(("2>", ">")):
            if tok in {">", ">>", "<", "2>", "&>"}:
                i += 1  # the redirection's target
            continue
        if tok.startswith("-"):
            opt, _, value = tok.partition("=")
            if opt in _VALUE_OPTIONS and not value and not (opt == "-p" and tool == "pip"):
                value = args[i] if i < len(args) else ""
                i += 1
            if tool != "conda":  # conda's -c is a channel, its -p a prefix: nothing to note
                _option_note(opt, value, acc)
            continue
        if tool == "conda":
            _conda_spec(tok, acc)
        else:
            _pip_spec(tok, acc)
    return InstallLine(tool=tool, requirements=tuple(acc.reqs), notes=tuple(acc.notes))


def _option_note(opt: str, value: str, acc: _Acc) -> None:
    if opt in {"-r", "--requirement"}:
        acc.notes.append(f"installs from a requirements file ({value}): read it and add its entries")
    elif opt in {"-e", "--editable"}:
        egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", value)
        if egg and "://" in value:
            acc.reqs.append(f"{egg.group(1)} @ {value.split('#')[0]}")
        acc.notes.append(f"editable install of {value!r}: it cannot come from an index")
    elif opt in {"-c", "--constraint"}:
        acc.notes.append(f"uses a constraints file ({value})")
    elif opt in {"-i", "--index-url", "--extra-index-url", "-f", "--find-links"}:
        acc.notes.append(f"installs from another package source ({opt} {value})")


def _pip_spec(tok: str, acc: _Acc) -> None:
    if "://" in tok or tok.startswith("git+"):
        egg = re.search(r"#egg=([A-Za-z0-9_.\-]+)", tok)
        name = egg.group(1) if egg else _name_from_url(tok)
        if name:
            acc.reqs.append(f"{name} @ {tok.split('#')[0]}")
        else:
            acc.notes.append(f"installs {tok!r}, whose distribution name cannot be told from the URL")
        return
    if tok in {".", ".."} or tok.startswith(("./", "../", "/", "~")) or tok.endswith((".whl", ".tar.gz", ".zip")):
        acc.notes.append(f"installs a local path ({tok}): not reproducible from an index")
        return
    if tok.startswith(("$", "{")):
        acc.notes.append(f"installs {tok!r}, a variable that cannot be read statically")
        return
    try:
        req = PEP508(tok)
    except InvalidRequirement:
        acc.notes.append(f"skipped {tok!r}: not a valid requirement")
        return
    acc.reqs.append(str(req))


def _name_from_url(url: str) -> str:
    """``.../pkg-1.0-py3-none-any.whl`` or ``.../pkg-1.0.tar.gz`` → ``pkg``; git URLs → repo name."""
    last = url.split("#")[0].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    if last.endswith(".whl"):
        return last.split("-")[0]
    for ext in (".tar.gz", ".zip", ".tar.bz2"):
        if last.endswith(ext):
            return re.split(r"-\d", last[: -len(ext)])[0]
    if url.startswith("git+") or last.endswith(".git"):
        return last.removesuffix(".git").split("@")[0]
    return ""


def _conda_spec(tok: str, acc: _Acc) -> None:
    from .mapping import load_rules

    tok = tok.split("::")[-1]  # conda-forge::xarray
    m = _CONDA_SPEC.match(tok.replace(" ", ""))
    if not m:
        acc.notes.append(f"skipped conda spec {tok!r}")
        return
    name, op, ver = m.group("name"), m.group("op") or "", m.group("ver") or ""
    renamed = load_rules()["conda_names"].get(canonicalize_name(name))
    if renamed == "":
        acc.notes.append(f"conda package {name!r} is not a Python distribution")
        return
    name = renamed or name
    if op == "=":  # conda's "=1.2" means "1.2.*"
        spec = f"=={ver}" if ver.count(".") >= 2 else f"=={ver.rstrip('*').rstrip('.')}.*"
    elif op == "==" or op in {">=", "<=", ">", "<", "!=", "~="}:
        spec = f"{op}{ver}"
    else:
        spec = ""
    try:
        acc.reqs.append(str(PEP508(name + spec)))
    except InvalidRequirement:
        acc.reqs.append(name)
