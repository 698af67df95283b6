"""Walking notebooks: cells, followed local modules and ``%run`` scripts, into a list of needs.

A need is one thing the code asks for: an imported module, an install line's requirement, a
``%load_ext`` target, a PEP 723 block. ``build.py`` maps and merges them into an ``EnvSpec``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotebookError
from ..events import Note, Progress, emit
from ..notebook import Notebook, read_notebook
from ..spec import Source
from .local import LocalModules, forget_listings
from .mapping import is_stdlib, load_rules
from .pep723 import read_script_block
from .python2 import Python2Cell, cell_python2, python2_kernel, python2_line
from .runtime import applicable, prefilter, runtime_needs
from .static import Findings, scan_cell

_MAX_PARENTS = 3  # parent folders searched for local modules (notebooks/ beside src/ packages)


@dataclass(frozen=True, kw_only=True)
class Need:
    """One thing the code asks for. ``kind``: import, install, colab-install (a hint), load_ext, pep723,
    magic, runtime(-model)."""

    kind: str
    value: str  # a module name (import/load_ext/magic) or a PEP 508 string (install/pep723)
    source: Source
    optional: bool = False


@dataclass(frozen=True, kw_only=True)
class SkippedCell:
    """A cell (or followed file) that could not be read as Python, and why."""

    notebook: str
    cell: int | None
    reason: str
    file: str = ""

    def describe(self) -> str:
        where = f"{self.notebook} cell {self.cell}" if self.cell is not None else self.notebook
        return f"{where}{' (' + self.file + ')' if self.file else ''}: {self.reason}"


@dataclass
class Scan:
    """Accumulates needs over one or more notebooks."""

    root: Path | None = None
    progress: Progress | None = None
    needs: list[Need] = field(default_factory=list)
    skipped: list[SkippedCell] = field(default_factory=list)
    local: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    pythons: list[str] = field(default_factory=list)
    requires_python: list[str] = field(default_factory=list)
    system_packages: list[str] = field(default_factory=list)  # from apt-get install lines
    followed: set[Path] = field(default_factory=set)
    notebooks: list[Path] = field(default_factory=list)
    many: bool = False  # several notebooks: sources name theirs

    def __post_init__(self) -> None:
        forget_listings()  # folders may have changed since the last capture in this process

    def notebook(self, nb: Notebook) -> None:
        """Scan every code cell of ``nb``, following local modules and ``%run`` targets."""
        path = nb.path.resolve()
        if path in self.followed:
            return
        self.followed.add(path)
        self.notebooks.append(nb.path)
        try:
            language, version, code_cells = nb.kernel_language(), nb.python_version(), nb.code_cells()
        except (AttributeError, TypeError, KeyError) as exc:  # cells or metadata of the wrong shape
            raise NotebookError(f"{nb.path}: the notebook's structure is damaged ({type(exc).__name__}: {exc})",
                                "open and save it in Jupyter, or check it with 'jupyter nbconvert --to notebook'"
                                ) from exc
        if language not in {"python", "python3", "ipython", "python2"}:
            self.notes.append(f"{nb.path}: kernel language is {language!r}, not Python; skipped")
            return
        if version:
            self.pythons.append(version)
        local = LocalModules(direct=[path.parent], parents=_parents(path.parent, self.root))
        cells = [(c, scan_cell(c.source)) for c in code_cells]
        for _, found in cells:  # %%writefile and sys.path first: a later cell may write what an earlier one imports
            for filename, body in found.writes:
                local.write(filename, body)
            for entry in found.sys_paths:
                local.add_path(path.parent, entry)
        label = str(nb.path)
        python2: list[Python2Cell] = []
        for cell, found in cells:
            if found.error:
                old = cell_python2(cell.source)  # Python 2 cells are named together, in one line
                if old is not None:
                    python2.append(Python2Cell(cell=cell.index, cause=old.cause, line=old.line))
                reason = (f"Python 2 ({old.cause})" if old else found.error) + (
                    "; its import lines still count" if found.imports else "")
                self.skipped.append(SkippedCell(notebook=label, cell=cell.index, reason=reason))
                if old is None:
                    emit(self.progress, Note(text=f"{label} cell {cell.index}: skipped, {reason}", level="warning"))
                if not found.imports:
                    continue
            self._pep723(cell.source, cell.index, label)
            self._findings(found, cell=cell.index, base=path.parent, local=local, file=None, label=label)
        if python2:
            line = python2_line(label, tuple(python2), kernel=python2_kernel(nb.metadata))
            self.notes.append(line)
            emit(self.progress, Note(text=line, level="warning"))
        self._runtime(cells, label)

    def _runtime(self, cells: list, label: str) -> None:
        """Calls whose packages no import names (``runtime.py``), once the enabling import is seen."""
        imported = {use.module.split(".")[0] for _, found in cells for use in found.imports
                    if use.module and not use.level}
        rules = applicable(imported)
        if not rules:
            return
        pattern = prefilter(rules)
        for cell, found in cells:
            if found.tree is None:  # not valid Python: nothing to match
                continue
            for need in runtime_needs(found.code, rules, tree=found.tree, pattern=pattern):
                source = Source(kind="runtime", text=need.why, cell=cell.index, file=self._shown(label))
                if need.model:  # the value carries what to do; the source why
                    self.needs.append(Need(kind="runtime-model", value=f"{need.distribution}\t{need.hint}",
                                           source=source))
                else:
                    self.needs.append(Need(kind="runtime", value=need.distribution, source=source, optional=True))

    def _shown(self, label: str) -> str | None:
        """In a scan of several notebooks a cell number needs its notebook's name."""
        if not self.many:
            return None
        return _relative(Path(label), self.root) if self.root else Path(label).name

    def _pep723(self, source: str, cell: int, label: str) -> None:
        if "# /// script" not in source:
            return
        try:
            block = read_script_block(source)
        except ValueError as exc:
            self.notes.append(f"{label} cell {cell}: PEP 723 block is not valid TOML ({exc}); ignored")
            return
        if block is None:
            return
        for dep in block.dependencies:
            self.needs.append(Need(kind="pep723", value=dep,
                                   source=Source(kind="pep723", text=dep, cell=cell, file=self._shown(label))))
        if block.requires_python:
            self.requires_python.append(block.requires_python)

    def _findings(self, found: Findings, *, cell: int, base: Path, local: LocalModules,
                  file: str | None, label: str) -> None:
        def src(kind: str, text: str) -> Source:
            return Source(kind=kind, text=text, cell=cell, file=file or self._shown(label))

        for entry in found.sys_paths:
            local.add_path(base, entry)
        for use in found.imports:
            if not use.module and not use.level:
                continue
            if use.level:  # relative import: the project's own code
                self._follow_relative(use.module, use.level, use.names, base, local, cell, label)
                continue
            top = use.module.split(".")[0]
            if is_stdlib(top):
                continue
            if local.is_local(top):
                self.local.add(top)
                self._follow(local, use.module, use.names, base, cell, label)
                continue
            if top.endswith(("_pb2", "_pb2_grpc")):  # generated by protoc in the notebook's folder
                self.local.add(top)
                continue
            values = [use.module]
            if top in load_rules()["namespace_roots"] and use.names:
                # from google.cloud import storage: the names are the namespace's packages
                values = [f"{use.module}.{name}" for name in use.names]
            for value in values:
                self.needs.append(Need(kind="import", value=value, source=src("import", use.line),
                                       optional=use.optional))
        for parsed, line in found.installs:
            if parsed.tool == "apt":
                self.system_packages.extend(parsed.requirements)
                continue
            for req in parsed.requirements:
                self.needs.append(Need(kind="install", value=req, source=src("install", line)))
            self.notes.extend(f"{_where(label, cell, file)}: {note}" for note in parsed.notes)
        for parsed, line in found.colab_installs:
            # Colab-only installs say what the notebook used, not a version the image must honour.
            for req in parsed.requirements if parsed.tool != "apt" else ():
                self.needs.append(Need(kind="colab-install", value=req, source=src("install", line)))
        for module, line in found.load_ext:
            self._load_ext(module, line, local, base, cell, label, src)
        for module, line in found.run_modules:
            top = module.split(".")[0]
            if local.is_local(top):
                self.local.add(top)
                self._follow(local, module, (), base, cell, label)
            elif not is_stdlib(top):
                self.needs.append(Need(kind="import", value=module, source=src("run", line)))
        for target, line in found.runs:
            self._run(target, line, base, cell, label, file)
        for name, line in found.magics:
            modules = {"matplotlib": ["matplotlib"], "pylab": ["matplotlib", "numpy"]}.get(name, [])
            if name == "matplotlib" and line.split()[1:2] in (["widget"], ["ipympl"]):
                modules = ["matplotlib", "ipympl"]  # the widget backend is the ipympl distribution
            for module in modules:
                self.needs.append(Need(kind="magic", value=module, source=src("magic", line)))

    def _load_ext(self, module: str, line: str, local: LocalModules, base: Path, cell: int, label: str,
                  src: Callable[[str, str], Source]) -> None:
        top = module.split(".")[0]
        if module in load_rules()["builtin_extensions"] or _ipython_extension(module):
            return
        if local.is_local(top):
            self.local.add(top)
            self._follow(local, module, (), base, cell, label)
            return
        self.needs.append(Need(kind="load_ext", value=module, source=src("load_ext", line)))

    def _run(self, target: str, line: str, base: Path, cell: int, label: str, file: str | None) -> None:
        path = (base / target) if not Path(target).is_absolute() else Path(target)
        if not path.exists() and not path.suffix:
            path = path.with_suffix(".py")
        if not path.is_file():
            self.notes.append(f"{_where(label, cell, file)}: {line} runs {target}, which is not there")
            return
        if path.suffix == ".ipynb":
            try:
                self.notebook(read_notebook(path))
            except Exception as exc:  # a damaged %run target is a note, not the end of the scan
                self.notes.append(f"{_where(label, cell, file)}: cannot follow {target} ({exc})")
            return
        local = LocalModules(direct=[path.parent], parents=_parents(path.parent, self.root))
        self._follow_file(path, None, local, cell, label, ipython=path.suffix == ".ipy")

    def _follow(self, local: LocalModules, module: str, names: tuple[str, ...], base: Path,
                cell: int, label: str) -> None:
        for display, path, body in local.files(module, names):
            if body is not None:
                key = Path(f"<written>/{label}/{display}")
                if key in self.followed:
                    continue
                self.followed.add(key)
                found = scan_cell(body, ipython=False)
                if found.error:
                    self.skipped.append(SkippedCell(notebook=label, cell=cell, reason=found.error, file=display))
                self._findings(found, cell=cell, base=base, local=local, file=display, label=label)
            elif path is not None and path.suffix == ".py":
                sub = LocalModules(direct=[path.parent, *local.direct], parents=local.parents,
                                   written=local.written)
                self._follow_file(path, display, sub, cell, label, ipython=False)

    def _follow_relative(self, module: str, level: int, names: tuple[str, ...], base: Path,
                         local: LocalModules, cell: int, label: str) -> None:
        folder = base
        for _ in range(level - 1):
            folder = folder.parent
        sub = LocalModules(direct=[folder], parents=[], written={})
        if module:
            self._follow(sub, module, names, folder, cell, label)
        else:
            for name in names:
                self._follow(sub, name, (), folder, cell, label)

    def _follow_file(self, path: Path, display: str | None, local: LocalModules, cell: int, label: str,
                     *, ipython: bool) -> None:
        resolved = path.resolve()
        if resolved in self.followed:
            return
        self.followed.add(resolved)
        shown = display or _relative(path, self.root)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            self.notes.append(f"{label}: cannot read {shown} ({exc.strerror})")
            return
        found = scan_cell(text, ipython=ipython)
        if found.error:  # a Python 2 script: its import lines were still read
            self.skipped.append(SkippedCell(notebook=label, cell=cell, reason=found.error, file=shown))
        self._findings(found, cell=cell, base=path.parent, local=local, file=shown, label=label)


