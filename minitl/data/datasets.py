"""MNIST, CIFAR-10 and ImageFolder: image datasets read from their original file formats.

Where the files come from (see ``minitl.hub``): with ``root=None``, the
directory named by ``$MINITL_DATA_DIR``, then the cache (``~/.cache/minitl/data``
or ``$MINITL_CACHE/data``), then the original public URL; each file is checked
against its SHA-256. With ``root`` given, the files must be there.

MNIST (LeCun, Cortes and Burges) is four gzipped *idx* files, found in
``$MINITL_DATA_DIR/mnist/``. An idx file is a big-endian header, then raw
values in C order: two zero bytes, a type code (0x08 = unsigned byte), the
number of dimensions n, then n uint32 sizes. Read as one big-endian uint32,
the first four bytes are the "magic number": 2051 for the (N, 28, 28) images
and 2049 for the (N,) labels. The SHA-256 sums below are those of the files
on PyTorch's mirror; the md5 sums torchvision publishes for the same files are
f68b3c2d..., d53e105e..., 9fb629c4..., ec29112d... (train images, train
labels, test images, test labels).

CIFAR-10 (Krizhevsky) is ``cifar-10-python.tar.gz``, holding the directory
``cifar-10-batches-py/`` with ``data_batch_1`` ... ``data_batch_5`` (50,000
training images) and ``test_batch`` (10,000). Each batch is a Python pickle of
a dict: ``data`` a (N, 3072) uint8 array (each row the 1024 red, then green,
then blue values of a 32x32 image) and ``labels`` a list of N ints. The pickles
are read by an unpickler that can rebuild NumPy arrays and nothing else, so a
tampered file cannot run code. The archive is extracted into the cache.

MNIST and CIFAR10 keep every image in ``.data`` (uint8: (N, 28, 28) and
(N, 32, 32, 3) as in torchvision) and the labels in ``.targets`` (int64); a
sample is ``(transform(image), label)``, with ``ToTensor`` as the default
transform: (1, 28, 28) or (3, 32, 32) float32 in [0, 1].
"""
import codecs
import gzip
import math
import os
import pathlib
import pickle
import shutil
import tarfile
import tempfile
import warnings
import zlib

import numpy as np

from minitl import hub
from minitl.data.dataset import Dataset
from minitl.data.transforms import ToTensor
from minitl.io import safe_pickle
from minitl.io.safe_pickle import Frozen

DATA_ENV = "MINITL_DATA_DIR"

MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

