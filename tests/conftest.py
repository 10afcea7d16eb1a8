import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests pin the thread count (gancourse.threads would otherwise follow the machine's load, and a number that
# depends on the count could move with whatever else runs); kernels that nbval starts inherit it.
os.environ.setdefault("GANCOURSE_THREADS", str(min(2, os.cpu_count() or 1)))
torch.set_num_threads(int(os.environ["GANCOURSE_THREADS"]))
# Kernels that nbval starts inherit this: progress bars print a line every 30 s, not a stream of updates.
os.environ.setdefault("TQDM_MININTERVAL", "30")
os.environ.setdefault("GANCOURSE_PROGRESS", "text")   # plain-text bars in nbval and papermill kernels


@pytest.fixture
def shared_data():
    """The real data copies beside the checkout (../shared/data), present here and in CI."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")   # Debian's chromium, chromium-driver


def chromium(profile_dir, flags):
    """A headless Debian chromium driven by selenium (tests/test_browser.py, tests/test_site_browser.py)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (*flags, f"--user-data-dir={profile_dir}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
