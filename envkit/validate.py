"""Grammars for every value envkit reads from a notebook or an image, and the template filters.

A notebook's ``metadata.envkit`` is text anyone can edit; its values end up in a Dockerfile, a
``requirements.txt`` and ``apt-get`` arguments. Each value is checked against its own grammar
before use (PEP 508 requirements, PEP 440 versions, Debian package names, Docker image
references, ``X.Y`` Python versions, ``sha256:`` hashes, URLs), and templates render values only
through the filters at the end of this module, which refuse what would not stay one word, one
comment or one quoted string. Pure: no docker, jinja2 or IPython imports.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PEP508
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .errors import UsageError

MAX_TEXT = 4096  # longer than any real name, version, URL or line of code envkit records


class Invalid(UsageError):
    """A value that does not fit its grammar; ``field`` says where it was read from."""

    def __init__(self, field: str, problem: str, hint: str | None = None) -> None:
        super().__init__(f"{field}: {problem}" if field else problem, hint)
        self.field = field
        self.problem = problem


@contextmanager
def within(prefix: str) -> Iterator[None]:
    """Prefix the field of any ``Invalid`` raised inside with ``prefix`` (``spec.requirements[3]``)."""
    try:
        yield
    except Invalid as exc:
        inner = exc.field
        field = f"{prefix}{inner}" if inner.startswith("[") else f"{prefix}.{inner}" if inner else prefix
        raise Invalid(field, exc.problem, exc.hint) from None


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message may show it: repr, control characters escaped, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- JSON shapes ------------------------------------------------------------------------------

_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "true or false",
               int: "a number", float: "a number", type(None): "null"}


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def obj(value: Any, field: str, *, allowed: Iterable[str] | None = None) -> dict[str, Any]:
    """``value`` as a JSON object; keys outside ``allowed`` are refused (named)."""
    if not isinstance(value, dict):
        raise Invalid(field, f"expected an object, found {_kind(value)}")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in set(allowed))
        if unknown:
            raise Invalid(f"{field}.{unknown[0]}" if field else unknown[0], "unknown field")
    return value


def array(value: Any, field: str, *, limit: int = 100_000) -> list[Any]:
    """``value`` as a JSON list (at most ``limit`` items)."""
    if not isinstance(value, list):
        raise Invalid(field, f"expected a list, found {_kind(value)}")
    if len(value) > limit:
        raise Invalid(field, f"{len(value)} items, more than the {limit} envkit accepts")
    return value


def text(value: Any, field: str, *, limit: int = MAX_TEXT, empty: bool = True) -> str:
    """``value`` as one line of printable text: no control or line-separator characters."""
    if not isinstance(value, str):
        raise Invalid(field, f"expected a string, found {_kind(value)}")
    if len(value) > limit:
        raise Invalid(field, f"{len(value)} characters, more than the {limit} envkit accepts")
    if not empty and not value:
        raise Invalid(field, "is empty")
    if value.isascii() and value.isprintable():  # the common case, without a look-up per character
        return value
    bad = next((c for c in value if c != "\t" and unsafe_char(c)), None)
    if bad is not None:
        raise Invalid(field, f"{shown(value)} contains the control character {bad!r}")
    return value


def integer(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(field, f"expected a whole number, found {_kind(value)}")
    if value < minimum:
        raise Invalid(field, f"{value} is below {minimum}")
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(field, f"expected true or false, found {_kind(value)}")
    return value


def one_of(value: Any, field: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise Invalid(field, f"{shown(value)} is not one of {', '.join(choices)}")
    return str(value)


def unsafe_char(c: str) -> bool:
    """Control, format and line/paragraph separator characters (what can end or hide a line)."""
    return unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


# ---- grammars ---------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")  # PEP 508 names
_WORD_CHARS = re.compile(r"[A-Za-z0-9._!+-]+")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_PYTHON = re.compile(r"[0-9]{1,2}\.[0-9]{1,3}")
_PYTHON_FULL = re.compile(r"[0-9]+(?:\.[0-9]+)*[A-Za-z0-9.+]*")
# Debian policy 5.6.1 (at least two characters there; envkit's capture reads one-letter words
# from apt-get lines too, which cannot inject anything, so one is accepted here).
_DEBIAN = re.compile(r"[a-z0-9][a-z0-9+.-]*")
# distribution/reference's grammar (reference/regexp.go): [domain/]path[:tag][@digest].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?",
    re.ASCII)
URL_SCHEMES = ("https", "http", "file", "git+https", "git+http", "git+ssh", "git+file", "git",
               "hg+https", "hg+http", "hg+ssh", "svn+https", "svn+http", "svn+ssh", "bzr+https",
               "bzr+ssh")


def _whole(grammar: re.Pattern[str], value: Any, field: str, *, limit: int, what: str) -> str:
    """One line of text, not empty, that ``grammar`` matches whole; else ``'value' is not <what>``."""
    word = text(value, field, limit=limit, empty=False)
    if not grammar.fullmatch(word):
        raise Invalid(field, f"{shown(word)} is not {what}")
    return word


def distribution_name(value: Any, field: str) -> str:
    """A PEP 508 distribution name (``scikit-learn``)."""
    return _whole(_NAME, value, field, limit=200, what="a distribution name (PEP 508)")


def version(value: Any, field: str) -> str:
    """A PEP 440 version (``2.1.3``), written without spaces."""
    v = text(value, field, limit=200, empty=False)
    try:
        if not _WORD_CHARS.fullmatch(v):
            raise InvalidVersion(v)
        Version(v)
    except InvalidVersion:
        raise Invalid(field, f"{shown(v)} is not a version (PEP 440)") from None
    return v


def specifier(value: Any, field: str) -> str:
    """A PEP 440 version specifier set (``>=2,<3``), or empty."""
    s = text(value, field, limit=1000)
    try:
        if re.search(r"[^A-Za-z0-9._!+*<>=~,\- ]", s):
            raise InvalidSpecifier(s)
        SpecifierSet(s)
    except InvalidSpecifier:
        raise Invalid(field, f"{shown(s)} is not a version specifier (PEP 440)") from None
    return s


def marker(value: Any, field: str) -> str:
    """A PEP 508 environment marker (``python_version > "3.8"``), or empty."""
    m = text(value, field, limit=1000)
    if m:
        try:
            Marker(m)
        except InvalidMarker:
            raise Invalid(field, f"{shown(m)} is not an environment marker (PEP 508)") from None
        if "#" in m or "$" in m:  # a comment or a variable to requirements.txt readers
            raise Invalid(field, f"{shown(m)}: '#' and '$' are not accepted in markers")
    return m


def url(value: Any, field: str) -> str:
    """A URL of a direct requirement: an allowed scheme, no whitespace, no ``$`` expansion."""
    u = text(value, field, limit=MAX_TEXT)
    if not u:
        return u
    scheme = u.split("://", 1)[0].lower() if "://" in u else ""
    if scheme not in URL_SCHEMES:
        raise Invalid(field, f"{shown(u)}: the URL scheme must be one of {', '.join(URL_SCHEMES)}")
    if re.search(r"[\s\"'`$\\<>]", u):  # pip and uv expand ${VAR} in requirements files
        raise Invalid(field, f"{shown(u)}: whitespace, quotes, '$', '\\', '<' and '>' are not accepted in URLs")
    return u


def requirement(value: Any, field: str) -> str:
    """Exactly one PEP 508 requirement: no options (``--index-url``), no second line."""
    line = text(value, field, limit=MAX_TEXT, empty=False)
    if line.lstrip().startswith("-"):
        raise Invalid(field, f"{shown(line)} is an installer option, not a requirement")
    try:
        req = PEP508(line)
    except InvalidRequirement:
        raise Invalid(field, f"{shown(line)} is not a requirement (PEP 508)") from None
    if req.url:
        url(req.url, field)
    if req.marker is not None:
        marker(str(req.marker), field)
    return line


def python_version(value: Any, field: str) -> str:
    """A Python version as ``X.Y`` (digits only)."""
    return _whole(_PYTHON, value, field, limit=20, what="a Python version X.Y (e.g. 3.11)")


def python_full_version(value: Any, field: str) -> str:
    """A full Python version as ``platform.python_version()`` gives it (``3.11.7``, ``3.13.0+``)."""
    return _whole(_PYTHON_FULL, value, field, limit=40, what="a Python version (e.g. 3.11.7)")


def iso_date(value: Any, field: str) -> str:
    """A calendar date as ``YYYY-MM-DD``."""
    import datetime

    v = text(value, field, limit=10, empty=False)
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
            raise ValueError(v)
        datetime.date.fromisoformat(v)
    except ValueError:
        raise Invalid(field, f"{shown(v)} is not a date YYYY-MM-DD") from None
    return v


def sha256(value: Any, field: str) -> str:
    """``sha256:`` and 64 lower-case hex digits (hashes, digests, image IDs)."""
    return _whole(_SHA256, value, field, limit=100, what="sha256:<64 hex digits>")


image_id = sha256


def debian_package(value: Any, field: str) -> str:
    """A Debian package name (Debian policy: lower case, digits, ``+ . -``)."""
    return _whole(_DEBIAN, value, field, limit=200, what="a Debian package name")


def image_reference(value: Any, field: str) -> str:
    """A Docker image reference (``[registry/]name[:tag][@digest]``) or an image ID."""
    ref = text(value, field, limit=512, empty=False)
    if _SHA256.fullmatch(ref):
        return ref
    m = _REFERENCE.fullmatch(ref)
    if m is None or len(m.group("name")) > 255:
        raise Invalid(field, f"{shown(ref)} is not an image reference ([registry/]name[:tag][@digest])")
    return ref


def platform(value: Any, field: str) -> str:
    """An engine platform (``linux/amd64``), or empty."""
    p = text(value, field, limit=100)
    if p and not re.fullmatch(r"[a-z0-9_.-]+(?:/[a-z0-9_.-]+){0,2}", p):
        raise Invalid(field, f"{shown(p)} is not a platform (os/arch[/variant])")
    return p


# ---- template filters -------------------------------------------------------------------------
# Registered in the jinja2 Environment (envkit.dockerfile). Each refuses, with a UsageError naming
# the variable, any value it cannot make safe, so a spec built in code cannot inject either.

_DOCKERFILE_WORD = re.compile(r"[A-Za-z0-9._/:@+=,%~-]+")


def dockerfile_word(value: Any, field: str = "value") -> str:
    """One word of a Dockerfile instruction or shell command: no whitespace, quotes or ``$;&|``."""
    word = str(value)
    if not _DOCKERFILE_WORD.fullmatch(word):
        raise Invalid(field, f"{shown(word)} cannot be written into a Dockerfile "
                             "(only letters, digits and . _ / : @ + = , % ~ - are)")
    return word


def dockerfile_words(values: Iterable[Any], field: str = "value") -> str:
    """Several ``dockerfile_word``s joined by spaces."""
    return " ".join(dockerfile_word(v, f"{field}[{i}]") for i, v in enumerate(values))


def comment(value: Any) -> str:
    """``value`` made safe inside a ``#`` comment or a terminal line: control, format and
    line-break characters written as escapes (``\\n``), so the value stays on its line."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unsafe_char(c) and c != "\t" else c
                   for c in str(value))


