"""Progress bars made for both worlds: widgets in JupyterLab, plain text lines in batch runs.

``bar(...)`` is ``tqdm.auto`` (an ipywidgets bar in a notebook) unless ``GANCOURSE_PROGRESS`` says
``text`` (what ``gancourse run``/papermill, nbval and CI set: one line every ``TQDM_MININTERVAL``
seconds, no widget JSON in executed notebooks; each bar's last line stays in the log) or ``off``.
Finished widget bars are removed, so a rerun leaves no empty strips behind.
"""
from __future__ import annotations

import os

PROGRESS_ENV = "GANCOURSE_PROGRESS"


def mode() -> str:
    value = os.environ.get(PROGRESS_ENV, "auto").lower()
    return value if value in ("auto", "text", "off") else "auto"


def bar(iterable=None, *, total=None, desc: str = "", enabled: bool = True, **kw):
    """A tqdm bar: widget or text by :func:`mode`; ``enabled=False`` or mode ``off`` shows nothing."""
    m = mode()
    if m == "text":
        from tqdm import tqdm
    else:
        from tqdm.auto import tqdm
    kw.setdefault("leave", m == "text")      # a log keeps each bar's last line; a widget goes when done
    kw.setdefault("mininterval", float(os.environ.get("TQDM_MININTERVAL", 0.5 if m == "auto" else 30)))
    if m == "text":
        kw.setdefault("ascii", True)
        kw.setdefault("ncols", 100)
    else:
        kw.setdefault("dynamic_ncols", True)
    return tqdm(iterable, total=total, desc=desc, disable=not enabled or m == "off", **kw)
