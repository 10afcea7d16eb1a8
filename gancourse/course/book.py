"""The course as a website (``make book``): a static HTML site, readable offline, staged from what is
committed and never executed again. Each notebook page is the learner's version of a committed executed
laptop run (``results/laptop/seedN/NN_topic.ipynb``) under a box naming the profile, seed, commit and
machine of that run (its ``results.json``) and the command that reruns it; then the scorecard with its
forest plots, ``failures.md``, and pages that include the README's own sections (the course map,
profiles and reruns, the instructor's guide, the architecture), so the site never drifts from it.

    python -m gancourse.course.book build               # stage into book/_build/src, HTML into book/_build/html
    python -m gancourse.course.book repository URL      # the one setting: launch links and install cells

``sphinx-build -W`` turns every warning into a failure; after it, ``check_site`` fails the build on a
broken internal link or anchor, on a page that would need the network to be read, and on any line of
an exercise's solution (``notebooks/source/*.py``) found anywhere in the site. Imports nothing of the
course but ``CourseError``, and nothing outside the standard library, so it runs without PyTorch."""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .. import CourseError

ROOT = Path(__file__).resolve().parents[2]
BOOK_DIR = ROOT / "book"
BUILD_DIR = BOOK_DIR / "_build"
SOURCE_DIR = ROOT / "notebooks" / "source"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"          # as in exercises (tested to agree)
STUB = "raise NotImplementedError"
INSTALL_LINE = re.compile(r'^COURSE_REPOSITORY = "(.*)"', re.M)    # in each notebook's install cell
# README sections the site includes, by title → (page that shows it, file under _readme/)
SECTIONS = {"The commands": "commands", "Profiles": "profiles", "Batch runs (papermill) and the scorecard": "batch",
            "Data": "data", "Metrics and feature extractors": "metrics", "GPU runs and committed results": "gpu",
            "Learning in JupyterLab, exercises": "learning", "Scale: several GPUs, several machines": "scale",
            "When things go wrong": "wrong", "Architecture": "architecture", "For developers": "developers"}
# where a README link lands on the site (pages are at the site's top level)
LINKS = {"results/laptop/scorecard.md": "scorecard.md", "results/laptop/failures.md": "failures.md",
         "#architecture": "architecture.md"}
FOREST = "results/laptop/forest/"


# -- the one setting ---------------------------------------------------------------------------------

def read_config(path: Path = BOOK_DIR / "_config.yml") -> dict:
    """``book/_config.yml``: flat ``key: value`` lines (comments after #), read without a YAML library."""
    cfg = {m[1]: m[2].strip('"') for m in re.finditer(r'^(\w+):[ \t]*("[^"]*"|[^#\s]*)', Path(path).read_text(), re.M)}
    cfg["repository"] = cfg.get("repository", "").rstrip("/")
    if cfg["repository"] and not re.match(r"https?://", cfg["repository"]):
        raise CourseError(f"book/_config.yml: repository must be a public address like https://github.com/OWNER/NAME, "
                          f"not {cfg['repository']!r}")
    return cfg


def install_addresses(src_dir: Path = SOURCE_DIR) -> dict[str, str | None]:
    """The address each notebook's install cell installs from outside a checkout (None: no install cell)."""
    out = {}
    for src in sorted(src_dir.glob("[0-9][0-9]_*.py")):
        m = INSTALL_LINE.search(src.read_text())
        out[src.stem] = m.group(1) if m else None
    return out


def set_repository(url: str, config: Path = BOOK_DIR / "_config.yml", src_dir: Path = SOURCE_DIR) -> list[Path]:
    """Write the repository's public address into ``book/_config.yml`` and every install cell; returns the
    files changed (then ``make notebooks`` regenerates the learner notebooks)."""
    url = url.rstrip("/")
    changed = []
    text = config.read_text()
    new = re.sub(r'^repository:.*$', f'repository: "{url}"', text, count=1, flags=re.M)
    if new != text:
        config.write_text(new)
        changed.append(config)
    read_config(config)
    for src in sorted(src_dir.glob("[0-9][0-9]_*.py")):
        text = src.read_text()
        new = INSTALL_LINE.sub(f'COURSE_REPOSITORY = "{url}"', text)
        if new != text:
            src.write_text(new)
            changed.append(src)
    return changed


