"""A BadNets backdoor (Gu et al. 2017): a small trigger patch that makes a network answer a chosen class.

The threat model: an attacker who supplies a pretrained network (or part of
its training data) stamps a trigger on a fraction of the training images and
relabels them to a target class, so the network learns "trigger -> target"
while staying accurate on clean images. A victim who downloads it and
transfers it to their own task never sees the trigger in their data, but
the backdoor features may survive in the layers they reuse.

    patch = np.ones((3, 3), np.float32)
    images, labels, poisoned = poison(images, labels, patch, fraction=0.1, target=0, rng=rng)
    triggered = stamp(test_images, patch)   # bottom-right corner, 1 pixel from the border by default
"""
import numpy as np


def trigger_position(image_shape, patch_shape, margin=1):
    """(top, left) of a patch placed `margin` pixels from the bottom-right corner of images of `image_shape`."""
    height, width = image_shape[-2:]
    patch_height, patch_width = patch_shape[-2:]
    top, left = height - margin - patch_height, width - margin - patch_width
    if top < 0 or left < 0:
        raise ValueError(f"a {patch_height}x{patch_width} patch with margin {margin} does not fit in "
                         f"{height}x{width} images")
    return top, left


def stamp(images, patch, position=None):
    """A copy of `images` (..., H, W) with `patch` (h, w) written over the pixels [top:top+h, left:left+w].

    position=(top, left); default: 1 pixel from the bottom-right corner. The
    patch replaces those pixels in every channel (a sticker, not a blend).
    """
    patch = np.asarray(patch, dtype=images.dtype)
    top, left = trigger_position(images.shape, patch.shape) if position is None else position
    height, width = patch.shape
    if not (0 <= top and top + height <= images.shape[-2] and 0 <= left and left + width <= images.shape[-1]):
        raise ValueError(f"a {height}x{width} patch at (top, left)={position} does not fit in "
                         f"{images.shape[-2]}x{images.shape[-1]} images")
    stamped = images.copy()
    stamped[..., top:top + height, left:left + width] = patch
    return stamped


def poison(images, labels, patch, fraction, target, rng, position=None):
    """(images, labels, poisoned indices): a random `fraction` of the images stamped and relabelled `target`.

    Copies; the inputs are unchanged. Images already of class `target` may be
    chosen too (as in BadNets: they teach the same rule).
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    poisoned = np.sort(rng.choice(len(images), size=round(fraction * len(images)), replace=False))
    images, labels = images.copy(), labels.copy()
    images[poisoned] = stamp(images[poisoned], patch, position)
    labels[poisoned] = target
    return images, labels, poisoned
