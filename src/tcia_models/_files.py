"""Small file-system facts the download code needs."""

from __future__ import annotations

import errno
import functools
import os
import threading

from ._exceptions import StorageError

__all__ = ["storage_error", "umask"]

_umask_lock = threading.Lock()


@functools.cache
def umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``os.umask`` can
    only be read by setting it, which races with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space",
    errno.EDQUOT: "the disk quota is used up: free some space",
    errno.EACCES: "it is not writable: check its permissions",
    errno.EPERM: "it is not writable: check its permissions",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file is in the way",
    errno.ENAMETOOLONG: "a name is too long for the file system: choose a shorter layout",
    errno.EISDIR: "it is a folder, not a file",
}


def storage_error(
    error: OSError, path: os.PathLike[str] | str, *, query: str | None
) -> StorageError:
    """An ``OSError`` met while writing ``path``, as a ``StorageError`` that says what to do."""
    advice = _ADVICE.get(error.errno or 0, "check the destination")
    where = str(error.filename) if error.filename else os.fspath(path)
    return StorageError(
        f"cannot write {where!s}: {error.strerror or error}; {advice}. Nothing partial was left.",
        path=os.fspath(path),
        query=query,
    )
