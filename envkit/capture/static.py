"""Static reading of one cell or script: imports, install lines, ``%load_ext``, ``%run``, writes.

A cell first goes through IPython's own input transforms (see ``transform``: the plain forms
rewritten exactly as IPython would, anything else by ``TransformerManager.transform_cell``),
so line magics become ``get_ipython().run_line_magic(name, args)``, cell magics
``run_cell_magic(name, line, body)`` and ``!cmd`` ``get_ipython().system(cmd)``: plain Python that
``ast`` parses. The walk then reads those calls instead of guessing at magic syntax. Cell magics
whose body is Python (``%%time``, ``%%capture``...) are scanned recursively; ``%%bash`` bodies
are read for install lines; ``%%writefile x.py`` records a module the notebook writes itself.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field

from .installs import InstallLine, parse_magic, parse_shell_line
from .transform import transform

# Cell magics whose body is Python code run in the kernel.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "memit", "mprun", "lprun",
                      "pypy", "python", "python3", "px", "spark", "scalene", "snakeviz", "heat"}
SHELL_CELL_MAGICS = {"bash", "sh", "script", "system", "sx"}
# Line magics whose argument is a Python statement.
PYTHON_LINE_MAGICS = {"time", "timeit", "prun", "memit", "mprun", "lprun", "debug", "px"}
# A cell without any of these can hold no import, magic call or sys.path change.
_INTERESTING = re.compile(r"import|get_ipython|path\s*\.\s*(append|insert)")
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass(frozen=True, kw_only=True)
class ImportUse:
    """``import a.b`` / ``from a import b``: ``module`` is absolute unless ``level`` > 0."""

    module: str
    line: str
    level: int = 0
    optional: bool = False
    names: tuple[str, ...] = ()  # for ``from pkg import a, b``: a and b may be submodules


@dataclass
class Findings:
    """Everything a cell or script says about what it needs."""

    imports: list[ImportUse] = field(default_factory=list)
    installs: list[tuple[InstallLine, str]] = field(default_factory=list)  # (parsed, line)
    # installs only Colab runs (under `if 'google.colab' in sys.modules:` or after `import
    # google.colab` in a try): hints at what the notebook used, not pins the image must honour
    colab_installs: list[tuple[InstallLine, str]] = field(default_factory=list)
    load_ext: list[tuple[str, str]] = field(default_factory=list)  # (module, line)
    runs: list[tuple[str, str]] = field(default_factory=list)  # (target, line)
    run_modules: list[tuple[str, str]] = field(default_factory=list)  # %run -m module
    writes: list[tuple[str, str]] = field(default_factory=list)  # (filename, body)
    sys_paths: list[str] = field(default_factory=list)
    magics: list[tuple[str, str]] = field(default_factory=list)  # other line magics (name, line)
    error: str | None = None
    # the parsed cell, kept for the run-time needs pass (runtime.py) so it is parsed once
    tree: ast.Module | None = field(default=None, repr=False, compare=False)
    code: str = field(default="", repr=False, compare=False)

    def extend(self, other: Findings) -> None:
        for name in ("imports", "installs", "colab_installs", "load_ext", "runs", "run_modules", "writes", "sys_paths", "magics"):
            getattr(self, name).extend(getattr(other, name))


def scan_cell(source: str, *, ipython: bool = True) -> Findings:
    """Read one cell (``ipython=True``) or one ``.py`` script; a syntax error is reported, not raised."""
    code = source
    try:
        # Plain Python parses as it is; only cells with magics, ``!`` or ``?`` need IPython's
        # transforms, which cost ten times the parse.
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            if not ipython:
                raise
            code = transform(source)
            tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        found = Findings()
        lineno = getattr(exc, "lineno", None)
        found.error = f"not valid Python ({getattr(exc, 'msg', str(exc))}" + (f", line {lineno})" if lineno else ")")
        found.imports = _salvage_imports(code)
        return found
    except (RecursionError, MemoryError):
        found = Findings()
        found.error = "too deeply nested to parse"
        found.imports = _salvage_imports(code)
        return found
    if not _INTERESTING.search(code):  # nothing to find: skip the walk, the bulk of the time
        return Findings(tree=tree, code=code)
    walker = _Walker(code)
    try:
        walker.visit(tree)
    except RecursionError:
        walker.found.error = "too deeply nested to read"
    walker.found.tree, walker.found.code = tree, code
    return walker.found


def _salvage_imports(code: str) -> list[ImportUse]:
    """Import statements on their own lines of a cell that does not parse (Python 2 cells)."""
    out: list[ImportUse] = []
    for raw in code.splitlines():
        text = raw.strip()
        if not text.startswith(("import ", "from ")):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        walker = _Walker(text)
        walker.visit(tree)
        out.extend(walker.found.imports)
    return out


def _line(code_lines: list[str], node: ast.AST) -> str:
    lineno = getattr(node, "lineno", 0)
    if 0 < lineno <= len(code_lines):
        return code_lines[lineno - 1].strip()
    return ""


def _const_str(node: ast.AST | None) -> str | None:
    """A string literal; f-strings are rebuilt with ``{expr}`` placeholders (``!{sys.executable}``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            elif isinstance(v, ast.FormattedValue):
                parts.append("{" + ast.unparse(v.value) + "}")
        return "".join(parts)
    return None


def _is_get_ipython_call(node: ast.AST, method: set[str]) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in method
            and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_ipython")


class _Walker(ast.NodeVisitor):
    def __init__(self, code: str) -> None:
        self.lines = code.splitlines()
        self.found = Findings()
        self.optional = 0
        self.colab = 0  # inside a branch only Colab runs

    def visit_Constant(self, node: ast.Constant) -> None:
        # Leaves: skip NodeVisitor's slow compatibility shim for the old Num/Str visitors.
        return

    # --- imports -------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.imports.append(ImportUse(module=alias.name, line=_line(self.lines, node),
                                                optional=self.optional > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.imports.append(ImportUse(
            module=node.module or "", level=node.level or 0, line=_line(self.lines, node),
            optional=self.optional > 0, names=tuple(a.name for a in node.names if a.name != "*")))

    def _install(self, entry: tuple[InstallLine, str]) -> None:
        (self.found.colab_installs if self.colab else self.found.installs).append(entry)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        colab = _mentions_colab(node.test)
        negated = colab and isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)
        for branch, only_colab in ((node.body, colab and not negated), (node.orelse, negated)):
            self.colab += only_colab
            for stmt in branch:
                self.visit(stmt)
            self.colab -= only_colab

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(_catches_import_error(h.type) for h in node.handlers)
        self.optional += guarded
        colab = False
        for stmt in node.body:
            self.colab += colab
            self.visit(stmt)
            self.colab -= colab
            # what follows `import google.colab` in the try runs on Colab only
            colab = colab or any(isinstance(n, (ast.Import, ast.ImportFrom)) and _imports_colab(n)
                                 for n in ast.walk(stmt))
        for handler in node.handlers:  # the fallback import is an alternative too
            self.visit(handler)
        self.optional -= guarded
        for stmt in node.orelse + node.finalbody:
            self.visit(stmt)

    visit_TryStar = visit_Try  # type: ignore[assignment]

    # --- calls: magics, shell lines, dynamic imports ----------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        args = node.args
        if _is_get_ipython_call(node, {"run_line_magic", "magic"}) and args:
            name = _const_str(args[0])
            rest = _const_str(args[1]) if len(args) > 1 else ""
            if name is not None:
                if rest is None:
                    rest = ""
                if " " in name and len(args) == 1:  # old-style .magic("pip install x")
                    name, _, rest = name.partition(" ")
                self._line_magic(name.lstrip("%"), rest, node)
        elif _is_get_ipython_call(node, {"run_cell_magic"}) and len(args) >= 3:
            name, line, body = (_const_str(a) for a in args[:3])
            if name is not None and body is not None:
                self._cell_magic(name, line or "", body)
        elif _is_get_ipython_call(node, {"system", "getoutput"}) and args:
            cmd = _const_str(args[0])
            if cmd is not None:
                for parsed in parse_shell_line(cmd):
                    self._install((parsed, "!" + cmd.strip()))
        else:
            self._dynamic_import(node)

    def _line_magic(self, name: str, rest: str, node: ast.AST) -> None:
        text = f"%{name} {rest}".strip()
        if name in {"pip", "conda", "mamba", "micromamba", "uv"}:
            for parsed in parse_magic(name, rest):
                self._install((parsed, text))
        elif name in {"sx", "system"}:
            for parsed in parse_shell_line(rest):
                self._install((parsed, text))
        elif name in {"load_ext", "reload_ext"}:
            for module in rest.split():
                self.found.load_ext.append((module, text))
        elif name == "run":
            self._run(rest, text)
        elif name in PYTHON_LINE_MAGICS:
            self.found.extend(scan_cell(_strip_options(rest)))
        else:
            self.found.magics.append((name, text))

    def _run(self, rest: str, text: str) -> None:
        try:
            tokens = shlex.split(rest)
        except ValueError:
            tokens = rest.split()
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok == "-m" and i + 1 < len(tokens):
                self.found.run_modules.append((tokens[i + 1], text))
                return
            if tok.startswith("-"):
                i += 1
                continue
            self.found.runs.append((tok, text))
            return

    def _cell_magic(self, name: str, line: str, body: str) -> None:
        if name in PYTHON_CELL_MAGICS:
            inner = scan_cell(body)
            if inner.error is None:
                self.found.extend(inner)
        elif name in SHELL_CELL_MAGICS:
            for raw in body.splitlines():
                for parsed in parse_shell_line(raw):
                    self._install((parsed, raw.strip()))
        elif name in {"writefile", "file"}:
            target = [t for t in line.split() if not t.startswith("-")]
            if target:
                self.found.writes.append((target[0], body))

    def _dynamic_import(self, node: ast.Call) -> None:
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if fname in {"import_module", "__import__"} and node.args:
            name = _const_str(node.args[0])
            if name and "{" not in name:
                level = len(name) - len(name.lstrip("."))
                self.found.imports.append(ImportUse(module=name.lstrip("."), level=level,
                                                    line=_line(self.lines, node), optional=self.optional > 0))
        elif fname in {"append", "insert"} and isinstance(func, ast.Attribute) and node.args:
            # sys.path.append("..") / sys.path.insert(0, "../src"): more places for local modules
            target = func.value
            if isinstance(target, ast.Attribute) and target.attr == "path":
                value = _const_str(node.args[-1])
                if value and "{" not in value:
                    self.found.sys_paths.append(value)


def _mentions_colab(test: ast.expr) -> bool:
    """``'google.colab' in sys.modules``, ``IN_COLAB``, ``not in_colab()``: a test for Colab."""
    for n in ast.walk(test):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "google.colab" in n.value:
            return True
        if isinstance(n, ast.Name) and "colab" in n.id.lower():
            return True
    return False


def _imports_colab(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").startswith("google.colab") or (
            node.module == "google" and any(a.name == "colab" for a in node.names))
    return any(a.name.startswith("google.colab") for a in node.names)


def _catches_import_error(node: ast.expr | None) -> bool:
    if node is None:
        return True  # a bare except catches ImportError too
    if isinstance(node, ast.Tuple):
        return any(_catches_import_error(e) for e in node.elts)
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return name in _IMPORT_ERRORS


def _strip_options(rest: str) -> str:
    """``%timeit -n 10 -r 3 f()`` → ``f()``: drop the magic's own options."""
    tokens = rest.split()
    while tokens and tokens[0].startswith("-"):
        opt = tokens.pop(0)
        if opt in {"-n", "-r", "-T", "-D", "-s", "-f", "-m"} and tokens:
            tokens.pop(0)
    return " ".join(tokens)
