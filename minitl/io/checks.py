"""What every checkpoint reader shares: the error type, opening a file so every failure names it, zip checks, exact reads.

The readers (torch_checkpoint, safetensors_io, npz) import this module and
nothing of each other. Each piece guards against a malformed or hostile file:

* `CheckpointError` is the one error a reader raises for a bad file, and
  `read_file` makes sure it names the file, whatever went wrong inside;
* `open_zip` opens a zip archive and `check_zip_directory` refuses those that torch's zip reader
  refuses and Python's zipfile would let through;
* `read_exactly` and `read_entry` read a declared number of bytes and not one
  more, so a file's own numbers can never make a reader allocate or read
  beyond the file.
"""
import io
import os
import struct
import zipfile

MAX_DEPTH = 100  # how deeply a checkpoint's containers may nest
ZIP_MAGIC = b"PK\x03\x04"  # the first bytes of a zip archive (and how torch.load tells its two layouts apart)
ZIP_UNSUPPORTED_FLAGS = 0x1 | 0x40 | 0x2000  # encrypted, strongly encrypted, masked local headers


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely: corrupt, truncated, hostile, or not a checkpoint."""


def existing_file(path):
    """`path` as a string (or bytes), after checking a file is there: a missing one is a FileNotFoundError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def is_file_object(source):
    """Whether `source` is an open file (``io.BytesIO``, ``open(path, "rb")``) rather than a path."""
    return not isinstance(source, (str, bytes, os.PathLike))


def file_name(source):
    """How an error names `source`: its path, or an open file's name (``<BytesIO>`` for one without)."""
    if is_file_object(source):
        name = getattr(source, "name", None)
        return name if isinstance(name, str) else f"<{type(source).__name__}>"
    return os.fspath(source)


def read_file(source, read, unreadable, refused=(CheckpointError,)):
    """``read(file)`` on `source` (a path, or an open binary file, read from its current position on),
    opened for reading bytes, with every failure naming it.

    A refusal (an exception of a type in `refused`: a check failed) becomes
    ``CheckpointError("PATH: why")``; any other exception, which a malformed
    file can trigger anywhere, becomes ``CheckpointError("PATH: UNREADABLE:
    Type: message")``.
    """
    name = file_name(source)
    path = None if is_file_object(source) else existing_file(source)
    try:
        if path is None:  # an open file: read from where it stands, as torch.load reads one, into memory
            return read(io.BytesIO(source.read()))  # (a BytesIO shares the bytes: no copy)
        with open(path, "rb") as file:
            return read(file)
    except refused as err:
        raise CheckpointError(f"{name}: {err}") from None
    except Exception as err:  # noqa: BLE001 -- whatever a malformed file triggers, the caller gets one error
        # type; the original stays chained (from err), so a bug of minitl's own still shows where it is
        raise CheckpointError(f"{name}: {unreadable}: {type(err).__name__}: {err}") from err


def replace_leaves(obj, change):
    """`obj` with ``change(value)`` in place of every value that is not a dict, list or tuple.

    Dicts and lists are changed in place, tuples rebuilt. A container met
    twice (a pickle's memo can share one) is walked once, so the walk is
    linear in the objects, and nesting deeper than `MAX_DEPTH` is refused.
    """
    done = {}  # id -> the container's result (the containers stay alive in `obj`, so ids are not reused)

    def walk(value, depth):
        if not isinstance(value, (dict, list, tuple)):
            return change(value)
        if id(value) in done:
            return done[id(value)]
        if depth > MAX_DEPTH:
            raise CheckpointError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, tuple):
            done[id(value)] = tuple(walk(item, depth + 1) for item in value)
            return done[id(value)]
        done[id(value)] = value
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
            value[key] = walk(item, depth + 1)  # an existing key: the dict does not grow while iterated
        return value

    return walk(obj, 0)


# -- zip archives -----------------------------------------------------------------------------------------
def open_zip(file):
    """The zip archive in an open file, after `check_zip_directory`. A file that begins as a zip archive
    but has no end record was cut short: the error says "truncated"."""
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as err:
        raise CheckpointError(f"the file is truncated, or a corrupt zip archive ({err})") from None
    check_zip_directory(file, archive)
    return archive


