"""Replacing a file atomically, so that a crash or a kill never leaves half of one.

``with replacing(path) as file: file.write(...)`` writes to the temporary
``.<name>.partial`` beside the destination (through a symlink: beside the
file it points to), flushes it to disk, then renames it over the
destination, which therefore holds the old content or the new, never half
of either. An exception removes the temporary; a kill leaves at most that
one file, which the next write to the same name removes. Concurrent writers
to one name take turns (a file lock on the temporary).

The temporary is always created anew and exclusively (``O_CREAT | O_EXCL |
O_NOFOLLOW``), never opened through whatever is already at its name: a
symlink or a hard link planted there by someone else is removed (removing
a link never touches the file it points to), so a save can never write into
another file. The destination keeps its permissions (a 0600 checkpoint stays
0600); a new file gets those the umask allows, as ``open`` gives.
"""
import contextlib
import fcntl
import os
import stat

from minitl.io.checks import is_file_object


def writing(f):
    """A context giving an open binary file for `f`: an open file itself (``io.BytesIO``), written from where
    it stands as ``torch.save`` writes one, or `replacing` a path."""
    return contextlib.nullcontext(f) if is_file_object(f) else replacing(f)


@contextlib.contextmanager
def replacing(path):
    """An open binary file whose content replaces `path` when the block ends without an exception."""
    target = os.path.realpath(os.fspath(path))  # through a symlink: replace the file it points to
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {os.fspath(path)}: the directory {directory} does not exist")
    temporary = os.path.join(directory, f".{os.path.basename(target)}.partial")
    descriptor = _create_locked(temporary)
    try:
        with contextlib.suppress(FileNotFoundError):  # keep an existing destination's permissions
            os.fchmod(descriptor, stat.S_IMODE(os.stat(target).st_mode))
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
            os.replace(temporary, target)  # still holding the lock: no other writer is using the temporary
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _create_locked(temporary):
    """A descriptor of the file `temporary`, created empty and exclusively by this call, locked against
    other writers to the same name."""
    while True:
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
            created = True
        except FileExistsError:  # another writer's, a killed save's, or planted: lock it, never write to it
            try:
                descriptor = os.open(temporary, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except FileNotFoundError:  # renamed away meanwhile
                continue
            except OSError:  # a symlink (ELOOP) or something unreadable: remove the name, not what it names
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                continue
            created = False
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # waits while another writer is using it
        try:
            still_there = os.path.samestat(os.fstat(descriptor), os.lstat(temporary))
        except FileNotFoundError:
            still_there = False
        if still_there and created:
            return descriptor
        if still_there:  # no writer holds it: a leftover of a killed save, or someone else's link
            os.unlink(temporary)
        os.close(descriptor)


def _fsync_directory(directory):
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the rename itself reaches the disk
    finally:
        os.close(descriptor)
