"""Per-sample image transforms on NumPy arrays, with torchvision's names.

Images are channels-first ``(C, H, W)`` float arrays (float32 after
``ToTensor``); every transform keeps their dtype. ``ToTensor`` is the bridge
from stored pixels, ``(H, W)`` or ``(H, W, C)`` uint8, to that layout; the
DataLoader turns the stacked arrays into minitl tensors. The random transforms
draw from minitl's shared generator, so ``tl.manual_seed`` makes them repeat.
"""
import numpy as np

from minitl import random


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self):
        return f"Compose({self.transforms})"


class ToTensor:
    """(H, W) or (H, W, C) pixels -> (C, H, W) float32; uint8 is scaled from 0..255 to [0, 1].

    As torchvision's ToTensor, other dtypes are converted without scaling, but
    the result is a NumPy array (the DataLoader makes the tensors).
    """

    def __call__(self, image):
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[None]
        elif image.ndim == 3:
            image = image.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor expects an (H, W) or (H, W, C) image, got shape {image.shape}")
        scaled = image.astype(np.float32) / 255 if image.dtype == np.uint8 else image.astype(np.float32)
        return np.ascontiguousarray(scaled)


class Normalize:
    """(image - mean) / std per channel; one value each applies to all channels."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"Normalize needs as many means as stds, got {self.mean.size} and {self.std.size}")

    def __call__(self, image):
        if len(self.mean) not in (1, image.shape[0]):
            raise ValueError(f"Normalize has {len(self.mean)} channel statistics, the image {image.shape[0]} channels")
        return (image - self.mean) / self.std


class RandomHorizontalFlip:
    """Mirror left-right with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, image):
        return image[..., ::-1].copy() if random.generator().random() < self.p else image


class RandomCrop:
    """A random size (h, w) window, after zero-padding each border by `padding` pixels."""

    def __init__(self, size, padding=0):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding

    def __call__(self, image):
        p = self.padding
        if p:
            image = np.pad(image, ((0, 0), (p, p), (p, p)))
        (h, w), (height, width) = self.size, image.shape[-2:]
        if h > height or w > width:
            raise ValueError(f"RandomCrop size {self.size} exceeds the padded image size {(height, width)}")
        top = random.generator().integers(0, height - h + 1)
        left = random.generator().integers(0, width - w + 1)
        return image[..., top:top + h, left:left + w].copy()


class ColorJitter:
    """Random brightness, then contrast, of an image in [0, 1].

    Brightness multiplies by a factor drawn from [max(0, 1 - brightness),
    1 + brightness]; contrast moves pixels away from (factor > 1) or towards
    the image's mean by a factor drawn likewise. Results are clipped to
    [0, 1]. Unlike torchvision, the order is fixed and the contrast pivot is
    the mean over all channels (not the grey-level mean).
    """

    def __init__(self, brightness=0, contrast=0):
        self.brightness, self.contrast = brightness, contrast

    @staticmethod
    def _factor(amount):
        return random.generator().uniform(max(0, 1 - amount), 1 + amount)

    def __call__(self, image):
        if self.brightness:
            image = np.clip(image * self._factor(self.brightness), 0, 1)
        if self.contrast:
            mean = image.mean()
            image = np.clip((image - mean) * self._factor(self.contrast) + mean, 0, 1)
        return image


class Resize:
    """Bilinear resampling to `size`: (h, w), or an int for the shorter side (keeping the aspect ratio).

    Pixel centres are aligned as in PyTorch's ``interpolate(mode="bilinear",
    align_corners=False)``, without antialiasing (which only matters when
    shrinking).
    """

    def __init__(self, size):
        self.size = size

    def _output_size(self, height, width):
        if not isinstance(self.size, int):
            return tuple(self.size)
        short, long = sorted((height, width))
        scaled = int(self.size * long / short)
        return (self.size, scaled) if height <= width else (scaled, self.size)

    def __call__(self, image):
        if image.dtype.kind != "f":
            raise TypeError(f"Resize expects a float image (apply ToTensor first), got {image.dtype}")
        out_h, out_w = self._output_size(*image.shape[-2:])
        top, bottom, down = _bilinear_taps(image.shape[-2], out_h, image.dtype)
        left, right, across = _bilinear_taps(image.shape[-1], out_w, image.dtype)
        rows = image[..., top, :] * (1 - down)[:, None] + image[..., bottom, :] * down[:, None]
        return rows[..., left] * (1 - across) + rows[..., right] * across


def _bilinear_taps(size_in, size_out, dtype):
    """For each output position along an axis: the two input neighbours and the second one's weight."""
    source = np.maximum((np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5, 0)
    first = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
    second = np.minimum(first + 1, size_in - 1)
    return first, second, (source - first).astype(dtype)


class GrayscaleToRGB:
    """(1, H, W) -> (3, H, W) by repeating the channel (grey digits into an RGB network)."""

    def __call__(self, image):
        if image.shape[0] != 1:
            raise ValueError(f"GrayscaleToRGB expects one channel, got shape {image.shape}")
        return np.repeat(image, 3, axis=0)
