"""Kernels in containers: the ``jupyter_client`` provisioner, kernelspecs, the argv launcher."""

from .options import KernelOptions

__all__ = ["KernelOptions"]
