"""The computing environment of a batch: package versions and the CPU signature of numpy's SIMD dispatch.

Results of one scenario and seed are bit-identical on machines with the same
packages and the same CPU signature. numpy picks SIMD kernels at run time from
the CPU features it finds (its *dispatch*), and kernels for different feature
sets may round differently in the last bits, so a batch whose runs were computed
on machines with different signatures (Dask workers on mixed hardware) may not
reproduce bit for bit on one machine. The manifest records both (see
``docs/results_format.md``).
"""

from __future__ import annotations

import functools
import platform

PACKAGES = ("parksim", "numpy", "pandas", "scipy", "mesa", "pyarrow", "dask", "distributed")


def package_versions() -> dict[str, str | None]:
    """Resolved versions of Python and the main packages (None for a package that is not installed)."""
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@functools.cache
def cpu_signature() -> dict:
    """What decides numpy's SIMD dispatch on this machine.

    Returns:
        ``{"machine": platform.machine(), "numpy_dispatch": [...]}``: the dispatched
        CPU features numpy was built for that this CPU has, sorted (None when numpy
        does not expose them).
    """
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

        dispatch = sorted(f for f in __cpu_dispatch__ if __cpu_features__.get(f))
    except ImportError:
        dispatch = None
    return {"machine": platform.machine(), "numpy_dispatch": dispatch}


def signature_text(signature: dict | None = None) -> str:
    """A CPU signature as one short string, e.g. ``"x86_64 AVX2 AVX512F FMA3"`` (this machine's by default)."""
    signature = cpu_signature() if signature is None else signature
    features = signature.get("numpy_dispatch")
    return " ".join([signature.get("machine") or "?", *(features if features is not None else ["(unknown)"])])


def describe() -> dict:
    """Packages and CPU signature of this process, as the manifest records them."""
    return {"packages": package_versions(), "cpu": cpu_signature(), "cpu_signature": signature_text()}
