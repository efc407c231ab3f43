"""Files from the internet — pretrained weights, datasets — found locally, cached, or downloaded and verified.

Where a file is looked for, in order:
  1. a local directory named by an environment variable (``MINITL_WEIGHTS_DIR``
     for weights, ``MINITL_DATA_DIR`` for data): how tests, CI and offline
     machines supply files;
  2. the cache, ``~/.cache/minitl/<kind>/`` (``MINITL_CACHE`` moves it);
  3. the file's original public URL: downloaded with a progress bar into a
     temporary file beside the cached name, checked against its SHA-256, then
     renamed into the cache (``minitl.io.atomic``: an interrupted download
     leaves at most one ``.<name>.partial``, removed by the next one).

A checksum is the full SHA-256, or (as torch.hub does for files named
``name-<hash prefix>.ext``) its first hex digits.
"""
import dataclasses
import hashlib
import os
import pathlib
import sys
import urllib.error
import urllib.request

from minitl.io.atomic import replacing

CACHE_ENV = "MINITL_CACHE"


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    filename: str
    url: str
    sha256: str  # the full digest, or a prefix of at least 8 hex digits


def cache_dir():
    """Where downloads are kept: $MINITL_CACHE, else ~/.cache/minitl."""
    return pathlib.Path(os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "minitl")


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, remote, actual=None):
    """Raise naming both digests unless the file's SHA-256 (`actual`, computed when not given) is the expected one."""
    actual = actual or sha256_of(path)
    if not actual.startswith(remote.sha256.lower()):
        raise ValueError(f"checksum mismatch for {path}: expected sha256 {remote.sha256}..., got {actual} "
                         f"(a corrupt or different file; delete it and try again)")


def fetch(remote, kind, local_dir_env):
    """Path of a verified local copy of `remote`; see the module docstring for where it comes from."""
    local_dir = os.environ.get(local_dir_env)
    if local_dir and (pathlib.Path(local_dir) / remote.filename).exists():
        path = pathlib.Path(local_dir) / remote.filename
        verify(path, remote)
        return path
    cached = cache_dir() / kind / remote.filename
    if cached.exists():
        verify(cached, remote)
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download(remote.url, cached, remote)
    except (urllib.error.URLError, OSError) as err:
        raise RuntimeError(f"could not download {remote.url} ({err}). Offline? Put {remote.filename} in the "
                           f"directory named by ${local_dir_env}, or at {cached}") from None
    return cached


def _download(url, destination, remote):
    """Download into a temporary beside `destination` (minitl.io.atomic), renamed only once verified."""
    digest = hashlib.sha256()
    with replacing(destination) as file, urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0)
        with _progress(total, remote.filename) as advance:
            for block in iter(lambda: response.read(1 << 16), b""):
                file.write(block)
                digest.update(block)
                advance(len(block))
        verify(destination, remote, digest.hexdigest())


class _progress:
    """A tqdm bar when tqdm is installed, else a plain percentage on stderr."""

    def __init__(self, total, label):
        self.total, self.label, self.done = total, label, 0

    def __enter__(self):
        try:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total or None, unit="B", unit_scale=True, desc=self.label)
            return self.bar.update
        except ImportError:
            self.bar = None
            return self._print

    def _print(self, count):
        self.done += count
        share = f"{100 * self.done / self.total:5.1f}%" if self.total else f"{self.done} bytes"
        print(f"\rdownloading {self.label}: {share}", end="", file=sys.stderr)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
        else:
            print(file=sys.stderr)
