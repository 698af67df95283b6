"""envkit's version, in a module of its own: labels and headers need it, and importing the
package's ``__init__`` from inside the package would make every such module part of a cycle."""

__version__ = "0.1.0"
