"""Datasets, the DataLoader, transforms, and the MNIST/CIFAR-10/ImageFolder readers: no test touches the network."""
import gzip
import hashlib
import os
import pathlib
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

import minitl as tl
from minitl import hub
from minitl.data import CIFAR10, MNIST, DataLoader, Dataset, ImageFolder, Subset, TensorDataset, class_indices, transforms
from minitl.data.datasets import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx

import local_files


class Squares(Dataset):
    """A plain dataset without __getitems__: the DataLoader's slow path."""

    def __init__(self, n):
        self.images = np.arange(n * 4, dtype=np.float32).reshape(n, 2, 2)

    def __getitem__(self, index):
        return self.images[index], index % 3

    def __len__(self):
        return len(self.images)


def labels_of(loader):
    return np.concatenate([batch[-1].numpy() for batch in loader])


# -- datasets and the loader ---------------------------------------------------------------------------
def test_loader_batches_in_order_with_dtypes_and_len():
    images, labels = np.random.default_rng(0).normal(size=(10, 1, 3, 3)), np.arange(10) % 4
    loader = DataLoader(TensorDataset(images, labels), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == np.float64 and batches[0][1].dtype == np.int64  # torch's: an array keeps its dtype
    np.testing.assert_array_equal(batches[2][0].numpy(), images[8:])
    assert labels_of(loader).tolist() == labels.tolist()
    dropping = DataLoader(TensorDataset(images, labels), batch_size=4, drop_last=True)
    assert len(dropping) == len(list(dropping)) == 2


def test_loader_device_is_checked_when_made():
    dataset = TensorDataset(np.zeros((4, 2), np.float32), np.arange(4))
    assert all(t.device == "cpu" for batch in DataLoader(dataset, 2, device="cpu") for t in batch)
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        DataLoader(dataset, 2, device="tpu")
    if not tl.cuda.is_available():
        with pytest.raises(RuntimeError, match=r'pip install "minitl\[gpu\]"'):
            DataLoader(dataset, 2, device="cuda")


def test_seeded_shuffle_repeats_across_loaders_and_changes_per_epoch():
    dataset = TensorDataset(np.zeros((50, 2), np.float32), np.arange(50))
    first, second = DataLoader(dataset, 8, shuffle=True, seed=3), DataLoader(dataset, 8, shuffle=True, seed=3)
    epoch1, epoch2 = labels_of(first), labels_of(first)
    assert sorted(epoch1) == list(range(50)) and not np.array_equal(epoch1, epoch2)
    assert np.array_equal(epoch1, labels_of(second)) and np.array_equal(epoch2, labels_of(second))


def test_unseeded_shuffle_follows_manual_seed():
    loader = DataLoader(TensorDataset(np.arange(20)), 5, shuffle=True)
    tl.manual_seed(7)
    order = labels_of(loader)
    tl.manual_seed(7)
    assert np.array_equal(order, labels_of(loader)) and not np.array_equal(order, np.arange(20))


def test_fast_path_equals_sample_by_sample_stacking():
    slow = Squares(11)
    fast = TensorDataset(slow.images, np.arange(11) % 3)
    for dataset in (fast, Subset(fast, np.arange(11))):
        batches = zip(DataLoader(dataset, 4, shuffle=True, seed=1), DataLoader(slow, 4, shuffle=True, seed=1))
        for (a, la), (b, lb) in batches:
            assert np.array_equal(a.numpy(), b.numpy()) and np.array_equal(la.numpy(), lb.numpy())
            assert a.dtype == b.dtype == np.float32 and la.dtype == lb.dtype == np.int64


def test_subset_and_tensor_dataset_indexing():
    dataset = TensorDataset(tl.tensor([[1.0], [2.0], [3.0]]), np.array([0, 1, 2]))
    subset = Subset(dataset, [2, 0])
    assert len(subset) == 2 and subset[0][1] == 2 and subset[1][0][0] == 1.0
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))


