"""Notebooks from their sources. ``notebooks/source/NN_topic.py`` (jupytext percent format, reviewed in
diffs, solutions between ``### BEGIN SOLUTION`` / ``### END SOLUTION``) is the one source of a notebook:
the learner's version (solutions stubbed, no outputs, stable cell ids) is ``notebooks/NN_topic.ipynb``;
the instructor's keeps the solutions. Used by the runner (``gancourse run`` never runs a learner's
edited copy), the grader (released notebooks) and ``make notebooks``."""
from __future__ import annotations

import subprocess
from pathlib import Path

from .. import CourseError
from .exercises import strip_solutions

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SOURCE_DIR = NOTEBOOK_DIR / "source"


def course_notebooks(src_dir: Path = SOURCE_DIR) -> list[Path]:
    """The course's notebook sources, notebooks/source/NN_topic.py, in order."""
    return sorted(p for p in src_dir.glob("[0-9][0-9]_*.py"))


def resolve(names: list[str], src_dir: Path = SOURCE_DIR) -> list[Path]:
    """'01', '01_gan_foundations', '01_gan_foundations.ipynb' → its source; a path to an .ipynb as it is."""
    known = course_notebooks(src_dir)
    if not names:
        return known
    out = []
    for name in names:
        p = Path(name)
        if p.suffix == ".ipynb" and p.exists() and p.parent.resolve() != NOTEBOOK_DIR.resolve():
            out.append(p)
            continue
        match = [k for k in known if k.stem == p.stem or k.stem.split("_")[0] == name]
        if len(match) != 1:
            raise CourseError(f"unknown notebook {name!r}; valid: {', '.join(k.stem for k in known)}")
        out.append(match[0])
    return out


def build_notebook(src: Path, solutions: bool = False):
    """The notebook of a source (jupytext percent format): no outputs, stable cell ids; with
    ``solutions=False`` (the learner's and student's version) every solution region is a stub."""
    import jupytext
    nb = jupytext.read(src)
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:02d}"
        if cell.cell_type == "code" and not solutions:
            cell.source = strip_solutions(cell.source)
    return nb


def build_notebooks(sources: list[Path], dest: Path, solutions: bool = False) -> list[Path]:
    """Write the notebooks of ``sources`` into ``dest`` (instructor copies with ``solutions``)."""
    import nbformat
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        if src.suffix == ".ipynb":
            out.append(src)
            continue
        path = dest / f"{src.stem}.ipynb"
        nbformat.write(build_notebook(src, solutions), path)
        out.append(path)
    return out


def sync_notebooks(src_dir: Path = SOURCE_DIR, dest_dir: Path = NOTEBOOK_DIR, check: bool = False) -> list[Path]:
    """Write each learner notebook notebooks/NN_*.ipynb from its source notebooks/source/NN_*.py
    (solutions stubbed, no outputs, stable cell ids). With ``check``, write nothing and return the
    notebooks whose committed version differs (``git show HEAD:...``, so a learner's saved copy
    never counts as drift; the working copy outside git)."""
    import nbformat
    stale = []
    for src in course_notebooks(src_dir):
        text = nbformat.writes(build_notebook(src)) + "\n"
        dest = dest_dir / f"{src.stem}.ipynb"
        current = committed_text(dest) if check else (dest.read_text() if dest.exists() else None)
        if current != text:
            stale.append(dest)
            if not check:
                dest.write_text(text)
    return stale


def committed_text(path: Path) -> str | None:
    """A file as committed at HEAD (None if it is not); outside a git checkout, as on disk."""
    root = ROOT
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True).returncode != 0:
        return path.read_text() if path.exists() else None
    rel = path.resolve().relative_to(root).as_posix()
    r = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=root, capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None
