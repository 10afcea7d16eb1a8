"""The course's website (``make book``, ``gancourse.course.book``): staged from the committed runs without
executing anything, one setting for the launch links and the install cells, the learner's version only
(no line of a solution anywhere), checks that catch broken links, network resources and leaks; and the
install cell's path outside a checkout, against a local clone. The built site in a browser:
``tests/test_site_browser.py`` (``make test-book``)."""
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from gancourse.course import book, build, exercises
from conftest import ROOT

CFG = book.read_config()
RESULTS = ROOT / CFG["results"]
RUNS = book.runs(RESULTS)


def test_the_solution_markers_are_the_exercises_own():
    assert (book.BEGIN, book.END) == (exercises.BEGIN, exercises.END) and exercises.STUB.startswith(book.STUB)


def test_every_readme_section_the_site_includes_is_there():
    sections = book.readme_sections((ROOT / "README.md").read_text())
    assert set(book.SECTIONS) | {"The course"} <= set(sections)
    arch = sections["Architecture"]
    assert arch[0] == "## Architecture" and not any(line.startswith("## ") for line in arch[1:])
    learning = sections["Learning in JupyterLab, exercises"]
    assert "### Grading (instructors)" in learning                 # a subsection stays with its section


def test_relevel_shifts_headings_but_not_code():
    lines = ["### A", "text", "```bash", "# a comment, not a heading", "```", "#### B"]
    assert book.relevel(lines, 2) == ["## A", "text", "```bash", "# a comment, not a heading", "```", "### B"]


def test_links_land_on_pages_or_the_repository():
    text = ("[card](results/laptop/scorecard.md) [why](results/laptop/failures.md) [arch](#architecture) "
            "[code](gancourse/course/book.py) [web](https://example.org/x) ![plot](forest/01.png)")
    off = book.rewrite_links(text, {"repository": ""})
    assert off == "[card](scorecard.md) [why](failures.md) [arch](architecture.md) code [web](https://example.org/x) ![plot](forest/01.png)"
    on = book.rewrite_links(text, {"repository": "https://github.com/me/gancourse", "branch": "dev"})
    assert "[code](https://github.com/me/gancourse/blob/dev/gancourse/course/book.py)" in on


def test_launch_links_follow_the_one_setting_and_are_off_while_it_is_unset():
    assert book.launch_link({"repository": "", "launch": "colab"}, "01_gan_foundations") is None
    assert book.launch_link({"repository": "", "launch": "binder"}, "01_gan_foundations") is None
    gh = {"repository": "https://github.com/me/gancourse", "branch": "main", "launch": "colab"}
    assert book.launch_link(gh, "01_gan_foundations") == (
        "Colab", "https://colab.research.google.com/github/me/gancourse/blob/main/notebooks/01_gan_foundations.ipynb")
    assert book.launch_link({**gh, "launch": "binder"}, "01_gan_foundations") == (
        "Binder", "https://mybinder.org/v2/gh/me/gancourse/main?labpath=notebooks%2F01_gan_foundations.ipynb")
    assert "Colab" in book.provenance_box(RUNS["01_gan_foundations"][0], gh, [])
    assert "Colab" not in book.provenance_box(RUNS["01_gan_foundations"][0], {**gh, "repository": ""}, [])


def test_the_install_cells_name_the_configured_repository():
    """One setting: book/_config.yml's address is the one every notebook's install cell installs from."""
    addresses = book.install_addresses()
    assert set(addresses) == {p.stem for p in build.course_notebooks()}
    assert set(addresses.values()) == {CFG["repository"]}, "run: python -m gancourse.course.book repository URL"
    for src in build.course_notebooks():      # the first code cell after the parameters, before any import of the course
        code = [c for c in build.build_notebook(src).cells if c.cell_type == "code"]
        assert "COURSE_REPOSITORY = " in code[1].source, src.stem
        assert not re.search(r"^(import|from) gancourse", code[0].source + code[1].source, re.M), src.stem


