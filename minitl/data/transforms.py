"""Per-sample image transforms on NumPy arrays, with torchvision's names.

Images are channels-first ``(C, H, W)`` float arrays (float32 after
``ToTensor``); every transform keeps their dtype. ``ToTensor`` is the bridge
from stored pixels, ``(H, W)`` or ``(H, W, C)`` uint8, to that layout; the
DataLoader turns the stacked arrays into minitl tensors. The random transforms
draw from minitl's shared generator, so ``tl.manual_seed`` makes them repeat.
"""
import math

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


# -- geometric augmentation: random affine maps and random resized crops ----------------------------------
def inverse_affine_matrix(angle, translate, scale, shear, center=(0.0, 0.0)):
    """torchvision's ``_get_inverse_affine_matrix``: the 2x3 map from output to input pixel coordinates.

    The forward map (input -> output, coordinates relative to `center`) is

        M = T(translate) C R(angle) S(scale) SHy(shear_y) SHx(shear_x) C^-1

    with R(a) = [[cos a, -sin a], [sin a, cos a]] (angles in degrees; with y
    pointing down the image, a positive angle turns the picture clockwise),
    SHx(s) = [[1, -tan s], [0, 1]] and SHy(s) = [[1, 0], [-tan s, 1]]. Written
    out, R SHy SHx = [[a, b], [c, d]] with

        a = cos(r - sy) / cos(sy)      b = -cos(r - sy) tan(sx) / cos(sy) - sin(r)
        c = sin(r - sy) / cos(sy)      d = -sin(r - sy) tan(sx) / cos(sy) + cos(r)

    whose determinant is 1, so its inverse is [[d, -b], [-c, a]]; divided by
    the scale and composed with the inverse translations this gives
    M^-1 = C RSS^-1 C^-1 T^-1 as (m0, m1, m2, m3, m4, m5): input x = m0 x' + m1 y' + m2,
    input y = m3 x' + m4 y' + m5.
    """
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    (cx, cy), (tx, ty) = center, translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] = m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] = m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _range(value, name, centred_on=0.0):
    """A number v as (centre - v, centre + v); a pair as it is."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{name}: a single number must be non-negative, got {value}")
        return (centred_on - value, centred_on + value)
    if len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair (low, high), got {value!r}")
    return tuple(float(v) for v in value)


def warp_affine(image, matrix, interpolation="nearest", fill=0.0):
    """Sample a (C, H, W) image at ``matrix`` (output -> input, pixel coordinates about the image centre).

    As torchvision's affine on tensors: pixel centres sit at x - (W - 1) / 2,
    y - (H - 1) / 2 about the centre; 'nearest' rounds to the closest input
    pixel, 'bilinear' mixes the four around it; any neighbour outside the
    image counts as `fill`.
    """
    _, h, w = image.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    xs, ys = xs - (w - 1) / 2, ys - (h - 1) / 2
    src_x = matrix[0] * xs + matrix[1] * ys + matrix[2] + (w - 1) / 2
    src_y = matrix[3] * xs + matrix[4] * ys + matrix[5] + (h - 1) / 2

    def pixel(rows, cols):
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        values = image[:, np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]
        return np.where(inside, values, image.dtype.type(fill))

    if interpolation == "nearest":
        return pixel(np.rint(src_y).astype(np.int64), np.rint(src_x).astype(np.int64))
    if interpolation != "bilinear":
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    top, left = np.floor(src_y).astype(np.int64), np.floor(src_x).astype(np.int64)
    down, across = (src_y - top).astype(image.dtype), (src_x - left).astype(image.dtype)
    return ((pixel(top, left) * (1 - across) + pixel(top, left + 1) * across) * (1 - down)
            + (pixel(top + 1, left) * (1 - across) + pixel(top + 1, left + 1) * across) * down)


class RandomAffine:
    """A random rotation, translation, scaling and shear of a (C, H, W) image, with torchvision's parameters.

    degrees: the angle is drawn from (-degrees, degrees), or from a (min, max) pair.
    translate: (a, b): horizontal shift drawn from (-a W, a W), vertical from
        (-b H, b H), rounded to whole pixels.
    scale: (min, max) to draw the scale factor from (default: 1).
    shear: s draws an x-shear from (-s, s); (min, max) likewise; (x0, x1, y0, y1)
        draws an x-shear and a y-shear (degrees).
    interpolation: 'nearest' (torchvision's default) or 'bilinear'; fill: the
        value of pixels that come from outside the image.
    The map is ``inverse_affine_matrix`` about the image centre (see there).
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest", fill=0):
        self.degrees = _range(degrees, "degrees")
        if translate is not None and (len(translate) != 2 or not all(0 <= t <= 1 for t in translate)):
            raise ValueError(f"translate must be a pair of fractions in [0, 1], got {translate!r}")
        if scale is not None and (len(scale) != 2 or not 0 < scale[0] <= scale[1]):
            raise ValueError(f"scale must be a pair 0 < min <= max, got {scale!r}")
        if shear is not None and not isinstance(shear, (int, float)) and len(shear) == 4:
            self.shear = (_range(shear[:2], "shear"), _range(shear[2:], "shear"))
        else:
            self.shear = None if shear is None else (_range(shear, "shear"), None)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.translate, self.scale, self.interpolation, self.fill = translate, scale, interpolation, fill

    def get_params(self, height, width):
        """(angle, (tx, ty), scale, (shear_x, shear_y)) drawn as torchvision draws them."""
        rng = random.generator()
        angle = rng.uniform(*self.degrees)
        translations = (0, 0)
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            translations = (round(rng.uniform(-max_dx, max_dx)), round(rng.uniform(-max_dy, max_dy)))
        scale = 1.0 if self.scale is None else rng.uniform(*self.scale)
        shear = (0.0, 0.0)
        if self.shear is not None:
            x_range, y_range = self.shear
            shear = (rng.uniform(*x_range), 0.0 if y_range is None else rng.uniform(*y_range))
        return angle, translations, scale, shear

    def __call__(self, image):
        if image.ndim != 3:
            raise ValueError(f"RandomAffine expects a (C, H, W) image, got shape {image.shape}")
        matrix = inverse_affine_matrix(*self.get_params(*image.shape[-2:]))
        return warp_affine(image, matrix, self.interpolation, self.fill)


class RandomResizedCrop:
    """A crop of random area and aspect ratio, resized to `size` (torchvision's Inception-style crop).

    The crop covers a fraction of the image drawn from `scale` and has an
    aspect ratio (width / height) drawn log-uniformly from `ratio`; up to 10
    draws are tried for one that fits, else the centre crop closest to
    `ratio` is taken, as in torchvision. The crop is resized bilinearly
    (``Resize``, without antialiasing).
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if not (0 < scale[0] <= scale[1]) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"scale and ratio must be pairs 0 < min <= max, got scale={scale}, ratio={ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.resize = Resize(self.size)

    def get_params(self, height, width):
        """(top, left, h, w) of the crop, drawn as torchvision draws it."""
        rng = random.generator()
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w, h = round(math.sqrt(target_area * aspect)), round(math.sqrt(target_area / aspect))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        if width / height < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif width / height > self.ratio[1]:
            w, h = round(height * self.ratio[1]), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, image):
        top, left, h, w = self.get_params(*image.shape[-2:])
        return self.resize(image[..., top:top + h, left:left + w])