def test_class_indices_selects_classes_and_k_shot():
    targets = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9] * 5)
    low = class_indices(targets, range(5))
    assert set(targets[low]) == {0, 1, 2, 3, 4} and len(low) == 25 and np.all(np.diff(low) > 0)
    shot = class_indices(targets, [5, 9], per_class=3, rng=np.random.default_rng(0))
    assert targets[shot].tolist() == [5, 5, 5, 9, 9, 9] and len(set(shot)) == 6
    assert np.array_equal(shot, class_indices(targets, [5, 9], per_class=3, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="fewer than per_class=6"):
        class_indices(targets, [1], per_class=6)


# -- transforms ------------------------------------------------------------------------------------------
def test_to_tensor_layouts_and_scaling():
    grey = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    out = transforms.ToTensor()(grey)
    assert out.shape == (1, 2, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    colour = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    out = transforms.ToTensor()(colour)
    assert out.shape == (3, 2, 4) and out.flags.c_contiguous and out[1, 0, 1] == np.float32(4 / 255)


def test_normalize_math_per_channel_keeps_float32():
    image = np.ones((2, 2, 2), np.float32)
    image[1] = 3
    out = transforms.Normalize((0.5, 1.0), (0.25, 2.0))(image)
    assert out.dtype == np.float32 and np.allclose(out[0], 2.0) and np.allclose(out[1], 1.0)
    with pytest.raises(ValueError, match="3 channel statistics, the image 2 channels"):
        transforms.Normalize((0, 0, 0), (1, 1, 1))(image)


def test_flip_and_crop_on_a_known_array():
    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    assert np.array_equal(transforms.RandomHorizontalFlip(p=1)(image)[0, 0], [3, 2, 1, 0])
    assert transforms.RandomHorizontalFlip(p=0)(image) is image
    crop = transforms.RandomCrop(3, padding=1)
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    tl.manual_seed(0)
    for _ in range(20):
        out = crop(image)
        windows = [padded[:, top:top + 3, left:left + 3] for top in range(3) for left in range(4)]
        assert out.shape == (1, 3, 3) and out.dtype == np.float32
        assert any(np.array_equal(out, w) for w in windows)
    with pytest.raises(ValueError, match="exceeds"):
        transforms.RandomCrop(6)(image)


@pytest.mark.parametrize("make", [lambda: transforms.RandomHorizontalFlip(),
                                  lambda: transforms.RandomCrop(4, padding=2),
                                  lambda: transforms.ColorJitter(brightness=0.5, contrast=0.5)])
def test_random_transforms_repeat_under_manual_seed(make):
    image = np.random.default_rng(0).uniform(size=(3, 6, 6)).astype(np.float32)
    transform = make()
    tl.manual_seed(5)
    first = [transform(image) for _ in range(6)]
    tl.manual_seed(5)
    again = [transform(image) for _ in range(6)]
    assert all(np.array_equal(a, b) and a.dtype == np.float32 for a, b in zip(first, again))
    assert any(not np.array_equal(a, first[0]) for a in first)


def test_color_jitter_stays_in_range_and_zero_is_identity():
    image = np.random.default_rng(1).uniform(size=(3, 5, 5)).astype(np.float32)
    out = transforms.ColorJitter(brightness=0.9, contrast=0.9)(image)
    assert out.min() >= 0 and out.max() <= 1 and out.dtype == np.float32
    assert np.array_equal(transforms.ColorJitter()(image), image)


def test_resize_constant_shape_and_dtype():
    out = transforms.Resize(32)(np.full((1, 28, 28), 0.3, np.float32))
    assert out.shape == (1, 32, 32) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.3, rtol=1e-6)
    assert transforms.Resize((5, 7))(np.zeros((2, 3, 4), np.float32)).shape == (2, 5, 7)
    assert transforms.Resize(8)(np.zeros((1, 4, 6), np.float32)).shape == (1, 8, 12)
    with pytest.raises(TypeError, match="float image"):
        transforms.Resize(8)(np.zeros((1, 4, 4), np.uint8))


def test_resize_interpolates_a_ramp_linearly():
    ramp = np.arange(4, dtype=np.float32)[None, None, :].repeat(2, axis=1)  # (1, 2, 4)
    out = transforms.Resize((2, 8))(ramp)[0, 0]  # half-pixel centres: (j + 0.5) / 2 - 0.5, clamped to [0, 3]
    np.testing.assert_allclose(out, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])


