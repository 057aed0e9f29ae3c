"""A tiny Fashion-MNIST-format folder for CLI and script tests (random pixels, labels 0..9 cycling)."""
import numpy as np

from mfp_plugin.data import write_idx


def write_fake_fmnist(root, n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return root
