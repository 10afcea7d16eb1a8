"""What a student hands in, and what their feedback shows. Only regular files named as the released notebooks
are read (no link, folder or device is followed), each at most ``MAX_NOTEBOOK`` bytes and a valid notebook, so
one bad file is its student's status, never the class's; feedback shows no markup or script a student wrote,
and at most ``MAX_OUTPUTS`` bytes of output a notebook."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat

MAX_NOTEBOOK = 20 << 20                  # bytes of a submitted notebook
MAX_TEXT, MAX_OUTPUTS = 20_000, 2 << 20   # characters of one output, bytes of all outputs of a notebook in its feedback


def read_submission(folder: Path, names: list[str]) -> tuple[dict, list[str]]:
    """The notebooks a student submitted, as {name: notebook}, and what was wrong with the rest: only regular
    files named as the released notebooks are read (a link, a folder or a device is not followed), each up
    to ``MAX_NOTEBOOK`` bytes, each a valid notebook; anything else in the folder is ignored."""
    import stat
    out, problems = {}, []
    try:
        if stat.S_ISLNK(os.lstat(folder).st_mode):
            return {}, [f"{folder.name}: a symbolic link, not a folder: not read"]
    except OSError as exc:
        return {}, [f"{folder.name}: cannot be read ({exc.strerror})"]
    for name in names:
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            problems.append(f"{name}: not submitted")
            continue
        except OSError as exc:                     # ELOOP: a symbolic link
            problems.append(f"{name}: {'a symbolic link, not a file' if exc.errno == 40 else exc.strerror}: not read")
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"{name}: not a regular file: not read")
                continue
            if info.st_size > MAX_NOTEBOOK:
                problems.append(f"{name}: {info.st_size:,} bytes, more than the {MAX_NOTEBOOK >> 20} MiB a notebook may have: not read")
                continue
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read(MAX_NOTEBOOK + 1)
        finally:
            os.close(fd)
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
            nbformat.validate(nb)
        except Exception as exc:                   # noqa: BLE001 (empty, truncated, not JSON, not nbformat)
            problems.append(f"{name}: not a notebook: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'empty'}")
            continue
        out[name] = nb
    return out, problems


def sanitize(path: Path) -> None:
    """A graded notebook as its feedback may show it: no markup, link or script of the submission's (markdown
    shown as its source text, only plain-text and PNG outputs kept), each output at most ``MAX_TEXT``
    characters and all of them at most ``MAX_OUTPUTS`` bytes. Whoever opens the feedback runs nothing a
    student wrote."""
    nb = nbformat.read(path, as_version=4)
    budget = MAX_OUTPUTS
    for cell in nb.cells:
        cell.pop("attachments", None)
        if cell.cell_type == "markdown":          # its text in a code block: rendered escaped, no link followed
            cell.source = "~~~~text\n" + cell.source.replace("~~~~", "~ ~ ~ ~") + "\n~~~~"
        elif cell.cell_type == "raw":
            cell.source = ""
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result"):
                data = {k: v for k, v in out.get("data", {}).items() if k in ("text/plain", "image/png")}
                if not data:
                    continue
                if isinstance(data.get("text/plain"), str) and len(data["text/plain"]) > MAX_TEXT:
                    data["text/plain"] = data["text/plain"][:MAX_TEXT] + "\n[cut]"
                out["data"], out["metadata"] = data, {}
            if isinstance(out.get("text"), str) and len(out["text"]) > MAX_TEXT:
                out["text"] = out["text"][:MAX_TEXT] + f"\n[cut: {len(out['text']) - MAX_TEXT:,} more characters]\n"
            if out.get("output_type") == "error":
                out["traceback"] = [t[:MAX_TEXT] for t in out.get("traceback", [])[-30:]]
            size = len(json.dumps(out))
            if size > budget:
                if budget > 0:               # said once, where the cut begins
                    kept.append(nbformat.v4.new_output("stream", name="stdout", text="[the rest of this notebook's "
                                                       f"output was cut: feedback shows at most {MAX_OUTPUTS >> 20} MiB]\n"))
                budget = 0
                break
            budget -= size
            kept.append(out)
        cell.outputs = kept
    nbformat.write(nb, path)
