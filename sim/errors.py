"""parksim's errors, by kind, so that code catching one kind does not swallow another.

- :class:`InputError` (exit code 2): a file, key or argument that cannot be used.
  The message names the file (or command), the key and what is allowed.
  ``ScenarioError`` is the same class under the name the API has always used.
- :class:`StoreError` (exit code 3): a results folder or disk that cannot be
  read or written (a corrupt or locked batch, a full disk), with what to do.
- :class:`ExecutorError` (exit code 4): an executor that cannot run the work
  (an unreachable scheduler, broken workers).

All derive from :class:`ParksimError`; the command line prints the message and
exits with the error's ``exit_code``.
"""

from __future__ import annotations

from pathlib import Path


class ParksimError(Exception):
    """Base of every error parksim raises on purpose."""

    exit_code = 1


class InputError(ParksimError, ValueError):
    """Bad input: names the file (or command), the key and what is allowed."""

    exit_code = 2

    def __init__(self, path: str | Path, key: str | None, message: str):
        self.path, self.key, self.reason = str(path), key, message
        where = f"{path}" + (f": key '{key}'" if key else "")
        super().__init__(f"{where}: {message}")


ScenarioError = InputError


class StoreError(ParksimError):
    """A results folder or disk that cannot be read or written, with the reason and what to do."""

    exit_code = 3

    def __init__(self, path: str | Path, message: str, key: str | None = None):
        self.path, self.key, self.reason = str(path), key, message
        where = f"{path}" + (f": key '{key}'" if key else "")
        super().__init__(f"{where}: {message}")


class ExecutorError(ParksimError):
    """An executor that cannot be used (bad address, unreachable scheduler, broken workers)."""

    exit_code = 4

    def __init__(self, what: str, message: str):
        self.path, self.key, self.reason = what, None, message
        super().__init__(f"{what}: {message}")


class NotABatch(StoreError):
    """A batch id or folder that names no parksim batch: bad input, so exit code 2."""

    exit_code = 2
