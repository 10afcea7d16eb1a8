"""The learner's path in a real browser (``make test-browser``): JupyterLab started as ``make lab``
starts it (``lab.lab_command``), Debian's chromium driven by selenium, notebook 00 opened
(``make test-browser NB=04_pggan_swd`` for another), Run All through the menu, no error output, a widget
progress bar seen, the notebook saved through the UI; the saved notebook must leave the project's tests
green and the commit clean.

Runs only when selected (``pytest -m browser``), in a snapshot of the working tree (a git clone whose
HEAD is the current working tree). The screenshot goes to runs/browser/lab_NOTEBOOK.png."""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from conftest import CHROMEDRIVER, CHROMIUM, ROOT, chromium

NOTEBOOK = f"notebooks/{os.environ.get('GANCOURSE_BROWSER_NOTEBOOK', '00_setup')}.ipynb"   # make test-browser NB=04_pggan_swd
KERNEL = "Python 3 (gancourse)"
SHOT = ROOT / "runs" / "browser" / f"lab_{Path(NOTEBOOK).stem}.png"
RUN_TIMEOUT = 360
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000")
RUN_ALL = '.lm-Menu-item[data-command="runmenu:run-all"], .lm-Menu-item[data-command="notebook:run-all-cells"]'
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^-{20,}\s*\n\s*\w+(Error|Exception|Interrupt)\b", re.M)
PROGRESS_LINE = re.compile(r"\d+%\|.*\|\s*\d+/")          # a tqdm text bar: " 45%|####5     | 9/20 [...]"
# Everything the test looks at, read from the page in one go.
STATE_JS = """const q = s => [...document.querySelectorAll(s)];
return {dialogs: q('.jp-Dialog').map(e => e.innerText),
        kernel: document.querySelector('.jp-NotebookPanel .jp-Toolbar-kernelName')?.innerText.trim(),
        status: document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator')?.dataset.status,
        cells: q('.jp-Notebook .jp-Cell').length,
        prompts: q('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt').map(e => e.textContent.trim()),
        widgets: q('.jp-Notebook .jupyter-widgets, .jp-Notebook .widget-hprogress').length,
        stderr: q('.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
                  .map(e => e.textContent)};"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"),
]


@pytest.fixture(autouse=True)
def only_when_selected(request):
    """Not part of a plain `pytest` (`make test`): a few minutes, and a browser."""
    if not re.search(r"(?<!not )\bbrowser\b", request.config.getoption("markexpr") or ""):
        pytest.skip("runs only when selected: make test-browser (pytest -m browser)")


def _sh(*cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, **kw).stdout


@pytest.fixture
def course(tmp_path):
    """A git clone of this checkout whose HEAD is its current working tree (tracked and untracked files)."""
    clone = tmp_path / "course"
    _sh("git", "clone", "-q", str(ROOT), str(clone), cwd=tmp_path)
    for rel in filter(None, _sh("git", "ls-files", "-z", cwd=clone).split("\0")):
        (clone / rel).unlink(missing_ok=True)
    for rel in filter(None, _sh("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT).split("\0")):
        if (ROOT / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, clone / rel)
    _sh("git", "add", "-A", cwd=clone)
    _sh("git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "--allow-empty",
        "-m", "snapshot of the working tree", cwd=clone)
    return clone


@pytest.fixture
def lab(course, tmp_path):
    """JupyterLab on the clone, by the command line the clone's own ``make lab`` runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("GANCOURSE_PROGRESS", "TQDM_MININTERVAL")}
    env["PYTHONPATH"] = str(course)                       # the kernel imports the clone's gancourse
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")   # no saved workspace, no user settings but one:
    tracker = tmp_path / "jupyter-config" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)                           # every cell in the page (JupyterLab 4 renders only the
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))   # visible ones)
    code = ("import json; from gancourse.course import lab; "
            f"print(json.dumps(lab.lab_command(port={port}, token={token!r}, open_browser=False)))")
    cmd = json.loads(_sh(sys.executable, "-c", code, cwd=course, env=env))
    assert cmd[0] == sys.executable and f"--ServerApp.root_dir={course}" in cmd, cmd
    log = tmp_path / "lab.log"
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            assert proc.poll() is None, "JupyterLab exited:\n" + log.read_text()[-4000:]
            try:
                opener.open(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("JupyterLab did not answer in 120 s:\n" + log.read_text()[-4000:])
        yield SimpleNamespace(url=url, token=token, log=log)
    finally:
        try:   # a clean shutdown stops the kernels too
            opener.open(urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST"), timeout=10)
            proc.wait(30)
        except Exception:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "chromium-profile", FLAGS)
    yield driver
    driver.quit()


def menu(driver, title, item_css):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    next(e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text == title).click()
    WebDriverWait(driver, 10).until(EC.element_to_be_clickable((By.CSS_SELECTOR, item_css))).click()


def test_run_all_of_00_setup_in_jupyterlab(course, lab, browser):
    started = time.monotonic()
    browser.get(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
    state = lambda: browser.execute_script(STATE_JS)

    deadline = time.monotonic() + 180            # the page loads, the kernel starts without asking
    while (s := state())["kernel"] != KERNEL or s["status"] != "idle":
        assert not s["dialogs"], f"a dialog appeared on opening (kernel selection?): {s['dialogs']}"
        assert time.monotonic() < deadline, f"kernel not idle in 180 s: {s['kernel']!r} {s['status']!r}"
        time.sleep(1)
    assert s["cells"] == len(nbformat.read(course / NOTEBOOK, 4).cells), "not every cell is on the page"

    menu(browser, "Run", RUN_ALL)
    run_start, widget_polls = time.monotonic(), 0
    saw_widget, quiet, deadline = False, 0, run_start + RUN_TIMEOUT
    while True:                                   # until idle, nothing queued, for 3 polls in a row
        s = state()
        saw_widget |= s["widgets"] > 0
        widget_polls += s["widgets"] > 0
        assert not s["dialogs"], f"a dialog appeared while running: {s['dialogs']}"
        errors = [t for t in s["stderr"] if TRACEBACK.search(t)]
        assert not errors, "a cell raised:\n" + "\n\n".join(errors)[-6000:]
        ran = any(p != "[ ]:" for p in s["prompts"])
        quiet = quiet + 1 if ran and s["status"] == "idle" and "[*]:" not in s["prompts"] else 0
        if quiet >= 3:
            break
        assert time.monotonic() < deadline, f"Run All not done in {RUN_TIMEOUT} s: {s['status']} {s['prompts']}"
        time.sleep(1)
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in s["prompts"]), f"cells left unexecuted: {s['prompts']}"
    other = [t for t in s["stderr"] if not all(PROGRESS_LINE.search(ln) for ln in t.splitlines() if ln.strip())]
    assert not other, "stderr output (pink strips) on the page:\n" + "\n---\n".join(other)[-6000:]
    assert saw_widget, "no ipywidgets progress bar appeared while the cells ran"
    print(f"Run All: {time.monotonic() - run_start:.0f} s, {len(s['prompts'])} code cells, widgets seen in "
          f"{widget_polls} polls, {len(s['stderr'])} progress-bar stderr outputs left")

    menu(browser, "File", '.lm-Menu-item[data-command="docmanager:save"]')
    deadline = time.monotonic() + 30
    while not any(c.get("outputs") for c in nbformat.read(course / NOTEBOOK, 4).cells):
        assert time.monotonic() < deadline, "the saved notebook has no outputs on disk"
        time.sleep(1)
    nb = nbformat.read(course / NOTEBOOK, 4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "saved notebook: a code cell without an execution count"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], "saved notebook has errors"
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOT))
    print(f"browser part: {time.monotonic() - started:.0f} s; screenshot {SHOT}")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GANCOURSE_COMMIT")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/test_notebooks.py::test_structure",
                        "tests/test_notebooks.py::test_committed_notebooks_match_their_sources",
                        "tests/test_cli.py", "tests/test_exercises.py"],
                       cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, "the project's tests fail with the saved notebook:\n" + r.stdout[-6000:] + r.stderr[-2000:]
    print("in the clone:", r.stdout.strip().splitlines()[-1])
    commit = _sh(sys.executable, "-c", "from gancourse.course.results import git_commit; print(git_commit())",
                 cwd=course, env=env).strip()
    assert commit != "unknown" and not commit.endswith("-dirty"), f"git_commit() after saving: {commit}"
