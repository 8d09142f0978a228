"""MkDocs hooks for `make site` (mkdocs.yml `hooks:`): the lessons' navigation, and notebook pages' contents links.

The "Lessons" section of the navigation is made from the lessons present (``notebooks/NN_topic.ipynb``, in
order), so that a new lesson is listed without editing mkdocs.yml: a lesson that mkdocs.yml names keeps the short
title given there, any other is titled from its first heading (up to a colon), and an entry whose lesson no longer
exists is dropped.

mkdocs-jupyter builds a lesson's table of contents from its headings with inline code left out ("A `tf.data`
pipeline" gives ``#a-pipeline``), while nbconvert's heading ids keep it (``a-tfdata-pipeline``): those links would
lead nowhere. Each such link is pointed at the first heading whose id holds the link's words in order.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.course")
_NAV_LINK = re.compile(r'href="#([^"]+)"')


def _holds_in_order(words: list[str], id_words: list[str]) -> bool:
    it = iter(id_words)
    return all(w in it for w in words)


def _heading_title(notebook: Path) -> str:
    """The title "NN heading": the lesson's first ``#`` heading, up to its first colon, without backticks."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            heading = re.search(r"^# +(.+)$", text, re.MULTILINE)
            if heading:
                return f"{notebook.stem[:2]} " + heading.group(1).split(":")[0].replace("`", "").strip()
    return notebook.stem.replace("_", " ")


def lesson_nav(docs_dir: Path, listed: list) -> list[dict[str, str]]:
    """The "Lessons" section: every staged lesson in order, titled as in ``listed`` (mkdocs.yml) where it is."""
    titles = {}
    for entry in listed:
        if isinstance(entry, dict):
            titles.update({path: title for title, path in entry.items() if isinstance(path, str)})
    present = sorted(p.relative_to(docs_dir).as_posix() for p in docs_dir.glob("notebooks/[0-9][0-9]_*.ipynb"))
    for gone in sorted(set(titles) - set(present)):
        log.info("mkdocs.yml lists %s, which is not a lesson any more: left out of the navigation", gone)
    return [{titles.get(path) or _heading_title(docs_dir / path): path} for path in present]


def on_config(config):
    for entry in config.nav or []:
        if isinstance(entry, dict) and "Lessons" in entry:
            entry["Lessons"] = lesson_nav(Path(config.docs_dir), entry["Lessons"])
            return config
    raise ValueError("mkdocs.yml's nav has no \"Lessons\" section for the hook to fill")


def on_post_page(output: str, page, config) -> str:
    ids = set(re.findall(r'\bid="([^"]+)"', output))
    missing = [f for f in dict.fromkeys(_NAV_LINK.findall(output)) if f not in ids]
    if not missing:
        return output
    headings = re.findall(r'<h[1-6] id="([^"]+)"', output)
    used = set(re.findall(r'href="#([^"]+)" class="md-nav__link"', output)) & ids  # headings the contents list has
    mapping = {}
    for fragment in missing:
        words = fragment.split("-")
        match = next((h for h in headings if h not in used and _holds_in_order(words, h.split("-"))), None)
        if match is not None:
            mapping[fragment] = match
            used.add(match)
    return _NAV_LINK.sub(lambda m: f'href="#{mapping.get(m.group(1), m.group(1))}"', output)
