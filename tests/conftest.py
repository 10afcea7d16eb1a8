import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

torch.set_num_threads(min(2, os.cpu_count() or 1))
# Kernels that nbval starts inherit this: progress bars print a line every 30 s, not a stream of updates.
os.environ.setdefault("TQDM_MININTERVAL", "30")
os.environ.setdefault("GANCOURSE_PROGRESS", "text")   # plain-text bars in nbval and papermill kernels


@pytest.fixture
def shared_data():
    """The real data copies beside the checkout (../shared/data), present here and in CI."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA
