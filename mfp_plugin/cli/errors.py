"""How ``mfp`` reports a failure: one ``error: ...`` line on stderr and exit status 2 (usage) or 1 (runtime).

Library code raises typed exceptions; :func:`as_command_error` maps the
expected ones (bad input, missing or corrupt files, refused pickles, a full
or read-only disk, checksum mismatches, a diverging loss) to a
:class:`CommandError`. Anything else is a bug and keeps its traceback.

>>> err = as_command_error(FileNotFoundError(2, "No such file or directory", "w.safetensors"))
>>> err.code, str(err)
(1, 'No such file or directory: w.safetensors')
>>> as_command_error(RuntimeError("a bug")) is None
True
"""
from __future__ import annotations

import pickle
from contextlib import contextmanager
from typing import Iterator, Optional

__all__ = ["CommandError", "USAGE", "RUNTIME", "usage_errors", "reading", "as_command_error", "expected_errors",
           "one_line"]

USAGE, RUNTIME = 2, 1
_MAX_CHARS = 800
_PICKLE_ADVICE = "weights_only"  # torch's refusal text advises weights_only=False: never repeat it


class CommandError(SystemExit):
    """A reported failure: ``str()`` is the message, ``code`` the exit status.

    A ``SystemExit``, so raised out of ``main()`` it ends the program with
    that status and no traceback (``main()`` prints the line first).
    """

    def __init__(self, message: str, status: int = RUNTIME):
        super().__init__(status)
        self.message = one_line(message)

    def __str__(self) -> str:
        return self.message


def one_line(text: str) -> str:
    """Collapse whitespace (multi-line library messages) and cap the length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MAX_CHARS else flat[:_MAX_CHARS - 3] + "..."


def expected_errors() -> tuple[type, ...]:
    """The exception types library code raises for bad input or a failed operation (not bugs)."""
    from safetensors import SafetensorError

    import model_zoo

    # the zoo's integrity and download failures are RuntimeErrors (DownloadError is newer than ChecksumError)
    zoo = tuple(getattr(model_zoo, name) for name in ("ChecksumError", "DownloadError") if hasattr(model_zoo, name))
    return (ValueError, TypeError, KeyError, OSError, FloatingPointError, pickle.UnpicklingError,
            SafetensorError) + zoo


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]  # str(KeyError) would quote the message
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = str(exc) or type(exc).__name__
    if isinstance(exc, pickle.UnpicklingError) and _PICKLE_ADVICE in text:
        return "the file is not a weights-only checkpoint and is refused"
    return text


def as_command_error(exc: BaseException, status: int = RUNTIME) -> Optional[CommandError]:
    """The :class:`CommandError` for an expected exception, ``None`` for anything else (a bug)."""
    if isinstance(exc, CommandError):
        return exc
    if not isinstance(exc, expected_errors()):
        return None
    return CommandError(_describe(exc), status)


@contextmanager
def usage_errors() -> Iterator[None]:
    """Inside, bad-input errors (``ValueError``/``TypeError``/``KeyError``) are usage errors (exit 2)."""
    try:
        yield
    except (ValueError, TypeError, KeyError) as exc:
        raise CommandError(_describe(exc), USAGE) from exc


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Inside, a ``RuntimeError`` is a runtime error about ``what`` (exit 1).

    torchvision and ``model_zoo`` report missing or corrupt files and failed
    downloads as ``RuntimeError``; only calls that read such files are wrapped,
    so a ``RuntimeError`` from computation still shows its traceback.
    """
    try:
        yield
    except RuntimeError as exc:
        known = as_command_error(exc)  # e.g. model_zoo.ChecksumError: its own message
        raise (known or CommandError(f"{what}: {exc}", RUNTIME)) from exc
