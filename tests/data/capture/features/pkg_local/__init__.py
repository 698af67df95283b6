from .core import thing  # noqa: F401