def launch_link(cfg: dict, stem: str) -> tuple[str, str] | None:
    """(service, address) of the link that opens a learner notebook in a hosted service; None while the
    repository's address is unset (or Colab is asked for a repository that is not on GitHub)."""
    repo, branch = cfg.get("repository", ""), cfg.get("branch") or "main"
    path = f"notebooks/{stem}.ipynb"
    m = re.match(r"https?://github\.com/([^/]+)/([^/]+?)(\.git)?$", repo)
    if cfg.get("launch", "colab") == "colab":
        return ("Colab", f"https://colab.research.google.com/github/{m[1]}/{m[2]}/blob/{branch}/{path}") if m else None
    if not repo:
        return None
    spec = f"gh/{m[1]}/{m[2]}" if m else f"git/{quote(repo, safe='')}"
    return "Binder", f"https://mybinder.org/v2/{spec}/{branch}?labpath={quote(path, safe='')}"


# -- README sections ---------------------------------------------------------------------------------

def _blocks(lines: list[str]):
    """(line, inside a fenced code block) for each line."""
    fence = None
    for line in lines:
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m and (fence is None or m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)):
            fence = m.group(1) if fence is None else None
            yield line, True
        else:
            yield line, fence is not None


def readme_sections(text: str) -> dict[str, list[str]]:
    """{heading title: its lines, heading included, up to the next heading of the same or a higher level}."""
    lines = text.splitlines()
    heads = [(i, len(m[1]), m[2].strip()) for i, (line, code) in enumerate(_blocks(lines))
             if not code and (m := re.match(r"^(#{1,6})\s+(.*)$", line))]
    out = {}
    for k, (i, level, title) in enumerate(heads):
        end = next((j for j, lv, _ in heads[k + 1:] if lv <= level), len(lines))
        out[title] = lines[i:end]
    return out


def relevel(lines: list[str], top: int) -> list[str]:
    """Headings shifted so that the highest becomes level ``top`` (code blocks untouched)."""
    levels = [len(m[1]) for line, code in _blocks(lines) if not code and (m := re.match(r"^(#+)\s", line))]
    shift = top - min(levels) if levels else 0
    return [("#" * (len(m[1]) + shift) + line[len(m[1]):]) if not code and (m := re.match(r"^(#+)\s", line)) else line
            for line, code in _blocks(lines)]


def rewrite_links(text: str, cfg: dict) -> str:
    """README/results links for the site: known files to their pages, other files of the repository to
    the repository (plain text while its address is unset); web addresses as they are."""
    def sub(m):
        bang, label, target = m.group(1), m.group(2), m.group(3)
        if re.match(r"[a-z]+:", target):
            return m.group(0)
        if target in LINKS:
            return f"{bang}[{label}]({LINKS[target]})"
        if target.startswith(FOREST):                             # the forest plots are copied beside the scorecard
            return f"{bang}[{label}](forest/{target[len(FOREST):]})"
        if bang or target.startswith("#"):
            return m.group(0)
        if cfg.get("repository"):
            return f"[{label}]({cfg['repository']}/blob/{cfg.get('branch') or 'main'}/{target.lstrip('./')})"
        return label
    return re.sub(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)", sub, text)


# -- the runs ----------------------------------------------------------------------------------------

def runs(results: Path) -> dict[str, list[dict]]:
    """{notebook: [results.json of each seed, seed order]}, each with ``_ipynb`` (its executed notebook)."""
    out: dict[str, list[dict]] = {}
    for path in sorted(Path(results).glob("seed*/*/results.json")):
        res = json.loads(path.read_text())
        res["_ipynb"] = path.parent.with_suffix(".ipynb")
        if res["_ipynb"].exists():
            out.setdefault(res["notebook"], []).append(res)
    for rs in out.values():
        rs.sort(key=lambda r: r["seed"])
    return dict(sorted(out.items()))


def verdicts(results: Path, seed_runs: dict[str, list[dict]]) -> dict[str, tuple[str, str]]:
    """{notebook: (verdicts over seeds as the pooled scorecard gives them, claims held per seed)}."""
    card = Path(results) / "scorecard.json"
    pooled = {}
    if card.exists():
        pooled = {nb["notebook"]: nb for nb in json.loads(card.read_text()).get("notebooks", [])}
    out = {}
    for name, rs in seed_runs.items():
        per_seed = " · ".join(f"seed {r['seed']}: {sum(bool(c['passed']) for c in r['claims'])}/{len(r['claims'])}"
                              for r in rs)
        nb = pooled.get(name)
        over = ("holds {holds} · fails {fails} · unresolved {unresolved}".format(**nb["counts"]) if nb
                else "not pooled yet")
        out[name] = (over, per_seed)
    return out


