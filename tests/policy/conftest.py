"""Policy tests run small networks on few environments: one torch thread is fastest for them
(and leaves the other core to whatever else runs)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test on one torch thread, then restore the previous setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