def test_set_repository_writes_the_config_and_every_install_cell(tmp_path):
    config = tmp_path / "_config.yml"
    shutil.copy(book.BOOK_DIR / "_config.yml", config)
    src = tmp_path / "source"
    shutil.copytree(book.SOURCE_DIR, src)
    changed = book.set_repository("https://github.com/me/gancourse/", config, src)
    assert len(changed) == 1 + len(build.course_notebooks())
    assert book.read_config(config)["repository"] == "https://github.com/me/gancourse"
    assert set(book.install_addresses(src).values()) == {"https://github.com/me/gancourse"}
    assert book.set_repository("https://github.com/me/gancourse", config, src) == []
    with pytest.raises(Exception, match="public address"):
        book.set_repository("me/gancourse", config, src)


def test_the_committed_runs_are_learner_notebooks_with_stubs_only():
    """Every executed notebook the site shows: no solution markers, no line of a solution, and each
    exercise's answer cell as the stub the learner gets."""
    secrets = book.secret_lines()
    answers = {m for src in build.course_notebooks()
               for m in re.findall(rf"^def (\w+)\(.*\n\s*{re.escape(book.BEGIN)}", src.read_text(), re.M)}
    assert len(answers) >= 14 and RUNS
    for name, rs in RUNS.items():
        for res in rs:
            nb = json.loads(res["_ipynb"].read_text())
            text = json.dumps(nb, ensure_ascii=False)
            assert book.BEGIN not in text and book.END not in text, res["_ipynb"]
            assert not [s for s in secrets if s in text or json.dumps(s, ensure_ascii=False)[1:-1] in text], res["_ipynb"]
            for cell in nb["cells"]:
                src = "".join(cell["source"])
                m = re.match(r"def (\w+)\(", src)
                if cell["cell_type"] == "code" and m and m[1] in answers:
                    assert book.STUB in src, f"{res['_ipynb']}: {m[1]} is not a stub"


def test_only_lines_the_course_publishes_anyway_are_exempt():
    every, secret = book.solution_lines(), book.secret_lines()
    shared = set(every) - set(secret)
    assert len(secret) >= 25 and len(shared) <= 6, shared      # a few one-liners shared with the package's code


def test_stage_builds_the_pages_from_the_committed_runs(tmp_path):
    info = book.stage(tmp_path / "src")
    src = info["src"]
    assert info["notebooks"] == list(RUNS)
    for name, rs in RUNS.items():
        res = rs[0]
        nb = json.loads((src / "notebooks" / f"{name}.ipynb").read_text())
        title, box = nb["cells"][0], "".join(nb["cells"][1]["source"])
        assert "".join(title["source"]).startswith("# ") and "\n" not in "".join(title["source"])
        machine = res.get("machine") or res["device_name"]
        for part in (f"**{res['profile']}**", f"**seed {res['seed']}**", res["commit"], machine,
                     f"python -m gancourse run {name} --profile {res['profile']} -p seed {res['seed']}"):
            assert part in box, (name, part)
        executed = json.loads(res["_ipynb"].read_text())
        assert len(nb["cells"]) in (len(executed["cells"]) + 1, len(executed["cells"]) + 2)
    course_map = (src / "_readme" / "course_map.md").read_text()
    for name in RUNS:
        assert f"[{name}](notebooks/{name}.ipynb)" in course_map
    assert (src / "scorecard.md").read_text().startswith("# ") and (src / "failures.md").exists()
    assert not list(src.rglob("*.py")) or [p.name for p in src.rglob("*.py")] == ["conf.py"]


def test_the_course_map_takes_the_verdicts_over_seeds_from_the_pooled_scorecard(tmp_path):
    for seed, res in ((r["seed"], r) for r in RUNS["00_setup"]):
        (tmp_path / f"seed{seed}" / "00_setup").mkdir(parents=True)
        shutil.copy(res["_ipynb"].parent / "00_setup" / "results.json", tmp_path / f"seed{seed}" / "00_setup")
        shutil.copy(res["_ipynb"], tmp_path / f"seed{seed}")
    runs = book.runs(tmp_path)
    assert book.verdicts(tmp_path, runs)["00_setup"][0] == "not pooled yet"
    (tmp_path / "scorecard.json").write_text(json.dumps({"notebooks": [
        {"notebook": "00_setup", "counts": {"holds": 2, "fails": 0, "unresolved": 1}}]}))
    over, per_seed = book.verdicts(tmp_path, runs)["00_setup"]
    assert over == "holds 2 · fails 0 · unresolved 1" and per_seed.startswith("seed 0: ")