def course_map(section: list[str], results: Path, seed_runs: dict, cfg: dict) -> tuple[str, str]:
    """The README's course table with each notebook linked to its page and the verdicts over seeds from
    the scorecard (and the claims held per seed, from each run's results.json); then the rest of the
    section, as the README has it."""
    body = section[1:]
    start = next(i for i, line in enumerate(body) if line.startswith("|"))
    end = next((i for i in range(start, len(body)) if not body[i].startswith("|")), len(body))
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in body[start:end]]
    marks = verdicts(results, seed_runs)
    table = ["| notebook | document | what you run and check | [over seeds: holds · fails · unresolved](scorecard.md) "
             "| laptop: claims held per seed |", "|---|---|---|---|---|"]
    for row in rows[2:]:
        stem = row[0].strip("`")
        over, per_seed = marks.get(stem, ("not run", "—"))
        name = f"[{stem}](notebooks/{stem}.ipynb)" if stem in seed_runs else f"`{stem}`"
        table.append(f"| {name} | {row[1]} | {row[2]} | {over} | {per_seed} |")
    rest = "\n".join(body[end:]).strip("\n")
    return "\n".join(body[:start] + table) + "\n", rewrite_links(rest, cfg) + "\n"


# -- notebook pages ----------------------------------------------------------------------------------

