"""PEP 723 inline script metadata in a code cell (juv's convention): an explicit spec.

A cell holding::

    # /// script
    # requires-python = ">=3.11"
    # dependencies = ["pandas>=2", "altair"]
    # ///

declares the notebook's dependencies outright. The block is read with the regular expression
PEP 723 gives and parsed as TOML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

# The reference regular expression from PEP 723.
_BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


@dataclass(frozen=True, kw_only=True)
class ScriptMetadata:
    """``dependencies`` (PEP 508 strings) and ``requires_python`` of a ``# /// script`` block."""

    dependencies: tuple[str, ...] = ()
    requires_python: str = ""


def read_script_block(source: str) -> ScriptMetadata | None:
    """The ``script`` block of ``source``, or None when there is none.

    Raises ``ValueError`` when the block is there but is not valid TOML.
    """
    text = source if source.endswith("\n") else source + "\n"
    for match in _BLOCK.finditer(text):
        if match.group("type") != "script":
            continue
        content = "".join(line[2:] if line.startswith("# ") else line[1:]
                          for line in match.group("content").splitlines(keepends=True))
        data = _loads(content)
        deps = data.get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise ValueError("'dependencies' must be a list of strings")
        return ScriptMetadata(dependencies=tuple(deps), requires_python=str(data.get("requires-python", "")))
    return None


def _loads(content: str) -> dict:  # type: ignore[type-arg]
    if tomllib is not None:
        try:
            return tomllib.loads(content)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(str(exc)) from exc
    # Python 3.10 has no tomllib: read the two keys PEP 723 defines with a small parser.
    import ast

    data: dict = {}  # type: ignore[type-arg]
    for key in ("requires-python", "dependencies"):
        m = re.search(rf"(?ms)^{key}\s*=\s*(\[.*?\]|\".*?\"|'.*?')\s*$", content)
        if m:
            data[key] = ast.literal_eval(m.group(1))
    return data
