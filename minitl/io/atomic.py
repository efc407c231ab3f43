"""Replacing a file atomically, so that a crash or a kill never leaves half of one.

``with replacing(path) as file: file.write(...)`` writes to the temporary
``.<name>.partial`` beside the destination (through a symlink: beside the
file it points to), flushes it to disk, then renames it over the
destination, which therefore holds the old content or the new, never half
of either. An exception removes the temporary; a kill leaves at most that
one file, which the next write to the same name reuses. Concurrent writers
to one name take turns (a file lock on the temporary). A new file gets the
permissions the umask allows, as ``open`` gives.
"""
import contextlib
import fcntl
import os


@contextlib.contextmanager
def replacing(path):
    """An open binary file whose content replaces `path` when the block ends without an exception."""
    target = os.path.realpath(os.fspath(path))  # through a symlink: replace the file it points to
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {os.fspath(path)}: the directory {directory} does not exist")
    temporary = os.path.join(directory, f".{os.path.basename(target)}.partial")
    descriptor = _open_locked(temporary)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
            os.replace(temporary, target)  # still holding the lock: no other writer is using the temporary
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _open_locked(temporary):
    """A descriptor of the empty file `temporary`, locked against other writers to the same name."""
    while True:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT, 0o666)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            ours = os.path.samestat(os.fstat(descriptor), os.stat(temporary))
        except FileNotFoundError:
            ours = False
        if ours:  # else another writer renamed it while we waited for the lock: start again
            os.ftruncate(descriptor, 0)
            return descriptor
        os.close(descriptor)


def _fsync_directory(directory):
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the rename itself reaches the disk
    finally:
        os.close(descriptor)
