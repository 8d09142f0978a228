"""MkDocs hook for `make site` (mkdocs.yml `hooks:`): mend the table-of-contents links of notebook pages.

mkdocs-jupyter builds a lesson's table of contents from its headings with inline code left out ("A `tf.data`
pipeline" gives ``#a-pipeline``), while nbconvert's heading ids keep it (``a-tfdata-pipeline``): those links would
lead nowhere. Each such link is pointed at the first heading whose id holds the link's words in order.
"""

from __future__ import annotations

import re

_NAV_LINK = re.compile(r'href="#([^"]+)"')


def _holds_in_order(words: list[str], id_words: list[str]) -> bool:
    it = iter(id_words)
    return all(w in it for w in words)


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
