"""Guards of the local process pool: workers die with the main process; scripts need a main guard.

* :func:`worker_init` (the pool's initializer) makes a worker exit as soon as the
  batch's main process ends, even by SIGKILL, so no forkserver or worker lives on.
* :func:`main_guard_problem` finds a script that starts a pool outside
  ``if __name__ == "__main__":`` (its workers would run the script again) before
  any process starts.
"""

from __future__ import annotations

import os
import signal
import sys
import time

MAIN_GUARD_HELP = (
    "a script that runs batches with several workers must start them under 'if __name__ == \"__main__\":' "
    "(worker processes import the script; without the guard each of them would start the batch again). "
    "Indent the run_batch call (and what only the main process should do) under that line; see the "
    "README's 'From Python' section"
)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_EVERY_S = 0.5  # how often the fallback watchdog checks that the main process lives


def worker_init(main_pid: int) -> None:
    """Pool initializer: ignore Ctrl-C (the main process stops the pool) and die with the main process.

    A worker must not outlive a main process killed with SIGKILL (nothing else
    would stop it). On Linux the kernel sends SIGKILL when the worker's parent (the
    forkserver) dies; a daemon thread also waits on the main process itself
    (``pidfd_open``, or a poll every ``WATCH_EVERY_S`` elsewhere) and exits the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    import threading

    threading.Thread(target=_watch_main, args=(main_pid,), name="parksim-watchdog", daemon=True).start()


def _watch_main(pid: int) -> None:
    """Exit this worker at once when process ``pid`` (the batch's main process) ends."""
    try:
        import select

        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])  # readable when the process has ended
        os._exit(1)
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        time.sleep(WATCH_EVERY_S)


def main_guard_problem() -> str | None:
    """Where the main script starts a pool outside ``if __name__ == "__main__":``, or None.

    Looks for the main script's top-level frame in the current call stack (there is
    none for notebooks, ``python -c`` or calls made later from functions) and checks
    that the line being run lies inside such an ``if`` block. Mirrors what
    ``multiprocessing`` re-imports in workers: a script or ``python -m module``,
    never a package's ``__main__``.
    """
    import ast

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(getattr(main, "__spec__", None), "name", None)
    if spec is not None and (spec == "__main__" or spec.endswith(".__main__")):
        return None  # 'python -m package': multiprocessing does not import a package's __main__ in workers
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_code.co_name == "<module>" and frame.f_globals is vars(main)):
        frame = frame.f_back
    if frame is None or not path:
        return None
    try:
        tree = ast.parse(open(path, encoding="utf-8").read(), path)  # noqa: SIM115 - read at once
    except (OSError, SyntaxError, ValueError):
        return None
    line = frame.f_lineno
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test):
            if node.body[0].lineno <= line <= (node.body[-1].end_lineno or line):
                return None
    return f"{path}, line {line}"


def _is_main_test(test) -> bool:
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"]