def test_check_site_finds_broken_links_network_resources_and_solutions(tmp_path):
    line = next(iter(book.secret_lines()))
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text(
        '<html><body id="top"><a href="a/page.html#there">ok</a> <a href="a/page.html#nowhere">no anchor</a> '
        '<a href="missing.html">broken</a> <a href="https://example.org">web link: fine</a> '
        '<script src="https://cdn.example.org/mathjax.js"></script> <a href="#top">self</a></body></html>')
    (tmp_path / "a" / "page.html").write_text(f'<html><body><p id="there">{line.replace("<", "&lt;")}</p></body></html>')
    problems = book.check_site(tmp_path)
    assert any("no anchor #nowhere" in p for p in problems)
    assert any("broken link missing.html" in p for p in problems)
    assert any("needs the network" in p for p in problems)
    assert any("a line of a solution" in p and p.startswith("a/page.html") for p in problems)
    assert len(problems) == 4, problems


def _install_cell() -> str:
    code = [c for c in build.build_notebook(build.course_notebooks()[1]).cells if c.cell_type == "code"]
    assert "COURSE_REPOSITORY" in code[1].source
    return code[1].source


def test_the_install_cell_is_a_no_op_in_a_checkout(tmp_path):
    r = subprocess.run([sys.executable, "-c", _install_cell() + "\nprint('source' in dir())"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr     # it never looked for a source


@pytest.mark.slow
def test_the_install_cell_installs_the_course_outside_a_checkout(tmp_path):
    """A throwaway venv that sees the dependencies already installed here (not this course), the install
    cell with the repository's address set to a local clone: it installs only gancourse, from git."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=300)
    deps = tmp_path / "deps"                         # this environment's packages, less the course itself
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if not re.match(r"(gancourse|__editable__|_*pycache_*)|.*\.pth$", entry.name):
            (deps / entry.name).symlink_to(entry)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    venv_site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    check=True, capture_output=True, text=True).stdout.strip())
    (venv_site / "deps.pth").write_text(str(deps) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GANCOURSE_INSTALL", "VIRTUAL_ENV")}
    work = tmp_path / "colab"                        # outside any checkout
    work.mkdir()
    cell = _install_cell()
    r = subprocess.run([str(py), "-c", cell], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "not installed in this kernel" in r.stderr, r.stderr[-2000:]   # no address: says what to do
    cell = cell.replace('COURSE_REPOSITORY = ""', f'COURSE_REPOSITORY = "file://{clone}"')
    check = ("\nimport gancourse, gancourse.course.notebook as nb\nprint(gancourse.__file__)\n"
             "print(nb.course_root())")
    r = subprocess.run([str(py), "-c", cell + check], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    where, course_root = r.stdout.split()[-2:]
    assert where.startswith(str(venv_site)), where                      # installed into the venv, from the clone
    assert course_root == str(work)                                      # an installed course writes beside the notebook
    installed = subprocess.run([str(py), "-m", "pip", "list", "--path", str(venv_site), "--format", "json"],
                               env=env, capture_output=True, text=True, timeout=120)
    assert [p["name"] for p in json.loads(installed.stdout)] == ["gancourse"], installed.stdout   # only the course
    r = subprocess.run([str(py), "-c", cell + "\nprint('source' in dir())"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr     # once installed: a no-op


def test_a_warning_or_a_broken_internal_link_fails_the_build(tmp_path):
    """Sphinx runs with -W: a link to a page that does not exist, or to a heading that does not, and the
    build fails, naming each (make test-book runs this where the book extra is installed)."""
    pytest.importorskip("myst_nb", reason="the book extra: pip install -e '.[book]' (make book)")
    src = book.stage(tmp_path / "src")["src"]
    with open(src / "failures.md", "a") as f:
        f.write("\n\nSee [a page that is not there](no_such_page.md) and [a heading](rerun.md#no-such-heading).\n")
    r = book.sphinx(src, tmp_path / "html")
    assert r.returncode != 0
    assert "no_such_page" in r.stderr and "no-such-heading" in r.stderr, r.stderr[-3000:]
