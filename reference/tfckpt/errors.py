"""The exceptions tfckpt raises, one hierarchy under :class:`CheckpointError`.

Strategy
--------
TensorFlow reports every failure as a ``Status`` with a canonical code
(``NOT_FOUND``, ``DATA_LOSS``, ``INVALID_ARGUMENT`` ...).  tfckpt mirrors those
codes one class each, so a caller (or the conformance suite) can ask *what kind*
of failure happened without parsing messages, and so that a test can compare
our category with the one TensorFlow gives for the same file.

Every error carries the location it concerns -- the ``file``, the tensor ``key``
and the byte ``offset`` -- as attributes and in its message, because "not an
sstable" with no file name is the most common complaint about TensorFlow's own
messages.

Each class also derives from the builtin exception a Python caller would
naturally catch (``KeyError`` for a missing tensor, ``ValueError`` for corrupt
or invalid data, ``NotImplementedError`` for unsupported features), so code
written against ``tf.train.load_checkpoint`` keeps working.

Rules the rest of the package follows:

* Malformed *input files* raise a subclass of :class:`CheckpointError` -- never a
  bare ``IndexError``, ``struct.error``, ``DecodeError`` or ``UnicodeDecodeError``.
* *Caller mistakes* while writing (a value that is not an array, an empty key)
  raise :class:`InvalidArgumentError` too, since TensorFlow reports those as
  ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import os
import contextlib
import errno
from typing import Iterator, Optional, Union

__all__ = [
    "CheckpointError",
    "NotFoundError",
    "FileNotFound",
    "DataLossError",
    "InvalidArgumentError",
    "UnimplementedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "OutOfRangeError",
    "UnavailableError",
    "AbortedError",
    "InternalError",
    "CATEGORIES",
    "error_for_category",
    "from_os_error",
    "os_errors",
]

PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(Exception):
    """Base class of every error tfckpt raises about a checkpoint.

    Attributes:
        message: what went wrong, without the location.
        file: the file concerned, when known.
        key: the tensor key (or SSTable key) concerned, when known.
        offset: the byte offset in ``file`` where the problem was found, when known.
        category: TensorFlow's status code name for this class, e.g. ``"DATA_LOSS"``.
    """

    category = "UNKNOWN"

    # Every subclass lists CheckpointError before its builtin base, so this __init__ and the
    # __str__ below win over KeyError's quoting and OSError's (errno, strerror) arguments.

    def __init__(
        self,
        message: str,
        *,
        file: Optional[PathLike] = None,
        key: Optional[Union[str, bytes]] = None,
        offset: Optional[int] = None,
    ) -> None:
        self.message = message
        self.file = os.fspath(file) if file is not None else None
        self.key = key
        self.offset = offset
        super().__init__(message)

    def with_location(
        self,
        *,
        file: Optional[PathLike] = None,
        key: Optional[Union[str, bytes]] = None,
        offset: Optional[int] = None,
    ) -> "CheckpointError":
        """Fill in location fields that are still unknown; returns ``self``."""
        if self.file is None and file is not None:
            self.file = os.fspath(file)
        if self.key is None and key is not None:
            self.key = key
        if self.offset is None and offset is not None:
            self.offset = offset
        return self

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if self.key is not None:
            where.append(f"key {_show_key(self.key)}")
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        if not where:
            return self.message
        return f"{self.message} ({', '.join(where)})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self):  # keep location through pickling (multiprocessing, pytest-xdist)
        return (_rebuild, (type(self), self.message, self.file, self.key, self.offset))


def _rebuild(cls, message, file, key, offset):
    return cls(message, file=file, key=key, offset=offset)


def _show_key(key: Union[str, bytes]) -> str:
    if isinstance(key, bytes):
        try:
            text = key.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + key.hex()
        if text.isprintable():
            return repr(text)
        return "0x" + key.hex()
    return repr(key)


class NotFoundError(CheckpointError, KeyError):
    """A file, checkpoint or tensor key that was asked for does not exist."""

    category = "NOT_FOUND"


class FileNotFound(NotFoundError, FileNotFoundError):
    """A file that was asked for does not exist: ``except FileNotFoundError`` catches it too.

    Category ``NOT_FOUND`` like every :class:`NotFoundError` (a missing tensor key stays a
    plain :class:`NotFoundError`, a ``KeyError``).
    """


class DataLossError(CheckpointError, ValueError):
    """A file is truncated, corrupt, or fails a checksum."""

    category = "DATA_LOSS"


class InvalidArgumentError(CheckpointError, ValueError):
    """A file or request is well-formed but breaks a rule of the format (or of the API)."""

    category = "INVALID_ARGUMENT"


class UnimplementedError(CheckpointError, NotImplementedError):
    """The file uses a feature tfckpt (and, usually, TensorFlow) does not support."""

    category = "UNIMPLEMENTED"


class ResourceExhaustedError(CheckpointError, ValueError):
    """Honouring the file would need more memory than its sizes justify or the limits allow."""

    category = "RESOURCE_EXHAUSTED"


class FailedPreconditionError(CheckpointError, ValueError):
    """The operation is not allowed in the current state (e.g. a closed writer)."""

    category = "FAILED_PRECONDITION"


class AlreadyExistsError(CheckpointError, FileExistsError):
    """A file that must not exist yet already does."""

    category = "ALREADY_EXISTS"


class PermissionDeniedError(CheckpointError, PermissionError):
    """The operating system refused access (no permission, a read-only file system)."""

    category = "PERMISSION_DENIED"


class OutOfRangeError(CheckpointError, ValueError):
    """A value or a file grew past what the system allows (a file too large)."""

    category = "OUT_OF_RANGE"


class UnavailableError(CheckpointError, OSError):
    """A transient failure (interrupted call, no locks available); trying again may succeed."""

    category = "UNAVAILABLE"


class AbortedError(CheckpointError, RuntimeError):
    """The operation met a concurrent change (a checkpoint replaced while it was read); retry it."""

    category = "ABORTED"


class InternalError(CheckpointError, RuntimeError):
    """An inconsistency that should be impossible (a bug, or a file built to confuse)."""

    category = "INTERNAL"


#: category name -> exception class, for adapters and the conformance suite.
CATEGORIES = {
    cls.category: cls
    for cls in (
        NotFoundError,
        DataLossError,
        InvalidArgumentError,
        UnimplementedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AlreadyExistsError,
        PermissionDeniedError,
        OutOfRangeError,
        UnavailableError,
        AbortedError,
        InternalError,
    )
}


def error_for_category(category: str) -> type:
    """The exception class for a TensorFlow status code name (``"DATA_LOSS"``...)."""
    return CATEGORIES.get(category, CheckpointError)


# -- operating-system failures (a full disk, a directory where a file must go ...) ----------------------
#
# TensorFlow turns errno values into status codes (tsl/platform/errors.cc, ErrnoToCode); we
# follow its table (ErrnoToCode in third_party/xla/xla/tsl/platform/errors.cc), so the same
# failure gets the same category; what it leaves UNKNOWN (EIO, ELOOP ...) is the base class.
_ERRNO_CLASSES = {
    FileNotFound: ("ENOENT",),
    NotFoundError: ("ENODEV", "ENXIO", "ESRCH"),
    AlreadyExistsError: ("EEXIST",),
    PermissionDeniedError: ("EPERM", "EACCES", "EROFS"),
    InvalidArgumentError: ("EINVAL", "ENAMETOOLONG", "E2BIG", "EFAULT", "EILSEQ", "ESPIPE", "ENOTTY"),
    FailedPreconditionError: ("EISDIR", "ENOTDIR", "ENOTEMPTY", "EBUSY", "EBADF", "ETXTBSY", "EPIPE"),
    ResourceExhaustedError: ("ENOSPC", "EDQUOT", "EMFILE", "ENFILE", "EMLINK", "ENOMEM", "ENOBUFS", "ENODATA"),
    OutOfRangeError: ("EFBIG", "EOVERFLOW", "ERANGE"),
    UnimplementedError: ("ENOSYS", "ENOTSUP", "EOPNOTSUPP", "EXDEV"),
    UnavailableError: ("EAGAIN", "EINTR", "ENOLCK"),
    AbortedError: ("EDEADLK", "ESTALE"),
}
_ERRNO_TO_CLASS = {
    getattr(errno, name): cls for cls, names in _ERRNO_CLASSES.items() for name in names if hasattr(errno, name)
}


def from_os_error(exc: OSError, what: str, *, file: Optional[PathLike] = None) -> CheckpointError:
    """The tfckpt error for an operating-system failure while ``what`` (``"writing the data file"``)."""
    cls = _ERRNO_TO_CLASS.get(exc.errno, CheckpointError)
    reason = exc.strerror or str(exc)
    return cls(f"{what} failed: {reason}", file=file if file is not None else exc.filename)


@contextlib.contextmanager
def os_errors(what: str, *, file: Optional[PathLike] = None) -> Iterator[None]:
    """Let no ``OSError`` escape: re-raise it as :func:`from_os_error` does (our own errors pass through)."""
    try:
        yield
    except CheckpointError:
        raise
    except OSError as exc:
        raise from_os_error(exc, what, file=file) from exc
