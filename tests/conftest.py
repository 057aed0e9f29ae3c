import os
import warnings

import pytest
import torch

# Keep tests quick and deterministic on the 2-core CI machine.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
warnings.filterwarnings("ignore", category=FutureWarning, module=r"spikingjelly.*")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