@pytest.mark.torch
def test_resize_matches_torch_bilinear():
    torch = pytest.importorskip("torch")
    image = np.random.default_rng(2).uniform(size=(3, 28, 28)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(image)[None], size=(32, 32), mode="bilinear",
                                               align_corners=False)[0].numpy()
    np.testing.assert_allclose(transforms.Resize(32)(image), expected, atol=1e-6)


def test_compose_grey_digit_to_normalised_rgb():
    digit = np.random.default_rng(3).integers(0, 256, size=(28, 28), dtype=np.uint8)
    prepare = transforms.Compose([transforms.ToTensor(), transforms.Resize(32), transforms.GrayscaleToRGB(),
                                  transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    out = prepare(digit)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32 and np.array_equal(out[0], out[2])
    with pytest.raises(ValueError, match="one channel"):
        transforms.GrayscaleToRGB()(out)


# -- MNIST and the idx format ----------------------------------------------------------------------------
def mnist_dir():
    local = local_files.mnist_dir()
    if local is None:
        pytest.skip(local_files.MNIST_SKIP)
    return local


def test_mnist_test_set_from_data_dir():
    mnist_dir()
    mnist = MNIST(train=False)
    assert len(mnist) == 10000 and mnist.data.shape == (10000, 28, 28) and mnist.data.dtype == np.uint8
    assert mnist.targets.dtype == np.int64 and mnist.targets[0] == 7
    assert np.bincount(mnist.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    image, label = mnist[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == 7
    assert image.min() == 0 and image.max() == 1 and mnist.data.max() == 255
    images, labels = next(iter(DataLoader(mnist, batch_size=16)))
    assert images.shape == (16, 1, 28, 28) and labels.numpy().tolist() == mnist.targets[:16].tolist()


def test_mnist_root_checks_the_checksum(tmp_path):
    local = mnist_dir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((pathlib.Path(local) / "mnist" / name).read_bytes())
    assert len(MNIST(root=tmp_path, train=False)) == 10000
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as file:
        file.write(b"\x00\x00\x08\x01" + (0).to_bytes(4, "big"))
    with pytest.raises(ValueError, match="checksum mismatch"):
        MNIST(root=tmp_path, train=False)


def write_idx(path, array, magic):
    with gzip.open(path, "wb") as file:
        file.write(magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape) + array.tobytes())


def test_idx_files_parse_and_corrupt_ones_are_rejected(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    write_idx(tmp_path / "images.gz", images, IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "labels.gz", np.array([3, 1, 4], np.uint8), IDX_LABELS_MAGIC)
    assert np.array_equal(read_idx(tmp_path / "images.gz", IDX_IMAGES_MAGIC), images)
    assert read_idx(tmp_path / "labels.gz", IDX_LABELS_MAGIC).tolist() == [3, 1, 4]
    with pytest.raises(ValueError, match="magic number 2049, expected 2051"):
        read_idx(tmp_path / "labels.gz", IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "short.gz", images, IDX_IMAGES_MAGIC)
    with gzip.open(tmp_path / "short.gz", "rb") as file:
        truncated = file.read()[:-7]
    with gzip.open(tmp_path / "short.gz", "wb") as file:
        file.write(truncated)
    with pytest.raises(ValueError, match=r"truncated: its header announces shape \(3, 4, 5\)"):
        read_idx(tmp_path / "short.gz", IDX_IMAGES_MAGIC)
    (tmp_path / "garbage.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not a readable idx file"):
        read_idx(tmp_path / "garbage.gz", IDX_IMAGES_MAGIC)


def test_offline_and_missing_names_the_env_var_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITL_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("MINITL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("minitl.data.datasets.MNIST_URL", "http://127.0.0.1:9/")
    with pytest.raises(RuntimeError, match=r"Offline\? .*\$MINITL_DATA_DIR.*" + str(tmp_path / "cache")):
        MNIST(train=False)


def test_idx_headers_that_overflow_or_announce_more_than_the_file_holds(tmp_path):
    header = IDX_IMAGES_MAGIC.to_bytes(4, "big")
    overflow = header[:3] + bytes([3]) + b"".join((2 ** 32 - 1).to_bytes(4, "big") for _ in range(3))
    (tmp_path / "overflow").write_bytes(overflow + b"\0" * 16)  # 2**96 bytes: wraps to a small int64
    with pytest.raises(ValueError, match=r"announces shape \(4294967295, 4294967295, 4294967295\)"):
        read_idx(tmp_path / "overflow", IDX_IMAGES_MAGIC)
    bomb = header[:3] + bytes([3]) + b"".join(n.to_bytes(4, "big") for n in (4000, 1000, 1000))
    with gzip.open(tmp_path / "bomb.gz", "wb") as file:  # 4 GB of zeros announced, 12 MB of zeros written
        file.write(bomb + b"\0" * (12 << 20))
    with pytest.raises(ValueError, match="more than the file can hold"):
        read_idx(tmp_path / "bomb.gz", IDX_IMAGES_MAGIC)
    with gzip.open(tmp_path / "long.gz", "wb") as file:  # data beyond what the header announces: read no further
        file.write(IDX_LABELS_MAGIC.to_bytes(4, "big") + (4).to_bytes(4, "big") + b"\0" * (10 << 20))
    with pytest.raises(ValueError, match=r"announces shape \(4,\) \(4 bytes of data\), but 5\+ bytes follow"):
        read_idx(tmp_path / "long.gz", IDX_LABELS_MAGIC)


# -- CIFAR-10 ----------------------------------------------------------------------------------------------
def write_cifar(root, sizes):
    """A tiny cifar-10-batches-py with batches of the given sizes (test_batch last), as Python 3 pickles."""
    directory = root / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, sizes):
        batch = {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, size=n).tolist(), b"batch_label": name.encode()}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
    return directory


def test_cifar10_reads_batches(tmp_path):
    directory = write_cifar(tmp_path, [2, 3, 1, 1, 2, 4])
    train, test = CIFAR10(root=tmp_path), CIFAR10(root=tmp_path, train=False)
    assert len(train) == 9 and len(test) == 4 and train.data.shape == (9, 32, 32, 3)
    raw = pickle.loads((directory / "test_batch").read_bytes())
    assert test.targets.tolist() == raw[b"labels"] and test.targets.dtype == np.int64
    image, label = test[1]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and label == raw[b"labels"][1]
    np.testing.assert_allclose(image, raw[b"data"][1].reshape(3, 32, 32) / 255, rtol=1e-6)
    assert test.classes[0] == "airplane" and len(test.classes) == 10


def test_cifar10_archive_is_verified_and_extracted_into_the_cache(tmp_path, monkeypatch):
    write_cifar(tmp_path / "source", [1, 1, 1, 1, 1, 3])
    local, cache = tmp_path / "local", tmp_path / "cache"
    local.mkdir()
    with tarfile.open(local / "cifar.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "source" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    digest = hashlib.sha256((local / "cifar.tar.gz").read_bytes()).hexdigest()
    monkeypatch.setenv("MINITL_DATA_DIR", str(local))
    monkeypatch.setenv("MINITL_CACHE", str(cache))
    monkeypatch.setattr("minitl.data.datasets.CIFAR10_ARCHIVE", hub.RemoteFile("cifar.tar.gz", "http://127.0.0.1:9/",
                                                                               digest))
    assert len(CIFAR10(train=False)) == 3
    assert sorted(p.name for p in (cache / "data").iterdir()) == ["cifar-10-batches-py"]  # no staging left
    (local / "cifar.tar.gz").unlink()  # the extracted copy in the cache is used from now on
    assert len(CIFAR10(train=False)) == 3


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar10_refuses_a_pickle_that_would_run_code(tmp_path, monkeypatch):
    directory = write_cifar(tmp_path, [1, 1, 1, 1, 1, 1])
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": [0]}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"test_batch is not a readable CIFAR-10 batch: refused to load global "
                                         r"'(posix|os|nt)\.system'"):
        CIFAR10(root=tmp_path, train=False)
    assert not (tmp_path / "pwned").exists()


def test_cifar10_missing_and_malformed_batches(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        CIFAR10(root=tmp_path)
    directory = write_cifar(tmp_path, [1, 1, 1, 1, 1, 1])
    (directory / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]},
                                                        protocol=2))
    with pytest.raises(ValueError, match=r"not a CIFAR-10 batch: expected 'data' \(N, 3072\) uint8"):
        CIFAR10(root=tmp_path, train=False)


class StridedView:
    """Pickles as numpy.ndarray((150000, 3072), uint8, buffer, 0, (0, 1)): 150,000 images from 3 KB."""

    def __reduce__(self):
        return np.ndarray, ((150000, 3072), np.uint8, b"\0" * 3072, 0, (0, 1))


@pytest.mark.parametrize("content, match", [
    (b"", "EOFError|ran out of input|malformed pickle"),
    (b"\x80\x02garbage", "malformed pickle"),
    (pickle.dumps([1, 2], protocol=2), "holds a list, not a dict"),
    (b"\x80\x02}r" + (4_000_000_000).to_bytes(4, "little") + b".", "memo index 4000000000"),
    ("labels out of range", r"labels must lie in 0..9, found 0 to 10"),
    ("labels not integers", "N integer 'labels'"),
    ("strided view", r"refused|not callable"),
])
def test_cifar10_hostile_batches_are_refused_naming_the_file(tmp_path, content, match):
    directory = write_cifar(tmp_path, [1, 1, 1, 1, 1, 2])
    data = np.zeros((2, 3072), np.uint8)
    batch = {"labels out of range": {b"data": data, b"labels": [0, 10]},
             "labels not integers": {b"data": data, b"labels": [0.5, 1.0]},
             "strided view": {b"data": StridedView(), b"labels": [0] * 150000}}.get(content)
    (directory / "test_batch").write_bytes(pickle.dumps(batch, protocol=2) if batch else content)
    with pytest.raises(ValueError, match=f"{directory / 'test_batch'}.*({match})"):
        CIFAR10(root=tmp_path, train=False)


# -- ImageFolder -----------------------------------------------------------------------------------------------
def test_image_folder_reads_a_tree_of_pngs(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="ImageFolder needs Pillow")
    colours = {"cat": (255, 0, 0), "dog": (0, 0, 255)}
    for name, colour in colours.items():
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.new("RGB", (6, 4), colour).save(tmp_path / name / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    folder = ImageFolder(tmp_path)
    assert folder.classes == ["cat", "dog"] and len(folder) == 4 and folder.targets.tolist() == [0, 0, 1, 1]
    image, label = folder[3]
    assert image.shape == (3, 4, 6) and image.dtype == np.float32 and label == 1
    assert np.array_equal(image[:, 0, 0], [0, 0, 1])
    images, labels = next(iter(DataLoader(folder, batch_size=4)))
    assert images.shape == (4, 3, 4, 6) and labels.numpy().tolist() == [0, 0, 1, 1]


def test_importing_minitl_data_loads_no_image_library():
    code = "import sys, minitl.data; assert 'PIL' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_image_folder_refuses_empty_classes_and_names_unreadable_images(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image", reason="ImageFolder needs Pillow")
    for name in ("cat", "dog", "empty"):
        (tmp_path / name).mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    Image.new("RGB", (6, 4), (255, 0, 0)).save(tmp_path / "cat" / "a.png")
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "dog" / "big.png")
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty"):
        ImageFolder(tmp_path)
    (tmp_path / "empty" / "notes.txt").unlink()
    (tmp_path / "empty").rmdir()

    folder = ImageFolder(tmp_path)
    with pytest.raises(ValueError, match=f"images of different sizes in one batch: {tmp_path / 'dog' / 'big.png'} "
                                         r"is \(3, 8, 8\), .*a.png is \(3, 4, 6\) .*transforms.Resize"):
        next(iter(DataLoader(folder, batch_size=2)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 8x8 = 64 pixels: more than Pillow is allowed to decode
    with pytest.raises(ValueError, match=f"cannot read image {tmp_path / 'dog' / 'big.png'}: DecompressionBomb"):
        folder[1]
    monkeypatch.undo()

    noise = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "cat" / "a.png")
    png = (tmp_path / "cat" / "a.png").read_bytes()
    (tmp_path / "cat" / "a.png").write_bytes(png[:3 * len(png) // 4])  # truncated
    with pytest.raises(ValueError, match=f"cannot read image {tmp_path / 'cat' / 'a.png'}: OSError"):
        folder[0]
    (tmp_path / "cat" / "a.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=f"cannot read image {tmp_path / 'cat' / 'a.png'}: UnidentifiedImageError"):
        folder[0]