CIFAR10_ARCHIVE = hub.RemoteFile("cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                                 "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
CIFAR10_DIR = "cifar-10-batches-py"


class _ImageArrayDataset(Dataset):
    """Images in ``self.data`` and labels in ``self.targets``; samples go through ``self.transform``."""

    def __init__(self, data, targets, transform):
        if len(data) != len(targets):
            raise ValueError(f"{type(self).__name__}: {len(data)} images but {len(targets)} labels")
        self.data, self.targets = data, targets
        self.transform = transform or ToTensor()

    def __getitem__(self, index):
        return self.transform(self.data[index]), int(self.targets[index])

    def __len__(self):
        return len(self.data)


# -- MNIST --------------------------------------------------------------------------------------------
class MNIST(_ImageArrayDataset):
    """The 60,000 training (train=True) or 10,000 test handwritten digits; see the module docstring."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train=True, transform=None):
        split = "train" if train else "t10k"
        images = read_idx(_mnist_file(f"{split}-images-idx3-ubyte.gz", root), IDX_IMAGES_MAGIC)
        labels = read_idx(_mnist_file(f"{split}-labels-idx1-ubyte.gz", root), IDX_LABELS_MAGIC)
        super().__init__(images, labels.astype(np.int64), transform)


def _mnist_file(name, root):
    """A verified local path of one MNIST file: in `root`, or found/downloaded by the hub."""
    remote = hub.RemoteFile(f"mnist/{name}", MNIST_URL + name, MNIST_SHA256[name])
    if root is None:
        return hub.fetch(remote, "data", DATA_ENV)
    path = pathlib.Path(root) / name
    if not path.exists():
        raise FileNotFoundError(f"MNIST file {path} not found (root={root!r}; with root=None it is looked for "
                                f"in ${DATA_ENV}/mnist/, the cache, and downloaded)")
    hub.verify(path, remote)
    return path


def read_idx(path, magic):
    """The array stored in an idx file (gzipped when its name ends in .gz); see the module docstring.

    `magic` is the magic number the caller expects (2051 images, 2049 labels);
    anything else, and a file shorter or longer than its header says, is a
    ValueError naming the file. The header is checked before the data is
    read, and no more than it announces is decompressed, so a gzip bomb or a
    header announcing terabytes costs nothing.
    """
    gzipped = str(path).endswith(".gz")
    try:
        with (gzip.open if gzipped else open)(path, "rb") as file:
            head = file.read(4)
            found = int.from_bytes(head, "big") if len(head) == 4 else None
            if found != magic or head[2] not in _IDX_DTYPES:
                raise ValueError(f"{path} is not the expected idx file: magic number {found}, expected {magic}")
            ndim, dtype = head[3], _IDX_DTYPES[head[2]]
            dims = file.read(4 * ndim)
            shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(len(dims) // 4))
            expected = math.prod(shape) * dtype.itemsize  # exact: Python integers
            # deflate compresses at most 1032:1, so a gzip file cannot hold more than this
            limit = os.path.getsize(path) * (1032 if gzipped else 1)
            if len(shape) != ndim or expected > limit:
                raise ValueError(f"{path} is corrupt or truncated: its header announces shape {shape} "
                                 f"({expected} bytes), more than the file can hold")
            raw = _read_at_most(file, expected + 1)
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} is not a readable idx file: {err}") from None
    if len(raw) != expected:
        raise ValueError(f"{path} is corrupt or truncated: its header announces shape {shape} "
                         f"({expected} bytes of data), but {len(raw)}{'+' if len(raw) > expected else ''} "
                         "bytes follow it")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_at_most(file, count, chunk=1 << 24):
    """Up to `count` bytes, read in chunks: memory follows what the file holds, not what a header claims."""
    chunks = []
    while count > 0 and (block := file.read(min(count, chunk))):
        chunks.append(block)
        count -= len(block)
    return b"".join(chunks)


# -- CIFAR-10 -----------------------------------------------------------------------------------------
class CIFAR10(_ImageArrayDataset):
    """The 50,000 training (train=True) or 10,000 test 32x32 colour images of 10 classes.

    `root` is a directory holding ``cifar-10-batches-py/``; see the module docstring.
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root=None, train=True, transform=None):
        directory = pathlib.Path(root) / CIFAR10_DIR if root is not None else _cifar10_directory()
        names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        batches = [load_cifar_batch(directory / name) for name in names]
        images = np.concatenate([data for data, _ in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([labels for _, labels in batches])
        super().__init__(np.ascontiguousarray(images.transpose(0, 2, 3, 1)), labels, transform)


def _cifar10_directory():
    """The extracted batches: in $MINITL_DATA_DIR or the cache, else extracted from the (fetched) archive."""
    cache = hub.cache_dir() / "data"
    for base in (os.environ.get(DATA_ENV), cache):
        if base and (pathlib.Path(base) / CIFAR10_DIR).is_dir():
            return pathlib.Path(base) / CIFAR10_DIR
    archive = hub.fetch(CIFAR10_ARCHIVE, "data", DATA_ENV)
    cache.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")  # no absolute paths, links out of the tree or devices
        if not (staging / CIFAR10_DIR).is_dir():
            raise ValueError(f"{archive} does not contain {CIFAR10_DIR}/")
        os.replace(staging / CIFAR10_DIR, cache / CIFAR10_DIR)
    finally:
        shutil.rmtree(staging)
    return cache / CIFAR10_DIR


class _PendingDtype(Frozen):
    """What the pickle's ``numpy.dtype(name, align, copy)`` gets: one of the types a batch holds."""

    __slots__ = ("dtype",)
    NAMES = ("u1", "i8", "i4")

    def __init__(self, name, align=False, copy=True):
        if name not in self.NAMES:
            raise ValueError(f"refused dtype {name!r:.20} (a CIFAR-10 batch holds {', '.join(self.NAMES)})")
        object.__setattr__(self, "dtype", np.dtype(name))

    def __setstate__(self, state):  # NumPy pickles (3, byte order, None, None, None, -1, -1, 0)
        if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[1] in ("|", "<", ">")
                and state[2:] == (None, None, None, -1, -1, 0)):
            raise ValueError("refused an unusual dtype state")
        object.__setattr__(self, "dtype", self.dtype.newbyteorder(state[1]))


class _PendingArray(Frozen):
    """What the pickle's ``_reconstruct(ndarray, (0,), b'b')`` gets; its BUILD state gives the array."""

    __slots__ = ("array",)

    def __setstate__(self, state):  # (version, shape, dtype, is_fortran, raw bytes)
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _PendingDtype)
                and isinstance(state[1], tuple) and all(isinstance(n, int) and n >= 0 for n in state[1])
                and isinstance(state[4], (bytes, str))):
            raise ValueError("refused an array state that is not (version, shape, dtype, fortran, bytes)")
        _version, shape, dtype, is_fortran, raw = state
        raw = raw.encode("latin1") if isinstance(raw, str) else raw  # Python 2 str, decoded as latin1
        if math.prod(shape) * dtype.dtype.itemsize != len(raw):
            raise ValueError(f"an array of shape {shape} with {len(raw)} bytes of data")
        array = np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order="F" if is_fortran else "C")
        object.__setattr__(self, "array", array.astype(dtype.dtype.newbyteorder("=")))


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY:
        raise ValueError("_reconstruct is only allowed to make a numpy.ndarray")
    return _PendingArray()