def _ipython_extension(module: str) -> bool:
    """True for extensions IPython ships itself (``autoreload``, ``storemagic``)."""
    if "." in module or not module.isidentifier():
        return False
    try:  # find IPython without importing it (that alone costs ~0.2 s)
        spec = importlib.util.find_spec("IPython")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.origin:
        return False
    return (Path(spec.origin).parent / "extensions" / f"{module}.py").is_file()


def _parents(folder: Path, root: Path | None) -> list[Path]:
    """Parent folders of ``folder`` up to ``root`` (or the repository root), at most a few."""
    out: list[Path] = []
    stop = root.resolve() if root else None
    here = folder
    for _ in range(_MAX_PARENTS):
        if stop is not None and here == stop:
            break
        if stop is None and (here / ".git").exists():
            break
        if here.parent == here:
            break
        here = here.parent
        out.append(here)
        if stop is None and (here / ".git").exists():
            break
    if stop is None and not any((p / ".git").exists() for p in [folder, *out]):
        out = []  # no project root known: only the notebook's own folder counts
    # A project's own package in a src/ layout (installed with 'pip install -e .') is local too.
    return out + [p / "src" for p in [folder, *out] if (p / "src").is_dir()]


def _relative(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) if root else path.name
    except ValueError:
        return path.name


def _where(label: str, cell: int, file: str | None) -> str:
    return f"{label} cell {cell}" + (f" ({file})" if file else "")
