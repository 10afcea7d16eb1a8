"""The course's website read as a reader reads it (``make test-book``): the built site (``make book``,
book/_build/html, or $GANCOURSE_SITE) served by a local HTTP server and opened in Debian's chromium.
Every notebook page loads with the box naming its run, its figures decoded, its equations typeset by
the site's own MathJax (no raw ``$...$`` left), its claims table; the sidebar and the next-page links
navigate, the search finds the notebooks, no request leaves the local server, and no line of a solution
is anywhere in the text. The screenshot of notebook 01 goes to runs/book/notebook_01.png."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gancourse.course import book
from conftest import CHROMEDRIVER, CHROMIUM, ROOT, chromium

SITE = Path(os.environ.get("GANCOURSE_SITE") or book.BUILD_DIR / "html")
SHOT = ROOT / "runs" / "book" / "notebook_01.png"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--window-size=1400,1000")
# What the test reads from a page once MathJax has typeset it.
PAGE_JS = """const done = arguments[arguments.length - 1];
const until = (ok, ms) => new Promise(res => { const t0 = Date.now();
  const poll = () => (ok() || Date.now() - t0 > ms) ? res() : setTimeout(poll, 50); poll(); });
until(() => document.readyState === 'complete' && document.body, 30000)   // the page itself, loaded
.then(() => until(() => !document.querySelector('.math') || (window.MathJax && MathJax.startup && MathJax.startup.promise), 10000))
.then(() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });   // figures folded away are read too
  return Promise.all([(window.MathJax && MathJax.startup && MathJax.startup.promise) || null,
                      ...[...document.images].map(i => i.decode().catch(() => null))]);   // a broken one stays broken
}).then(() => {
  const art = document.querySelector('article.bd-article') || document.body;
  const imgs = [...art.querySelectorAll('img')];
  const prose = art.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, mjx-container, .output').forEach(e => e.remove());
  const tables = [...art.querySelectorAll('table')].map(t => [...t.querySelectorAll('th')].map(th => th.innerText.trim().toLowerCase()));
  done({title: document.title,
        images: imgs.map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0})),
        math: art.querySelectorAll('.math').length,
        typeset: art.querySelectorAll('mjx-container').length,
        untypeset: [...art.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container')).length,
        raw_dollars: (prose.innerText.match(/\\$[^$\\n]{1,200}\\$/g) || []).slice(0, 5),
        claims_tables: tables.filter(h => h.includes('claim') && h.includes('verdict')).length,
        box: document.querySelector('.run-provenance')?.innerText || '',
        text: document.body.innerText,
        resources: performance.getEntriesByType('resource').map(e => e.name)});
}).catch(e => done({error: String(e)}));"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver"),
]


@pytest.fixture(autouse=True, scope="module")
def only_when_selected(request):
    """Not part of a plain `pytest` (`make test`): it needs the built site and a browser. Module-scoped, so it
    decides before the module-scoped `site` fixture looks for a site (a plain `pytest` on a fresh clone has none)."""
    if not re.search(r"(?<!not )\bbrowser\b", request.config.getoption("markexpr") or ""):
        pytest.skip("runs only when selected: make test-book (pytest -m browser)")