_NDARRAY = Frozen()  # numpy.ndarray as the pickle sees it: a name to pass to _reconstruct, not callable
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 1 pickles
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 2 pickles
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _PendingDtype,
    ("_codecs", "encode"): codecs.encode,  # how protocol-2 pickles written by Python 3 store bytes
}


def load_cifar_batch(path):
    """(data (N, 3072) uint8, labels (N,) int64) of one CIFAR-10 batch file, read without running code.

    The pickle is read by `minitl.io.safe_pickle` (scanned, then unpickled
    with an allow-list) and its arrays are rebuilt by minitl, not NumPy, so
    a tampered file can neither run code nor make a strided view of a few
    bytes look like many images. Every problem is a ValueError naming the file.
    """
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"CIFAR-10 batch {path} not found") from None
    try:
        batch = safe_pickle.load(raw, _ARRAY_GLOBALS, encoding="latin1")  # latin1: Python 2 pickles
        if not isinstance(batch, dict):
            raise TypeError(f"it holds a {type(batch).__name__}, not a dict")
        batch = {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}
        data, labels = batch.get("data"), batch.get("labels")
        data = data.array if isinstance(data, _PendingArray) else data
        labels = np.asarray(labels.array if isinstance(labels, _PendingArray) else labels)
    except (ValueError, TypeError, AttributeError, EOFError, LookupError, OverflowError, MemoryError,
            RecursionError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path} is not a readable CIFAR-10 batch: {err}") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or labels.dtype.kind not in "iu" or labels.shape != (len(data),):
        raise ValueError(f"{path} is not a CIFAR-10 batch: expected 'data' (N, 3072) uint8 and N integer 'labels'")
    if labels.size and not (labels.min() >= 0 and labels.max() < len(CIFAR10.classes)):
        raise ValueError(f"{path}: labels must lie in 0..{len(CIFAR10.classes) - 1}, found {labels.min()} to "
                         f"{labels.max()}")
    return data, labels.astype(np.int64)


# -- ImageFolder --------------------------------------------------------------------------------------
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageFolder(Dataset):
    """Images in one subfolder per class (``root/cat/1.png``, ``root/dog/a.jpg``), as torchvision's.

    Classes are the subfolder names, sorted, labelled 0, 1, ...; ``.samples``
    lists (path, label) pairs and ``.targets`` the labels. A class folder
    without images is refused, as torchvision does. Images are read when
    indexed, with Pillow (``pip install pillow``), as RGB (H, W, 3) uint8, then
    transformed (``ToTensor`` by default). An image that cannot be read
    (truncated, not an image, more than Pillow's ``MAX_IMAGE_PIXELS``) is a
    ValueError naming its path, and so is a batch of images of different
    sizes (add a ``transforms.Resize``).
    """

    def __init__(self, root, transform=None):
        root = pathlib.Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"ImageFolder root {root} is not a directory")
        self.classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder root {root} has no class subfolders")
        self.class_to_idx = {name: label for label, name in enumerate(self.classes)}
        self.samples = [(path, label) for name, label in self.class_to_idx.items()
                        for path in sorted((root / name).rglob("*")) if path.suffix.lower() in IMAGE_EXTENSIONS]
        empty = sorted(set(self.classes) - {self.classes[label] for _, label in self.samples})
        if empty:
            raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)} in {root}. "
                                    f"Supported extensions are: {', '.join(IMAGE_EXTENSIONS)}")
        self.targets = np.array([label for _, label in self.samples], dtype=np.int64)
        self.transform = transform or ToTensor()

    def __getitem__(self, index):
        path, label = self.samples[index]
        return self.transform(_read_image(path)), label

    def __getitems__(self, indices):
        """(images, labels) of a batch, stacked; images of different sizes are refused naming two of them."""
        samples = [self[int(i)] for i in indices]
        first_path, _ = self.samples[int(indices[0])]
        for i, (image, _) in zip(indices, samples):
            if np.shape(image) != np.shape(samples[0][0]):
                raise ValueError(f"images of different sizes in one batch: {self.samples[int(i)][0]} is "
                                 f"{np.shape(image)}, {first_path} is {np.shape(samples[0][0])} after the "
                                 "transform; add transforms.Resize to the transform")
        return np.stack([image for image, _ in samples]), np.array([label for _, label in samples])

    def __len__(self):
        return len(self.samples)


def _read_image(path):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("ImageFolder reads images with Pillow, which is not installed: pip install pillow") \
            from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # beyond MAX_IMAGE_PIXELS: refuse
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ValueError(f"cannot read image {path}: {type(err).__name__}: {err}") from None