def dockerfile_json(value: Any) -> str:
    """A double-quoted string for LABEL and ENV values: JSON escapes, and ``$`` not expanded."""
    quoted = json.dumps(str(value), ensure_ascii=False)
    # json.dumps leaves U+2028 and friends as they are; escape every unsafe character.
    quoted = "".join(f"\\u{ord(c):04x}" if unsafe_char(c) else c for c in quoted)
    return quoted.replace("$", "\\$")


def run_command(value: Any, field: str = "command") -> str:
    """Text that stays one RUN instruction: every line but the last continues with a backslash."""
    command = str(value)
    lines = command.split("\n")
    if not command.strip() or any(unsafe_char(c) for c in command if c not in "\n\t") \
            or any(not line.endswith("\\") for line in lines[:-1]) or lines[-1].endswith("\\"):
        raise Invalid(field, f"{shown(command)} is not a single RUN command")
    return command


def requirement_word(value: Any, field: str = "requirement") -> str:
    """One requirement for a shell command line, inside double quotes."""
    req = requirement(value, field)
    if re.search(r"[\"`$\\!]", req):
        raise Invalid(field, f"{shown(req)} cannot be quoted for the shell")
    return req


FILTERS = {"dockerfile_word": dockerfile_word, "dockerfile_words": dockerfile_words, "comment": comment,
           "json": dockerfile_json, "run_command": run_command, "requirement": requirement_word}
