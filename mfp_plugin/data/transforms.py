"""Standard image transforms (torchvision v2) for training and evaluation.

Train: random crop (with zero padding, or random-resized for ImageFolder) and
horizontal flip; eval: resize/center-crop to the model's input size. Both end
with normalization by the model's ``pretrained_cfg`` mean/std.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

__all__ = ["build_transform", "cfg_normalization"]


def _v2():
    from torchvision.transforms import v2
    return v2


def cfg_normalization(cfg: Optional[dict], default_mean: Sequence[float],
                      default_std: Sequence[float]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) from a model ``pretrained_cfg`` dict, else the given defaults."""
    cfg = cfg or {}
    mean = cfg.get("mean") or default_mean
    std = cfg.get("std") or default_std
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def build_transform(*, train: bool, input_size: Sequence[int], mean: Sequence[float],
                    std: Sequence[float], kind: str = "small", augment: bool = True,
                    crop_padding: Optional[int] = None, hflip: bool = True):
    """Build a transform that maps a PIL image or uint8 ``[C,H,W]`` tensor to a normalized float tensor.

    kind="small" (CIFAR/Fashion-MNIST, images already at input size):
        train: RandomCrop(size, padding=size//8 (4 for 32 px, 3 for 28 px)) + RandomHorizontalFlip
        eval:  Resize(size) only if needed
    kind="folder" (ImageFolder, arbitrary sizes):
        train: RandomResizedCrop(size, scale=(0.35, 1)) + RandomHorizontalFlip
        eval:  Resize(size/0.875) + CenterCrop(size)
    ``input_size`` is (C, H, W); C=1 converts to greyscale, C=3 to RGB.
    """
    v2 = _v2()
    c, h, w = (int(v) for v in input_size)
    mean, std = _fit_channels(mean, c), _fit_channels(std, c)
    ops = [v2.ToImage()]
    if c == 1:
        ops.append(v2.Grayscale(num_output_channels=1))
    elif c == 3:
        ops.append(_ToRGB())
    if kind == "small":
        ops.append(_ResizeIfNeeded((h, w)))
        if train and augment:
            pad = max(h, w) // 8 if crop_padding is None else crop_padding
            ops.append(v2.RandomCrop((h, w), padding=pad))
            if hflip:
                ops.append(v2.RandomHorizontalFlip())
    elif kind == "folder":
        if train and augment:
            ops.append(v2.RandomResizedCrop((h, w), scale=(0.35, 1.0), antialias=True))
            if hflip:
                ops.append(v2.RandomHorizontalFlip())
        else:
            ops += [v2.Resize(int(round(min(h, w) / 0.875)), antialias=True), v2.CenterCrop((h, w))]
    else:
        raise ValueError(f"unknown transform kind {kind!r}; use 'small' or 'folder'")
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(ops)


def _fit_channels(values: Sequence[float], c: int) -> list[float]:
    """Per-channel statistics for ``c`` channels (3 -> 1: their mean; 1 -> 3: repeated)."""
    values = [float(v) for v in values]
    if len(values) == c:
        return values
    if len(values) == 1:
        return values * c
    if c == 1:
        return [sum(values) / len(values)]
    raise ValueError(f"{len(values)} normalization values do not fit {c} input channels")


class _ToRGB(torch.nn.Module):
    """Repeat a 1-channel image to 3 channels; drop alpha from 4-channel images."""

    def forward(self, img):
        if img.shape[-3] == 1:
            return img.expand(*img.shape[:-3], 3, *img.shape[-2:]).clone()
        if img.shape[-3] == 4:
            return img[..., :3, :, :]
        return img


class _ResizeIfNeeded(torch.nn.Module):
    def __init__(self, size):
        super().__init__()
        self.size = tuple(size)

    def forward(self, img):
        if tuple(img.shape[-2:]) == self.size:
            return img
        from torchvision.transforms import v2
        return v2.functional.resize(img, list(self.size), antialias=True)


class TensorCropFlipNormalize:
    """Pure-torch train transform for uint8 ``[C,H,W]`` tensors (no torchvision import):
    zero-pad by ``padding``, random ``H x W`` crop, random horizontal flip (p=0.5), then
    ``(x/255 - mean)/std``. Draws from torch's global RNG (seeded runs are reproducible)."""

    def __init__(self, padding: int, mean: Sequence[float], std: Sequence[float], hflip: bool = True):
        self.padding = int(padding)
        self.hflip = hflip
        self.mean = torch.tensor([float(m) for m in mean]).view(-1, 1, 1)
        self.std = torch.tensor([float(s) for s in std]).view(-1, 1, 1)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        c, h, w = img.shape
        p = self.padding
        if p > 0:
            padded = img.new_zeros((c, h + 2 * p, w + 2 * p))
            padded[:, p:p + h, p:p + w] = img
            i, j = (int(v) for v in torch.randint(0, 2 * p + 1, (2,)))
            img = padded[:, i:i + h, j:j + w]
        if self.hflip and bool(torch.rand(()) < 0.5):
            img = img.flip(-1)
        return (img.to(torch.float32) / 255.0 - self.mean) / self.std

    def __repr__(self) -> str:
        return f"TensorCropFlipNormalize(padding={self.padding}, hflip={self.hflip})"
