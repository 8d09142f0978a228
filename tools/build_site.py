"""Stage the course as MkDocs sources (build/site-src) for `make site`; MkDocs then builds build/site from them.

What is staged, in the repository's own layout so that relative links keep working:

* ``index.md``: the README (the home page); links to ``README.md`` elsewhere point at it;
* ``notebooks/NN_topic.ipynb``: the committed lessons with their saved outputs (never executed). Widget views are
  left out (their static state needs the ipywidgets HTML manager, fetched from a CDN); each keeps its text
  fallback. Links between lessons and to the guides are rewritten to the site's pages;
* ``docs/teaching.md``, ``CONTRIBUTING.md``, ``benchmarks/README.md`` (and its ``archive/README.md``),
  ``data/README.md``, and the files they link to (JSON records, images);
* ``references.md``: the course's bibliography (``data/references.bib``) and the article's reference list checked
  (``data/article_references.json``), written through ``course_utils.references``;
* ``assets/mathjax/``: MathJax 2.7 from the ``jupyter-server-mathjax`` package, so formulas render offline.

Usage: ``python tools/build_site.py [--out build/site-src]``. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import references  # noqa: E402

# Every markdown page the site shows; a page one of them links to must be here too, or MkDocs refuses the link.
PAGES = ["README.md", "CONTRIBUTING.md", "docs/teaching.md", "benchmarks/README.md", "benchmarks/archive/README.md",
         "data/README.md"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The badges' images live on colab.research.google.com and mybinder.org: the site draws its own (same links).
BADGES = {
    "https://colab.research.google.com/assets/colab-badge.svg": ("colab.svg", "Open in Colab", "#f9ab00"),
    "https://mybinder.org/badge_logo.svg": ("binder.svg", "launch binder", "#579aca"),
}
# [text](target) and ![alt](target); the target ends at the first space or ')'.
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")


def lessons() -> list[Path]:
    return sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))


def staged_name(repo_path: str) -> str:
    """Where a repository file lands in the site's sources (only the README moves: it is the home page)."""
    return "index.md" if repo_path == "README.md" else repo_path


def _relative(target: str, start: str) -> str:
    """``target`` (a staged path) relative to the folder of the staged file ``start``."""
    here = Path(start).parent.parts
    there = Path(target).parts
    common = 0
    while common < min(len(here), len(there) - 1) and here[common] == there[common]:
        common += 1
    return "/".join([".."] * (len(here) - common) + list(there[common:]))


def rewrite_links(text: str, repo_path: str, *, html_pages: bool, copied: set[str]) -> str:
    """Point the relative links of ``text`` (from the repository file ``repo_path``) at the staged site.

    Links to pages stay pages (``.md``, ``.ipynb``; with ``html_pages`` they become the ``.html`` MkDocs writes,
    for notebook cells that MkDocs does not rewrite); links to other files of the repository are copied into the
    site (collected in ``copied``); links to something the repository does not hold are left for MkDocs to refuse.
    """

    def fix(match: re.Match) -> str:
        head, target, tail = match.groups()
        if target in BADGES:
            return f"{head}{_relative('assets/badges/' + BADGES[target][0], staged_name(repo_path))}{tail}"
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target, re.IGNORECASE):
            return match.group(0)
        path, _, anchor = target.partition("#")
        if path.startswith("/"):  # GitHub's repository-root links
            resolved = path.lstrip("/")
        else:
            resolved = (Path(repo_path).parent / path).as_posix()
            parts: list[str] = []
            for part in resolved.split("/"):
                if part == "..":
                    if parts:
                        parts.pop()
                elif part not in ("", "."):
                    parts.append(part)
            resolved = "/".join(parts)
        if not (ROOT / resolved).is_file():
            return match.group(0)
        staged = staged_name(resolved)
        if not (staged.endswith(".md") or staged.endswith(".ipynb")):
            copied.add(resolved)
        elif html_pages:  # MkDocs writes a folder's README.md as its index.html
            staged = re.sub(r"(^|/)README\.html$", r"\1index.html", staged.rsplit(".", 1)[0] + ".html")
        new = _relative(staged, staged_name(repo_path)) + (f"#{anchor}" if anchor else "")
        return f"{head}{new}{tail}"

    return LINK.sub(fix, text)


