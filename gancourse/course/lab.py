"""``make lab``: JupyterLab on the course, with its kernel, widgets for progress, as root too."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .build import ROOT


LAB_SETTINGS = {   # JupyterLab defaults for the course: no news pop-up over the notebook, no update check
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def lab_settings() -> Path:
    """Write the course's JupyterLab setting overrides into this environment (idempotent)."""
    path = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    if any(current.get(k) != v for k, v in LAB_SETTINGS.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**current, **LAB_SETTINGS}, indent=1))
    return path


def lab_command(port: int = 8888, token: str | None = None, open_browser: bool | None = None) -> list[str]:
    """How ``make lab`` starts JupyterLab: the course's root as the file browser's root, the first
    notebook open, widgets for progress; as root too (containers); no browser launch on a machine
    without a display (it prints the address instead). Writes the course's lab settings first."""
    lab_settings()
    if open_browser is None:
        open_browser = bool(os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32"))
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={ROOT}", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if not open_browser:
        cmd.append("--no-browser")
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    return cmd + ["notebooks/00_setup.ipynb"]


def lab(port: int = 8888) -> int:
    env = dict(os.environ)
    env.pop("GANCOURSE_PROGRESS", None)        # widgets in the browser
    print("JupyterLab on the course; open notebooks/00_setup.ipynb first. Stop with Ctrl-C.", flush=True)
    try:
        return subprocess.call(lab_command(port), cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0
