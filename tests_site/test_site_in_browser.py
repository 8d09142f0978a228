"""The course's website (`make site`, build/site) in a real (headless) Chromium, served from 127.0.0.1 only.

Run by ``make test-site`` (after ``make site``); ``make test`` does not collect this folder. Every request the pages
make to another host is refused and counted as a failure: the site must work offline (no font, theme or script
from the internet). For every page: it loads with no console error and no failed request; its images are drawn
(natural width > 0); a page whose source holds a markdown table shows a table. Lesson pages: their saved figures
(every PNG output) are there, MathJax (served by the site) has typeset the formulas, and the Colab and Binder badges
point at that lesson's notebook. Every internal link resolves (the file exists; its #anchor is an id on the page).
The search box finds a word that only lesson 07 uses and lists lesson 07.

Environment: ``CHROMIUM`` (default: ``chromium`` on PATH), ``SITE_DIR`` (default: build/site).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import threading
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("SITE_DIR", REPO / "build" / "site"))
SOURCES = REPO / "build" / "site-src"
REPOSITORY = "image-synthesis-course/gans-and-cnns"
LESSONS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
               if p.name != "404.html" and not p.relative_to(SITE).as_posix().startswith("assets/"))
OUT = REPO / "outputs" / "site"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no site in {SITE}: run `make site` first")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser() -> Browser:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("no Chromium found: install Debian's package (`apt-get install -y chromium`) or set CHROMIUM=/path")
    args = ["--no-sandbox"] if os.getuid() == 0 else []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=args, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


def _open(browser: Browser, url: str):
    """A page at ``url`` with its console errors, page errors, failed requests and off-site requests recorded."""
    page = browser.new_page()
    problems: list[str] = []
    base = urlsplit(url).netloc

    def route(r):
        if urlsplit(r.request.url).netloc not in (base, ""):
            problems.append(f"request to another host (the site must be offline): {r.request.url}")
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load", timeout=60_000)
    page.wait_for_load_state("networkidle", timeout=60_000)
    return page, problems


def test_site_has_every_page_in_lesson_order():
    assert len(PAGES) >= len(LESSONS) + 3, PAGES
    assert {"index.html", "docs/teaching.html", "references.html"} <= set(PAGES)
    index = (SITE / "index.html").read_text(encoding="utf-8")
    nav = re.findall(r'href="(notebooks/\d\d_[a-z0-9_]+)\.html"', index)
    ordered = list(dict.fromkeys(n.split("/")[1] for n in nav))
    assert ordered == LESSONS, f"the lessons are not in order in the navigation: {ordered}"
    # Each lesson's entry is titled "NN title" (mkdocs.yml's short title, or its first heading's, made by the hook)
    titles = dict(re.findall(r'<a href="notebooks/(\d\d_[a-z0-9_]+)\.html" class="md-nav__link">\s*'
                             r'<span class="md-ellipsis">\s*([^<]*?)\s*</span>', index))
    bad = {stem: titles.get(stem) for stem in LESSONS if not re.fullmatch(rf"{stem[:2]} \S.*", titles.get(stem, ""))}
    assert not bad, f"lessons titled wrongly in the navigation: {bad}"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_and_renders(browser, server, page_path):
    page, problems = _open(browser, server + page_path)
    try:
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
        blank = [src[:80] for src, width in images if not width]
        assert not blank, f"{page_path}: images not drawn: {blank}"
        source = SOURCES / (page_path[:-5] + (".ipynb" if page_path.startswith("notebooks/") else ".md"))
        if page_path == "index.html":
            source = SOURCES / "index.md"
        elif page_path.endswith("/index.html"):
            source = SOURCES / page_path.replace("index.html", "README.md")
        text = source.read_text(encoding="utf-8") if source.is_file() else ""
        if re.search(r"^\s*\|?\s*:?-{3,}:?\s*\|", text, re.MULTILINE) or re.search(r"\\n\"?,?\s*\"?\|[-:| ]{5,}\|", text):
            assert page.locator("table").count() > 0, f"{page_path}: its source has a table, the page shows none"
        if page_path.startswith("notebooks/"):
            stem = Path(page_path).stem
            nb = json.loads((REPO / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
            pngs = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
            drawn = sum(1 for src, width in images if width and (src or "").startswith("data:image/png"))
            assert drawn >= pngs, f"{page_path}: {drawn} figures drawn, the notebook has {pngs}"
            if "$$" in text or re.search(r"\$[^$\n]+\$", text):
                page.wait_for_function("document.querySelectorAll('.MathJax, .mjx-chtml, .MathJax_CHTML').length > 0",
                                       timeout=60_000)
            colab = page.eval_on_selector_all("a[href*='colab.research.google.com']", "els => els.map(e => e.href)")
            binder = page.eval_on_selector_all("a[href*='mybinder.org']", "els => els.map(e => e.href)")
            assert colab and all(h == f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/"
                                      f"{stem}.ipynb" for h in colab), colab
            assert binder and all(h == f"https://mybinder.org/v2/gh/{REPOSITORY}/main?labpath=notebooks%2F{stem}.ipynb"
                                  for h in binder), binder
        page.wait_for_timeout(300)
        assert not problems, f"{page_path}:\n" + "\n".join(problems)
    finally:
        page.close()


def test_internal_links_resolve():
    broken: list[str] = []
    ids: dict[str, set[str]] = {}

    def ids_of(path: Path) -> set[str]:
        if path not in ids:
            ids[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))
        return ids[path]

    checked = 0
    for page_path in PAGES:
        text = (SITE / page_path).read_text(encoding="utf-8")
        for href in re.findall(r'<a\s[^>]*href="([^"]+)"', text):
            href = html.unescape(href)
            if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
                continue
            url = urljoin("http://site/" + page_path, href)
            parts = urlsplit(url)
            target = SITE / unquote(parts.path).lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.is_file():
                broken.append(f"{page_path}: {href} (no {target.relative_to(SITE)})")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids_of(target):
                broken.append(f"{page_path}: {href} (no id {unquote(parts.fragment)!r} there)")
    assert checked > 50, f"only {checked} internal links found"
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:40])


def _word_only_in_lesson_07() -> str:
    """The most frequent long word of lesson 07's text that no other page uses."""
    def words(text: str) -> Counter:
        return Counter(w.lower() for w in re.findall(r"[A-Za-z]{9,}", text))

    sources = {p: p.read_text(encoding="utf-8") for p in SOURCES.rglob("*") if p.suffix in (".md", ".ipynb")}
    lesson = next(p for p in sources if p.name.startswith("07_"))
    nb = json.loads(sources[lesson])
    ours = words(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"))
    others = Counter()
    for p, text in sources.items():
        if p != lesson:
            others.update(words(text))
    unique = [(n, w) for w, n in ours.items() if w not in others]
    assert unique, "lesson 07 has no word of its own"
    return max(unique)[1]


def test_search_finds_a_term_from_lesson_07(browser, server):
    term = _word_only_in_lesson_07()
    page, problems = _open(browser, server + "index.html")
    try:
        page.locator("label.md-search__icon, .md-search__input").first.click()
        box = page.locator("input.md-search__input")
        # Typed key by key, as a reader does: Material's search listens for keyup, which fill() never sends.
        box.press_sequentially(term)
        page.wait_for_selector(".md-search-result__item a", timeout=30_000)
        hits = page.eval_on_selector_all(".md-search-result__item a", "els => els.map(e => e.href)")
        assert any("notebooks/07_trends_and_challenges.html" in h for h in hits), f"search for {term!r}: {hits}"
        assert not problems, "\n".join(problems)
    finally:
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT / "search.png"))
        page.close()
