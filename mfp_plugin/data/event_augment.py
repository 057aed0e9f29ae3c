"""Training augmentation for event frames: one random translation for all ``T`` frames.

No flips: DVS128 Gesture has left- and right-hand classes, and a flipped
saccade is not an N-MNIST saccade.

>>> import torch
>>> x = torch.zeros(3, 2, 5, 5); x[:, :, 2, 2] = 1
>>> y = RandomTranslate(max_shift=1)(x)
>>> y.shape, float(y.sum()) == float(x.sum())     # one pixel, moved by at most 1 (never out of frame)
(torch.Size([3, 2, 5, 5]), True)
"""
from __future__ import annotations

import torch

__all__ = ["RandomTranslate", "default_max_shift"]


def default_max_shift(height: int) -> int:
    """The augmentation's shift bound: ``height // 16`` pixels, at least 1 (34 px: 2, 128 px: 8)."""
    return max(1, int(height) // 16)


class RandomTranslate:
    """Shift ``[T, C, H, W]`` frames by ``(dy, dx)``, each uniform in ``[-max_shift, max_shift]``.

    The same shift applies to every time step; pixels shifted in are zero
    (events leaving the sensor are lost, as they would be). Draws from torch's
    global RNG, so seeded runs are reproducible.
    """

    def __init__(self, max_shift: int):
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
        self.max_shift = max_shift

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4:
            raise ValueError(f"RandomTranslate expects [T, C, H, W] frames, got shape {tuple(frames.shape)}")
        s = self.max_shift
        dy, dx = (int(v) for v in torch.randint(-s, s + 1, (2,)))
        return shift_frames(frames, dy, dx)

    def __repr__(self) -> str:
        return f"RandomTranslate(max_shift={self.max_shift})"


def shift_frames(frames: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., i, j] = frames[..., i - dy, j - dx]`` where that index exists, else 0."""
    out = torch.zeros_like(frames)
    h, w = frames.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = frames[..., src_y, src_x]
    return out
