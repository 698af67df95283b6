"""Turning a cell's IPython syntax into Python, as IPython itself does.

IPython's ``TransformerManager`` is the reference, but importing IPython costs more than scanning
a typical notebook. Most cells that need a transform use only the plain forms: a line that starts
with ``%magic`` or ``!command``, or a cell that starts with ``%%magic``. Those are rewritten here
into exactly the calls IPython makes (``get_ipython().run_line_magic(name, args)``,
``.system(cmd)``, ``.run_cell_magic(name, args, body)``). Anything else (prompts, ``?`` help,
``x = !cmd``, continuation lines, leading indentation) goes to IPython. Checked against IPython on
every magic-using cell of the development corpus: the same syntax tree for each.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache

_NAME = re.compile(r"[A-Za-z_]\w*")
_ASSIGN_ESCAPE = re.compile(r"^\s*[\w.,\s\[\]()]+=\s*[!%]")
# What any of IPython's transforms acts on: escapes and prompts at a line's start, `x = !cmd`, help at its
# end, leading indentation. A cell with none of these is what IPython would run unchanged.
_IPYTHON_SYNTAX = re.compile(r"^[ \t]*(?:[%!?/,;]|>>>|\.\.\.|In \[)|=[ \t]*[!%]|\?[ \t]*$|\A[ \t\r\n]", re.M)


@lru_cache(maxsize=1)
def _ipython():  # type: ignore[no-untyped-def]
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def plain_escapes(source: str) -> str | None:
    """IPython's rewrite of a cell that uses only the plain forms; None when unsure.

    The result is returned only when it parses and every rewritten line is a statement of its
    own: a ``%`` line inside a triple-quoted string is text, which only IPython's tokenizer sees.
    """
    rewritten = _rewrite(source)
    if rewritten is None:
        return None
    text, changed = rewritten
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    statements = {node.lineno for node in ast.walk(tree) if isinstance(node, ast.stmt)}
    return text if changed <= statements else None


def _rewrite(source: str) -> tuple[str, set[int]] | None:
    if not source or source[0] in " \t\r\n":
        return None  # IPython drops leading blank lines and indentation first
    if source.startswith("%%"):
        first, _, body = source.partition("\n")
        name, _, args = first[2:].partition(" ")
        if not _NAME.fullmatch(name):
            return None
        lines = ["" if not line.strip() else line for line in body.split("\n")]
        body = "\n".join(lines)
        if body and not body.endswith("\n"):
            body += "\n"
        return f"get_ipython().run_cell_magic({name!r}, {args.strip()!r}, {body!r})\n", {1}
    out: list[str] = []
    changed: set[int] = set()
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.lstrip()
        text = stripped.rstrip()
        if text.startswith(("%", "!")):
            if text.endswith(("\\", "?")) or text.startswith(("%%", "!!")):
                return None
            indent = line[: len(line) - len(stripped)]
            changed.add(number)
            if text.startswith("%"):
                name, _, args = text[1:].partition(" ")
                if not _NAME.fullmatch(name):
                    return None
                out.append(f"{indent}get_ipython().run_line_magic({name!r}, {args.strip()!r})")
            else:
                out.append(f"{indent}get_ipython().system({text[1:].strip()!r})")
        elif _ASSIGN_ESCAPE.match(line) or text.endswith("?") or text.startswith("?"):
            return None
        else:
            out.append(line)
    return "\n".join(out) + "\n", changed


def transform(source: str) -> str:
    """The cell as IPython would run it: magics and ``!`` lines turned into Python calls."""
    if not _IPYTHON_SYNTAX.search(source):
        return source
    quick = plain_escapes(source)
    if quick is not None:
        return quick
    try:
        return _ipython().transform_cell(source)
    except Exception:  # IPython's transforms raise on odd input; parse the raw text then
        return source