def solution_lines(src_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """{line of a solution (stripped): its notebook source}, every line between BEGIN and END SOLUTION."""
    out = {}
    for src in sorted(src_dir.glob("[0-9][0-9]_*.py")):
        inside = False
        for line in src.read_text().splitlines():
            if line.strip().startswith(BEGIN):
                inside = True
            elif line.strip().startswith(END):
                inside = False
            elif inside and line.strip():
                out[line.strip()] = src.name
    return out


def secret_lines(src_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """The solution lines that must appear nowhere in the site: all but those the course publishes outside
    any solution, in a learner notebook's other cells or in the package's code (``viz.show_source``)."""
    public = [*(ROOT / "gancourse").rglob("*.py"), *src_dir.glob("[0-9][0-9]_*.py")]
    text = "\n".join(re.sub(rf"{re.escape(BEGIN)}.*?{re.escape(END)}", "", p.read_text(), flags=re.S) for p in public)
    return {line: src for line, src in solution_lines(src_dir).items() if line not in text}


def provenance_box(res: dict, cfg: dict, other_seeds: list[int]) -> str:
    """The box each notebook page starts with: which run produced what the reader sees, how to rerun it."""
    machine = res.get("machine") or f"{res.get('device_name', '?')} ({res['device']})"
    commit = (f"[`{res['commit']}`]({cfg['repository']}/commit/{res['commit']})"
              if cfg.get("repository") and re.fullmatch(r"[0-9a-f]{7,40}", res["commit"]) else f"`{res['commit']}`")
    others = (f" Other seeds of this notebook: {', '.join(map(str, other_seeds))} ([scorecard](../scorecard.md))."
              if other_seeds else "")
    link = launch_link(cfg, res["notebook"])
    launch = (f"\n\n[Open the learner's notebook in {link[0]}]({link[1]}) (its first code cell after the "
              "parameters installs the course there)." if link else "")
    return "\n".join([
        f":::{{admonition}} What you see: profile {res['profile']}, seed {res['seed']}, commit {res['commit']}",
        ":class: note run-provenance",
        f"The outputs below are the committed run of this notebook in the **{res['profile']}** profile, "
        f"**seed {res['seed']}**, at commit {commit}, on **{machine}**, {res['date'][:10]}, "
        f"{res['wall_time_s']:.0f} s. It is the learner's version: the exercises are left for you, their "
        f"solutions are not published.{others}",
        "",
        "The one command that reruns it, in a checkout of the course ([profiles and reruns](../rerun.md)):",
        "",
        "```bash",
        f"python -m gancourse run {res['notebook']} --profile {res['profile']} -p seed {res['seed']}",
        "```" + launch,
        ":::"])


def stage_notebook(res: dict, dest: Path, cfg: dict, secrets: dict[str, str], other_seeds: list[int]) -> Path:
    """The page of one run: its executed notebook, checked to hold stubs only, with the box after its title."""
    src = res["_ipynb"]
    nb = json.loads(src.read_text())
    text = json.dumps(nb, ensure_ascii=False)
    if BEGIN in text or END in text:
        raise CourseError(f"{src}: holds solution markers; the site shows learner notebooks only")
    leaked = [line for line in secrets if line in text or json.dumps(line, ensure_ascii=False)[1:-1] in text]
    if leaked:
        raise CourseError(f"{src}: holds solution lines of {secrets[leaked[0]]}: {leaked[:3]}")
    first = nb["cells"][0]
    lines = "".join(first["source"]).split("\n")
    if first["cell_type"] != "markdown" or not lines[0].startswith("# "):
        raise CourseError(f"{src}: the first cell is not the notebook's title")
    box = {"cell_type": "markdown", "id": "run-provenance", "metadata": {},
           "source": provenance_box(res, cfg, other_seeds)}
    rest = {"cell_type": "markdown", "id": "introduction", "metadata": {}, "source": "\n".join(lines[1:]).strip("\n")}
    first["source"] = lines[0]
    nb["cells"][1:1] = [box] + ([rest] if rest["source"] else [])
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n")
    return dest


# -- staging and building ----------------------------------------------------------------------------

def stage(dest: Path = BUILD_DIR / "src", cfg: dict | None = None, book_dir: Path = BOOK_DIR) -> dict:
    """The site's source folder: book/ (configuration, pages), the README's sections, the notebook pages,
    the scorecard, its forest plots and failures.md."""
    cfg = cfg or read_config(book_dir / "_config.yml")
    results = ROOT / cfg.get("results", "results/laptop")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(book_dir, dest, ignore=shutil.ignore_patterns("_build", "_config.yml", "*.png", "__pycache__"))
    (dest / "_site.json").write_text(json.dumps({k: cfg.get(k, "") for k in ("title", "repository", "branch")}))
    sections = readme_sections((ROOT / "README.md").read_text())
    readme = dest / "_readme"
    readme.mkdir()
    (readme / "intro.md").write_text(rewrite_links("\n".join(sections[next(iter(sections))][1:]).split("\n## ")[0], cfg))
    for title, name in SECTIONS.items():
        if title not in sections:
            raise CourseError(f"README.md has no section {title!r}, which the site includes")
        top = 1 if name == "architecture" else 2                  # the architecture page's title is the README's
        (readme / f"{name}.md").write_text(rewrite_links("\n".join(relevel(sections[title], top)), cfg) + "\n")
    seed_runs = runs(results)
    if not seed_runs:
        raise CourseError(f"no executed runs under {results}/seed*/ (NN_topic.ipynb with NN_topic/results.json)")
    table, rest = course_map(sections["The course"], results, seed_runs, cfg)
    (readme / "course_map.md").write_text(table)
    (readme / "course_more.md").write_text(rest)
    secrets = secret_lines()
    pages = []
    for name, rs in seed_runs.items():
        shown = rs[0]                                         # the lowest seed with an executed notebook
        pages.append(stage_notebook(shown, dest / "notebooks" / f"{name}.ipynb", cfg, secrets,
                                    [r["seed"] for r in rs[1:]]))
    (readme / "notebooks.md").write_text("```{toctree}\n:caption: The notebooks\n:maxdepth: 1\n\n"
                                         + "\n".join(f"notebooks/{p.stem}" for p in pages) + "\n```\n")
    for name in ("scorecard.md", "failures.md"):
        if not (results / name).exists():
            raise CourseError(f"{results / name} is missing: the site shows it")
        text = (results / name).read_text()
        text = re.sub(r"^(Made by `python -m gancourse scorecard --seeds )/\S+?(results/\w+`)", r"\1\2", text, flags=re.M)
        (dest / name).write_text(rewrite_links(text, cfg))
    if (results / "forest").is_dir():
        shutil.copytree(results / "forest", dest / "forest")
    return dict(src=dest, results=results, notebooks=[p.stem for p in pages], secrets=len(secrets))


def sphinx(src: Path, html: Path, quiet: bool = True) -> subprocess.CompletedProcess:
    """``sphinx-build`` of a staged site, every warning an error (``-W``, all of them reported; ``-n``:
    references that go nowhere too), from scratch (``-E``)."""
    shutil.rmtree(html, ignore_errors=True)
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-E",
                           *(["-q"] if quiet else []), str(src), str(html)], stderr=subprocess.PIPE, text=True)


