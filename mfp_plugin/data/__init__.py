"""Datasets for mfp-plugin: Fashion-MNIST (local IDX files + a bundled test subset),
CIFAR-10/100 and ImageFolder (through torchvision); temporal data: sequential
Fashion-MNIST (``fmnist-seq``), the event datasets N-MNIST, CIFAR10-DVS and
DVS128 Gesture, and ``fmnist-dvs``, Fashion-MNIST through simulated N-MNIST saccades.

>>> from mfp_plugin.data import canonical_name, get_dataset
>>> test = get_dataset("fmnist-bundled")              # 2,000 test images, no download
>>> len(test), tuple(test[0][0].shape)
(2000, (1, 28, 28))
>>> canonical_name("Fashion-MNIST")
'fmnist'
>>> x, y = get_dataset("fmnist-dvs-bundled", T=10)[0]  # 1,000 test images' events, no generation
>>> tuple(x.shape), x.dtype
((10, 2, 34, 34), torch.float32)

With the files on disk (see each module for the layouts)::

    train = get_dataset("fmnist", "train")             # /usr/share/datasets/fashion-mnist, $MFP_DATA
    c10 = get_dataset("cifar10", "train", root="/data", cfg=model.pretrained_cfg)
    imgs = get_dataset("imagefolder", "val", root="/data/imagenette")
    nm = get_dataset("nmnist", "train", root="/data/N-MNIST", T=10)   # [10, 2, 34, 34] frames
    seq = get_dataset("fmnist-seq", "test")                            # [28, 28]: 28 steps of 28 features

A ``root`` you name is the only place looked at; missing files raise
:class:`DatasetNotFoundError` (a ``FileNotFoundError``) naming it. CIFAR batch
files are pickles and are md5-checked before anything is unpickled
(:class:`DataChecksumError` otherwise); malformed IDX files raise
:class:`IDXError` (a ``ValueError``).
"""
from __future__ import annotations

from .bundled import BundledFashionMNIST, bundled_fmnist_path, load_bundled_fmnist
from .cifar import CIFAR10, CIFAR10_MEAN, CIFAR10_STD, CIFAR100, CIFAR100_MEAN, CIFAR100_STD
from .cifar10_dvs import CIFAR10DVS
from .dvs_gesture import DVSGesture
from .errors import DataChecksumError, DatasetNotFoundError
from .factory import get_dataset
from .fashion_mnist import (FMNIST_CLASSES, FMNIST_MEAN, FMNIST_STD, FashionMNIST,
                            find_fashion_mnist_files, load_fashion_mnist_arrays)
from .fmnist_dvs import FashionMNISTDVS, bundled_fmnist_dvs
from .framing import events_to_frames
from .idx import IDXError, read_idx, write_idx
from .nmnist import NMNIST
from .registry import ALIASES, DATASETS, canonical_name, dataset_info, item_shape
from .sequential import RowSequence
from .transforms import build_transform, cfg_normalization

__all__ = [
    "DATASETS", "ALIASES", "dataset_info", "item_shape", "get_dataset", "canonical_name",
    "NMNIST", "CIFAR10DVS", "DVSGesture", "FashionMNISTDVS", "bundled_fmnist_dvs", "RowSequence",
    "events_to_frames",
    "FashionMNIST", "BundledFashionMNIST", "load_bundled_fmnist", "bundled_fmnist_path",
    "CIFAR10", "CIFAR100", "read_idx", "write_idx", "IDXError", "find_fashion_mnist_files",
    "load_fashion_mnist_arrays", "build_transform", "cfg_normalization",
    "DatasetNotFoundError", "DataChecksumError",
    "FMNIST_MEAN", "FMNIST_STD", "FMNIST_CLASSES",
    "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR100_MEAN", "CIFAR100_STD",
]
