"""envkit's exception tree: one root, a message a user should read, and what to do next.

The magics and the CLI show ``str(error)`` (message and hint), never a traceback, unless
``ENVKIT_DEBUG=1`` is set.
"""

from __future__ import annotations

from collections.abc import Callable


# Whether a notebook shows an envkit error's traceback. errors.py is the root of envkit's
# imports (every module raises these), so it reads no setting itself: envkit.settings, which
# owns ENVKIT_DEBUG, installs its reader here when it is imported (the CLI and the magics do).
def _never() -> bool:
    return False


_show_traceback: Callable[[], bool] = _never


def use_debug_switch(switch: Callable[[], bool]) -> None:
    """Let ``switch()`` decide whether IPython shows an envkit error's traceback."""
    global _show_traceback
    _show_traceback = switch


class EnvkitError(Exception):
    """Root of every error envkit raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback (a UsageError subclass would
        # still print one); ENVKIT_DEBUG=1 brings the traceback back.
        import traceback

        if _show_traceback():
            return traceback.format_exception(type(self), self, self.__traceback__)
        return [f"envkit: {self}"]


class UsageError(EnvkitError):
    """Bad arguments or options."""

    exit_code = 2


class NotebookError(EnvkitError):
    """A notebook that cannot be found, read, parsed or written."""


class PackageError(EnvkitError):
    """A package that cannot be mapped, resolved or installed."""


class EngineUnavailable(EnvkitError):
    """No container engine answered."""


class EngineGone(EngineUnavailable):
    """The engine answered, then stopped answering in the middle of an operation (it died or restarted)."""


class EngineError(EnvkitError):
    """The engine refused or failed an operation."""


class EngineNotFound(EngineError):
    """The engine has no such object (image, container, file in an image): its HTTP 404."""


class BuildFailed(EnvkitError):
    """An image build failed; carries the failing step and the last lines of its log."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        step: str | None = None,
        package: str | None = None,
        log_tail: list[str] | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.step = step
        self.package = package
        self.log_tail = log_tail or []

    def __str__(self) -> str:
        parts = [self.message]
        if self.step:
            parts.append(f"  step: {self.step}")
        if self.package:
            parts.append(f"  package at fault: {self.package}")
        if self.log_tail:
            parts.append("  last lines of the log:")
            parts.extend(f"    {line}" for line in self.log_tail)
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class KernelError(EnvkitError):
    """A container kernel that could not start or died."""


class RegistryError(EnvkitError):
    """A registry that refused, could not be reached, or lost an image."""


class Interrupted(EnvkitError):
    """The user interrupted a long operation; everything it made was cleaned up."""

    exit_code = 130


class ArchiveError(EnvkitError):
    """A file that is not an envkit archive, or a damaged one."""


class InternalError(EnvkitError):
    """An exception envkit did not expect: a bug. Shown as one line; ``ENVKIT_DEBUG=1`` shows the traceback."""

    @classmethod
    def wrap(cls, exc: BaseException) -> InternalError:
        text = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        return cls(f"internal error: {detail} — rerun with ENVKIT_DEBUG=1 for the traceback")
