"""Former home of the CIFAR and ImageFolder loaders, kept so that existing imports work.

CIFAR lives in :mod:`mfp_plugin.data.cifar` (every file md5-checked before it
is unpickled), ImageFolder in :mod:`mfp_plugin.data.image_folder`.
"""
from __future__ import annotations

from .cifar import (CIFAR10, CIFAR10_MEAN, CIFAR10_STD, CIFAR100, CIFAR100_MEAN,  # noqa: F401
                    CIFAR100_STD, cifar)
from .image_folder import image_folder  # noqa: F401
from .roots import default_data_root  # noqa: F401

__all__ = ["CIFAR10", "CIFAR100", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD",
           "cifar", "image_folder", "default_data_root"]