def build(out: Path = BUILD_DIR, cfg: dict | None = None, quiet: bool = True) -> Path:
    """Stage and build the site into ``out/html``; any Sphinx warning, broken link or leak fails it."""
    t0 = time.monotonic()
    info = stage(out / "src", cfg)
    html = out / "html"
    r = sphinx(info["src"], html, quiet)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise CourseError("the site did not build: the warnings above fail it (sphinx-build -W)")
    problems = check_site(html)
    if problems:
        raise CourseError("the built site fails its checks:\n  " + "\n  ".join(problems[:40]))
    print(f"site: {html / 'index.html'} ({len(info['notebooks'])} notebook pages from {info['results']}, "
          f"{time.monotonic() - t0:.0f} s)")
    return html


# -- checks on the built site ------------------------------------------------------------------------

class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs, self.ids, self.text, self._skip = [], set(), [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag in ("script", "style"):
            self._skip += 1
        for key in ("href", "src"):
            if a.get(key) is not None:
                self.refs.append((tag, key, a.get("rel") or "", a[key]))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def check_site(html_dir: Path, secrets: dict[str, str] | None = None) -> list[str]:
    """What is wrong with a built site: internal links or anchors that go nowhere, resources that need
    the network (scripts, styles, images, fonts from elsewhere), and lines of solutions anywhere in it."""
    html_dir = Path(html_dir)
    secrets = secret_lines() if secrets is None else secrets
    pages = {p: _Page() for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts}
    for p, parser in pages.items():
        parser.feed(p.read_text(errors="replace"))
    problems = []
    for p, parser in pages.items():
        rel = p.relative_to(html_dir)
        for tag, key, rel_attr, ref in parser.refs:
            url = urlsplit(ref)
            if url.scheme in ("http", "https") or ref.startswith("//"):
                if tag != "a" and not (tag == "link" and rel_attr in ("canonical", "search")):
                    problems.append(f"{rel}: <{tag} {key}={ref}> needs the network")
                continue
            if url.scheme or not (url.path or url.fragment):
                continue
            target = (p.parent / unquote(url.path)).resolve() if url.path else p
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{rel}: broken link {ref}")
            elif url.fragment and target.suffix == ".html" and target in pages \
                    and unquote(url.fragment) not in pages[target].ids:
                problems.append(f"{rel}: no anchor #{url.fragment} in {target.relative_to(html_dir)}")
    for f in sorted(html_dir.rglob("*")):
        if not f.is_file() or f.suffix not in (".html", ".js", ".txt", ".ipynb", ".md", ".json", ".py"):
            continue
        raw = f.read_text(errors="replace")
        texts = [raw, unescape(raw)] + (["".join(pages[f].text)] if f in pages else [])
        found = [line for line in secrets if any(line in t for t in texts)
                 or json.dumps(line, ensure_ascii=False)[1:-1] in raw]
        problems += [f"{f.relative_to(html_dir)}: a line of a solution ({secrets[line]}): {line}" for line in found]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gancourse.course.book", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="stage and build the site into book/_build/html").add_argument("--verbose", action="store_true")
    sub.add_parser("stage", help="only stage the site's sources into book/_build/src")
    sub.add_parser("check", help="check a built site: links, network, solutions").add_argument(
        "html", type=Path, nargs="?", default=BUILD_DIR / "html")
    sub.add_parser("repository", help="set the repository's public address (launch links, install cells)").add_argument("url")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "build":
            build(quiet=not args.verbose)
        elif args.cmd == "stage":
            print(stage()["src"])
        elif args.cmd == "check":
            problems = check_site(args.html)
            print("\n".join(problems) or f"{args.html}: links, network and solutions ok")
            return 1 if problems else 0
        else:
            print("".join(f"wrote {p.relative_to(ROOT)}\n" for p in set_repository(args.url))
                  + "now `make notebooks` (python -m gancourse sync) and `make book`")
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