@pytest.fixture(scope="module")
def site():
    """The built site served on 127.0.0.1 by Python's own HTTP server."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no site at {SITE}: build it first (make book)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(SITE)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        for _ in range(50):
            try:
                opener.open(url + "/index.html", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"), FLAGS)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def read(driver, url):
    driver.get(url)
    state = driver.execute_async_script(PAGE_JS)
    assert "error" not in state, state
    return state


def test_every_notebook_page_reads_as_it_ran(site, browser):
    runs = book.runs(ROOT / book.read_config()["results"])
    secrets = book.secret_lines()
    pages = sorted(p.stem for p in (SITE / "notebooks").glob("*.html"))
    assert pages == list(runs), "one page per notebook with an executed run"
    for name in pages:
        s = read(browser, f"{site}/notebooks/{name}.html")
        res, executed = runs[name][0], json.loads(runs[name][0]["_ipynb"].read_text())
        figures = sum("image/png" in o.get("data", {}) for c in executed["cells"] for o in c.get("outputs", []))
        assert len(s["images"]) >= figures > 0, (name, len(s["images"]), figures)
        assert all(i["ok"] for i in s["images"]), f"{name}: images not decoded: {[i for i in s['images'] if not i['ok']]}"
        has_math = any("$" in "".join(c["source"]) for c in executed["cells"] if c["cell_type"] == "markdown")
        assert s["math"] > 0 or not has_math, f"{name}: its equations are not on the page"
        assert s["untypeset"] == 0 and s["typeset"] >= s["math"], (name, s["math"], s["typeset"])
        assert not s["raw_dollars"], f"{name}: raw $...$ left on the page: {s['raw_dollars']}"
        assert s["claims_tables"] >= 1, f"{name}: no claims table (a table with claim and verdict columns)"
        for part in (f"seed {res['seed']}", res["commit"], res["profile"], res.get("machine") or res["device_name"],
                     f"python -m gancourse run {name} --profile {res['profile']} -p seed {res['seed']}"):
            assert part in s["box"], (name, part, s["box"])
        leaks = [line for line in secrets if line in s["text"]]
        assert not leaks, f"{name}: solution lines on the page: {leaks}"
        foreign = [r for r in s["resources"] if not r.startswith(site)]
        assert not foreign, f"{name}: requests that leave the site: {foreign}"
        if name == "01_gan_foundations":
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SHOT))


def test_the_other_pages_load_offline_with_their_figures(site, browser):
    for page in ("index", "scorecard", "failures", "rerun", "instructors", "architecture"):
        s = read(browser, f"{site}/{page}.html")
        assert all(i["ok"] for i in s["images"]), (page, s["images"])
        assert not [r for r in s["resources"] if not r.startswith(site)], page
        assert not [line for line in book.secret_lines() if line in s["text"]], page
    from selenium.webdriver.common.by import By
    runs = book.runs(ROOT / book.read_config()["results"])
    browser.get(f"{site}/index.html")                                     # the course map: a row per notebook
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "article table tr")
            if r.find_elements(By.CSS_SELECTOR, 'a[href^="notebooks/"]')]
    assert len(rows) == len(runs), rows
    card = ROOT / book.read_config()["results"] / "scorecard.json"
    pooled = card.exists() and "notebooks" in json.loads(card.read_text())
    assert all(re.search(r"holds \d+ · fails \d+ · unresolved \d+" if pooled else "not pooled yet", r)
               and "seed 0:" in r for r in rows), rows
    if (ROOT / book.read_config()["results"] / "forest").is_dir():
        assert len(read(browser, f"{site}/scorecard.html")["images"]) >= len(runs)


def test_navigation_and_search(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(browser, 30)
    browser.get(f"{site}/index.html")
    link = wait.until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '.bd-sidebar-primary a.reference.internal[href="notebooks/01_gan_foundations.html"]')))
    link.click()
    wait.until(EC.url_contains("notebooks/01_gan_foundations.html"))
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text.startswith("01 ")
    browser.find_element(By.CSS_SELECTOR, "a.right-next").click()                 # the next notebook
    wait.until(EC.url_contains("notebooks/02_improved_techniques.html"))
    assert browser.find_element(By.CSS_SELECTOR, "article h1").text.startswith("02 ")

    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, ".search-button-field, .search-button")
                  if b.is_displayed())
    button.click()
    box = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, 'input[name="q"]')))
    box.send_keys("discriminator", Keys.ENTER)
    wait.until(EC.url_contains("search.html?q=discriminator"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a"))
    found = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#search-results ul.search li a")]
    assert any("/notebooks/" in h for h in found), found