def stage_notebook(source: Path, out: Path, copied: set[str]) -> dict[str, int]:
    """Copy one lesson with its outputs, widget views reduced to their text, links pointed at the site."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    repo_path = source.relative_to(ROOT).as_posix()
    dropped = 0
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = rewrite_links(text, repo_path, html_pages=True, copied=copied)
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                del output["data"][WIDGET_VIEW]
                dropped += 1
    target = out / repo_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {"widget_views_as_text": dropped}


def references_page() -> str:
    bib = references.load_bibliography()
    lines = ["# References", "",
             "The course's bibliography (`data/references.bib`, checked by `tests/test_references.py`): every work "
             "the lessons cite, with where it was verified.", ""]
    for key in sorted(bib, key=lambda k: (bib[k].get("year", ""), k)):
        verified = bib[key].get("verified", "")
        lines.append(f"- **{key}**: {references.format_citation(bib[key])}"
                     + (f"  \n  *Verified:* {verified}" if verified else ""))
    lines += ["", "## The article's reference list, checked", "",
              "Lesson 07 checks each reference of the source article; the verdicts are in "
              "`data/article_references.json`.", "", references.article_table_markdown(), ""]
    return "\n".join(lines)


def copy_mathjax(out: Path) -> Path:
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (static / "MathJax.js").is_file():
        raise FileNotFoundError(f"MathJax.js not found in {static}; install requirements-site-lock.txt")
    target = out / "assets" / "mathjax"
    shutil.copytree(static, target, ignore=shutil.ignore_patterns("*.md", "LICENSE"))
    # The package ships MathJax's STIX-Web fonts only: tell HTML-CSS so, or it asks for the TeX fonts (404s).
    (target / "config" / "local").mkdir(parents=True, exist_ok=True)
    (target / "config" / "local" / "course.js").write_text(
        'MathJax.Hub.Config({"HTML-CSS": {availableFonts: ["STIX-Web"], preferredFont: "STIX-Web", '
        'webFont: "STIX-Web", imageFont: null,\n'
        # MathJax's blank font points at about:blank, which Chromium refuses with a console error: a local() name instead
        '  styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local(\'MathJax_Blank\')"}}},\n'
        # The MathML output's web fonts (TeX .otf files) are not in the package: system fonts instead
        '  NativeMML: {styles: {' + ", ".join(f'"@font-face /*{i}*/": {{src: "local(\'MathJax_none\')"}}'
                                            for i in range(1, 7)) + '}}});\n'
        'MathJax.Ajax.loadComplete("[MathJax]/config/local/course.js");\n', encoding="utf-8")
    return target


def write_badges(out: Path) -> None:
    """Local stand-ins for the Colab and Binder badge images (a label on a coloured box, as the originals)."""
    (out / "assets" / "badges").mkdir(parents=True, exist_ok=True)
    for name, label, colour in BADGES.values():
        width = 8 + 7 * len(label)
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label}">'
               f'<rect width="{width}" height="20" rx="3" fill="{colour}"/>'
               f'<text x="{width / 2}" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" '
               f'text-anchor="middle">{label}</text></svg>\n')
        (out / "assets" / "badges" / name).write_text(svg, encoding="utf-8")


def stage(out: Path) -> dict:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copied: set[str] = set()
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        target = out / staged_name(page)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite_links(text, page, html_pages=False, copied=copied), encoding="utf-8")
    widgets = {nb.stem: stage_notebook(nb, out, copied)["widget_views_as_text"] for nb in lessons()}
    (out / "references.md").write_text(references_page(), encoding="utf-8")
    for path in sorted(copied):
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, out / path)
    copy_mathjax(out)
    write_badges(out)
    return {"pages": len(PAGES) + len(widgets) + 1, "lessons": len(widgets), "files_copied": sorted(copied),
            "widget_views_as_text": widgets}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site-src")
    args = parser.parse_args(argv)
    summary = stage(args.out)
    print(f"Staged {summary['pages']} pages ({summary['lessons']} lessons) in {args.out}; "
          f"{len(summary['files_copied'])} linked files copied; widget views shown as text: "
          f"{sum(summary['widget_views_as_text'].values())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
