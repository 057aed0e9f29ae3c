"""pytest set-up shared by the tests and the docstring examples (``--doctest-modules``)."""
import os

import pytest
import torch

# Quick and deterministic on the 2-core CI machine; docstring examples see the same seed as tests.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed_doctests(request):
    if isinstance(request.node, pytest.DoctestItem):
        torch.manual_seed(0)