def check_zip_directory(file, archive):
    """What miniz (torch's zip reader) refuses and Python's zipfile lets through, refused here too.

    An archive comment, a second disk, an end record whose entry count or
    directory size is not the directory's (Python's zipfile reads what it
    finds, possibly nothing), a zip64 locator not pointing just before
    itself, and encrypted or masked entries.
    """
    size = file.seek(0, os.SEEK_END)
    records = []
    file.seek(max(size - 22, 0))
    signature, *record, comment = struct.unpack("<4s4H2LH", file.read(22))
    if signature != b"PK\x05\x06" or comment:
        raise CheckpointError("the zip archive does not end with its end record (a comment, or trailing bytes)")
    records.append(record)  # disk, directory's disk, entries here, entries in all, directory size and offset
    file.seek(max(size - 42, 0))
    locator = file.read(20)
    if locator[:4] == b"PK\x06\x07":
        _, locator_disk, record_offset, disks = struct.unpack("<4sLQL", locator)
        file.seek(record_offset)
        record = file.read(56)
        if record_offset != size - 42 - 56 or record[:4] != b"PK\x06\x06" or locator_disk != 0 or disks != 1:
            raise CheckpointError("the zip64 end record is not where its locator says")
        records.append(struct.unpack_from("<2L4Q", record, 16))
    for disk, directory_disk, here, total, _, _ in records:
        if disk or directory_disk or here != total or total != len(archive.infolist()):
            raise CheckpointError("the zip archive's end record claims several disks or another number of entries")
    *_, total, directory_size, directory_offset = records[-1]
    file.seek(directory_offset)
    directory, position, count = file.read(directory_size), 0, 0
    while directory[position:position + 4] == b"PK\x01\x02" and position + 46 <= len(directory):
        position += 46 + sum(struct.unpack_from("<3H", directory, position + 28))  # name, extra, comment
        count += 1
    if position != directory_size or count != total:
        raise CheckpointError("the zip directory's entries do not fill it exactly as its end record says")
    for info in archive.infolist():
        if info.volume or info.flag_bits & ZIP_UNSUPPORTED_FLAGS:
            raise CheckpointError(f"entry {info.filename[:80]!r} is on another disk, encrypted or masked")
    _refuse_overlaps(archive.infolist(), directory_offset)


def _refuse_overlaps(infos, directory_offset):
    """Refuse entries whose bytes overlap another's or the directory (Python 3.13's zipfile checks this,
    3.11's and 3.12's do not): otherwise one block of the file, listed as N entries, is read N times, and
    a reader's memory and time grow with N x the file's size."""
    end = 0
    for info in sorted(infos, key=lambda info: info.header_offset):
        if info.header_offset < end:
            raise CheckpointError(f"entry {info.filename[:80]!r} overlaps the entry before it (a zip bomb?)")
        # the local header is at least 30 bytes and the name; its extra field may add more
        name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")  # as it was decoded
        end = info.header_offset + 30 + len(name) + info.compress_size
    if end > directory_offset:
        raise CheckpointError("the last zip entry overlaps the zip directory")


def is_stored(info):
    """Whether zip entry `info` is stored uncompressed, so that its declared size is what the file holds."""
    return info.compress_type == zipfile.ZIP_STORED and info.file_size == info.compress_size


MSDOS_DIRECTORY = 0x10  # a zip entry's attribute bit that miniz (torch's zip reader) refuses to extract


def read_entry(archive, info):
    """The bytes of zip entry `info`, exactly its declared size (and its CRC checked); an entry marked as
    a directory is refused, as torch's zip reader refuses it."""
    if info.external_attr & MSDOS_DIRECTORY or info.is_dir():
        raise CheckpointError(f"entry {info.filename[:80]!r} is marked as a directory")
    with archive.open(info) as entry:
        return read_exactly(entry, info.file_size, info.filename)


# -- exact reads ------------------------------------------------------------------------------------------
def read_exactly(entry, size, name, chunk=1 << 20):
    """The next `size` bytes of a file or zip entry, read in chunks into one buffer (no second copy)."""
    data = bytearray(size)
    view, done = memoryview(data), 0
    while done < size and (got := entry.readinto(view[done:done + chunk])):
        done += got
    if done != size or (isinstance(entry, zipfile.ZipExtFile) and entry.read(1)):  # to the end: checks the CRC
        raise CheckpointError(f"entry {name!r} is shorter or longer than declared")
    return data
