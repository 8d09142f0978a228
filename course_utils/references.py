"""The course bibliography and the corrected reference list of the source article.

``data/references.bib`` holds one BibTeX entry for every work the course cites, each checked against the publication
(its ``verified`` field says where). ``data/article_references.json`` holds the 50 entries of the article's own
reference list ("参考文献"), each with what is wrong with it and the real work it stands for.

The reader here is deliberately small and strict: it knows the entry types the course uses (``@article``,
``@inproceedings``, ``@misc``, ``@book``, ``@incollection``, ``@techreport``), field values in braces, in double
quotes or as bare numbers, and ``%`` comment lines between entries. Anything else (string macros, ``#``
concatenation, text between entries, a duplicate key or field, an unbalanced brace) raises ``ValueError`` with the
line number, so that a typo in the bibliography fails the tests instead of silently dropping a reference.

Lesson markdown cites with pandoc's syntax, ``[@key]`` or ``[@key1; @key2]``; :func:`citation_keys_in` finds
those keys so that a test can check each one exists in the bibliography.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

__all__ = [
    "ENTRY_TYPES",
    "REQUIRED_FIELDS",
    "STATUSES",
    "PROBLEMS",
    "load_bibliography",
    "parse_bibtex",
    "check_entry",
    "split_authors",
    "format_citation",
    "load_article_references",
    "article_table_markdown",
    "citation_keys_in",
]

DATA = Path(__file__).resolve().parent.parent / "data"
BIB_PATH = DATA / "references.bib"
ARTICLE_PATH = DATA / "article_references.json"

#: Fields every entry of a type must have (``url`` and ``verified`` are required for every type in this course).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "article": ("author", "title", "journal", "year"),
    "inproceedings": ("author", "title", "booktitle", "year"),
    "misc": ("author", "title", "year"),
    "book": ("author", "title", "publisher", "year"),
    "incollection": ("author", "title", "booktitle", "publisher", "year"),
    "techreport": ("author", "title", "institution", "year"),
}
ENTRY_TYPES = tuple(REQUIRED_FIELDS)
COMMON_FIELDS = ("url", "verified")

#: Values of ``status`` in the article's reference table, and the problems an entry can have.
STATUSES = ("correct", "errors", "duplicate", "not_found")
PROBLEMS = ("authors", "year", "title", "venue", "pages", "duplicate", "does_not_exist")
ARTICLE_FIELDS = ("n", "as_cited", "status", "problems", "notes", "key", "duplicate_of", "closest_key", "verified")

_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:\-]*")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_YEAR = re.compile(r"(1[89]|20)\d\d")
_PAGES = re.compile(r"\d+--\d+|[A-Za-z]?\d+")
_ARXIV = re.compile(r"\d{4}\.\d{4,5}(v\d+)?")
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_SWALLOWED = re.compile(r"\n[ \t\r\f\v]*[A-Za-z][A-Za-z0-9_\-]*[ \t\r\f\v]*=\s*[{\"\d]")  # no \s* over newlines:
# a run of newlines would make it try every one of them from every one (quadratic)
_CITATION = re.compile(r"\[([^\[\]]*)\]")
_CITED_KEY = re.compile(r"(?:^|(?<=[\s;\-\[]))@([A-Za-z0-9_](?:[A-Za-z0-9_:\-]*[A-Za-z0-9_])?)")


class _Reader:
    """A cursor over BibTeX text that knows its line number (for error messages)."""

    def __init__(self, text: str, source: str) -> None:
        self.text, self.source, self.pos = text, source, 0
        self._newlines: list[int] | None = None  # positions of every newline, found once when first needed

    def line(self, pos: int | None = None) -> int:
        import bisect

        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, self.pos if pos is None else pos) + 1

    def fail(self, what: str, pos: int | None = None) -> ValueError:
        return ValueError(f"{self.source}, line {self.line(pos)}: {what}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def skip_space_and_comments(self) -> None:
        while True:
            self.skip_space()
            if self.peek() != "%":
                return
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end + 1

    def expect(self, char: str, context: str) -> None:
        self.skip_space()
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end of the file"
            raise self.fail(f"expected {char!r} {context}, found {found}")
        self.pos += 1

    def name(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip_space()
        match = pattern.match(self.text, self.pos)
        if not match:
            found = repr(self.text[self.pos:self.pos + 20]) if self.peek() else "the end of the file"
            raise self.fail(f"expected {what}, found {found}")
        self.pos = match.end()
        return match.group(0)

    def delimited(self, closing: str) -> str:
        """Text up to ``closing`` at brace depth 0 (the opening delimiter already read)."""
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0 and closing == "}":
                    self.pos += 1
                    return self.text[start:self.pos - 1]
                depth -= 1
                if depth < 0:
                    raise self.fail("a '}' closes a brace that was never opened")
            elif char == closing and depth == 0:
                self.pos += 1
                return self.text[start:self.pos - 1]
            self.pos += 1
        raise self.fail(f"the value opened here is never closed with {closing!r}", start - 1)

    def value(self, field: str) -> str:
        self.skip_space()
        char, start = self.peek(), self.pos
        if char == "{":
            self.pos += 1
            raw = self.delimited("}")
            swallowed = _SWALLOWED.search(raw)
            if swallowed:  # an unclosed brace took the next field(s) into this value
                raise self.fail(f"the value of {field!r} opened here is not closed before the next field "
                                f"(line {self.line(start + 1 + swallowed.start() + 1)})", start)
        elif char == '"':
            self.pos += 1
            raw = self.delimited('"')
        elif char.isdigit():
            raw = self.name(re.compile(r"\d+"), "a number")
        else:
            found = repr(char) if char else "the end of the file"
            raise self.fail(f"expected a value in braces, in quotes or a number, found {found} (string macros are "
                            "not supported)")
        self.skip_space()
        if self.peek() == "#":
            raise self.fail("'#' concatenation is not supported")
        return " ".join(raw.split())


def parse_bibtex(text: str, source: str = "<string>") -> dict[str, dict[str, str]]:
    """Parse BibTeX text into ``{key: {field: value, "ENTRYTYPE": type, "ID": key}}``, strictly.

    Introduced in 07_trends_and_challenges.

    Field names are lower-cased; values keep their inner braces (``{GAN}`` protects capitals), with runs of
    whitespace collapsed to one space. Required fields are not checked here (see :func:`check_entry`).

    Args:
        text: the content of a ``.bib`` file.
        source: a name for the text in error messages (the file path).

    Returns:
        The entries in file order, by key.

    Raises:
        ValueError: on an unknown entry type, a malformed key, field or value, an unclosed brace, text outside an
            entry, a field given twice, or a key used twice; the message gives the line number.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected the BibTeX text as a str, got {type(text).__name__}")
    reader = _Reader(text, source)
    entries: dict[str, dict[str, str]] = {}
    lines: dict[str, int] = {}
    while True:
        reader.skip_space_and_comments()
        if reader.pos >= len(text):
            return entries
        if reader.peek() != "@":
            raise reader.fail(f"expected '@' to start an entry (or a '%' comment), found {text[reader.pos:reader.pos + 20]!r}")
        start = reader.pos
        reader.pos += 1
        kind = reader.name(_FIELD, "an entry type after '@'").lower()
        if kind not in REQUIRED_FIELDS:
            raise reader.fail(f"entry type @{kind} is not one of {', '.join('@' + t for t in ENTRY_TYPES)}", start)
        reader.expect("{", f"after @{kind}")
        key = reader.name(_KEY, f"a citation key after @{kind}{{")
        if key in entries:
            raise reader.fail(f"duplicate key {key!r} (first defined on line {lines[key]})", start)
        lines[key] = reader.line(start)
        entry: dict[str, str] = {"ENTRYTYPE": kind, "ID": key}
        reader.skip_space()
        if reader.peek() == "}":
            raise reader.fail(f"entry {key!r} has no fields")
        reader.expect(",", f"after the key {key!r}")
        while True:
            reader.skip_space()
            if reader.peek() == "}":
                reader.pos += 1
                break
            field_pos = reader.pos
            field = reader.name(_FIELD, f"a field name or '}}' in entry {key!r}").lower()
            if field in entry or field in {"entrytype", "id"}:
                raise reader.fail(f"field {field!r} given twice in entry {key!r}", field_pos)
            reader.expect("=", f"after the field name {field!r} in entry {key!r}")
            entry[field] = reader.value(field)
            reader.skip_space()
            if reader.peek() == ",":
                reader.pos += 1
            elif reader.peek() != "}":
                found = repr(reader.peek()) if reader.peek() else "the end of the file"
                raise reader.fail(f"expected ',' or '}}' after the field {field!r} in entry {key!r}, found {found}")
        entries[key] = entry


def check_entry(entry: dict[str, str]) -> None:
    """Check that one parsed entry has the fields its type needs and that they are well formed.

    Introduced in 07_trends_and_challenges.

    Every type needs the fields of :data:`REQUIRED_FIELDS` plus ``url`` and ``verified``; ``year`` is four digits,
    ``pages`` is ``N--M`` or a single article number, ``eprint`` an arXiv identifier, ``doi`` starts with ``10.``.

    Args:
        entry: one value of :func:`parse_bibtex`'s result.

    Raises:
        ValueError: naming the entry and what is missing or malformed.
    """
    key, kind = entry.get("ID", "?"), entry.get("ENTRYTYPE", "?")
    if kind not in REQUIRED_FIELDS:
        raise ValueError(f"entry {key!r}: type {kind!r} is not one of {ENTRY_TYPES}")
    missing = [f for f in REQUIRED_FIELDS[kind] + COMMON_FIELDS if not entry.get(f, "").strip()]
    if missing:
        raise ValueError(f"entry {key!r} (@{kind}) lacks the required field(s) {', '.join(missing)}")
    checks = (("year", _YEAR, "a four-digit year"), ("pages", _PAGES, "'first--last' or one article number"),
              ("eprint", _ARXIV, "an arXiv identifier such as 1406.2661"), ("doi", _DOI, "a DOI starting with '10.'"))
    for field, pattern, expected in checks:
        if field in entry and not pattern.fullmatch(entry[field]):
            raise ValueError(f"entry {key!r}: {field} should be {expected}, got {entry[field]!r}")
    if "PENDING" in entry["verified"]:
        raise ValueError(f"entry {key!r}: its 'verified' field still says PENDING")


def load_bibliography(path: str | os.PathLike | None = None) -> dict[str, dict[str, str]]:
    """Read the course bibliography (``data/references.bib`` by default) and check every entry.

    Introduced in 07_trends_and_challenges.

    Args:
        path: a ``.bib`` file; ``None`` for the course's own.

    Returns:
        ``{key: {field: value, "ENTRYTYPE": type, "ID": key}}`` in file order.

    Raises:
        ValueError: if the file is malformed (with the line number), a key is used twice, or an entry lacks a
            required field.
        FileNotFoundError: if the file does not exist.
    """
    file = BIB_PATH if path is None else Path(path)
    entries = parse_bibtex(_read_utf8(file), str(file))
    for entry in entries.values():
        check_entry(entry)
    return entries


def _plain(value: str) -> str:
    r"""A field value for reading: ``\url{x}`` becomes ``x``, protective braces and ``--`` ranges are undone."""
    value = re.sub(r"\\url\{([^{}]*)\}", r"\1", value)
    value = re.sub(r"\\&", "&", value)
    return value.replace("{", "").replace("}", "").replace("--", "–")


def split_authors(author: str) -> list[str]:
    """Split a BibTeX ``author`` field into names written "Given Family" (``"others"`` stays ``"others"``).

    Introduced in 07_trends_and_challenges.

    Args:
        author: names separated by `` and `` (at brace depth 0), each "Family, Given" or "Given Family".

    Returns:
        The names in order.

    Raises:
        ValueError: if the field is empty or a name is empty.
    """
    parts, depth, start = [], 0, 0
    for i, char in enumerate(author):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and author.startswith(" and ", i):
            parts.append(author[start:i])
            start = i + 5
    parts.append(author[start:])
    names = []
    for part in parts:
        part = _plain(part).strip()
        if not part:
            raise ValueError(f"an empty name in the author list {author!r}")
        if "," in part:
            family, given = (s.strip() for s in part.split(",", 1))
            part = f"{given} {family}".strip()
        names.append(part)
    return names


def format_citation(entry: dict[str, str]) -> str:
    """One entry as a readable citation: authors (year). Title. Venue, pages. arXiv id. DOI.

    Introduced in 07_trends_and_challenges.

    Authors are "A, B and C"; more than three become "A et al.". The venue is the ``journal`` (with volume and
    number), the ``booktitle``, the ``publisher`` of a book or the ``howpublished`` of a ``@misc`` (a ``@misc``
    without arXiv id or DOI, such as a blog post or software, also gets its ``url``).

    Args:
        entry: one entry of :func:`load_bibliography`.

    Returns:
        The citation as one line of plain text.

    Raises:
        ValueError: if the entry lacks the fields its type requires.
    """
    if not isinstance(entry, dict):
        raise ValueError(f"expected a bibliography entry (dict), got {type(entry).__name__}")
    kind = entry.get("ENTRYTYPE")
    if kind not in REQUIRED_FIELDS:
        raise ValueError(f"expected an entry with ENTRYTYPE one of {ENTRY_TYPES}, got {kind!r}")
    missing = [f for f in REQUIRED_FIELDS[kind] if not entry.get(f)]
    if missing:
        raise ValueError(f"entry {entry.get('ID', '?')!r} lacks {', '.join(missing)}")
    names = split_authors(entry["author"])
    if len(names) > 3 or names[-1] == "others":
        authors = f"{names[0]} et al."
    elif len(names) == 1:
        authors = names[0]
    else:
        authors = f"{', '.join(names[:-1])} and {names[-1]}"
    title = _plain(entry["title"]).rstrip(".")
    parts = [f"{authors} ({entry['year']}). {title}{'' if title.endswith('?') else '.'}"]
    if kind == "article":
        venue = _plain(entry["journal"])
        if entry.get("volume"):
            venue += f" {entry['volume']}"
            if entry.get("number"):
                venue += f"({_plain(entry['number'])})"
    elif kind in {"inproceedings", "incollection"}:
        venue = _plain(entry["booktitle"])
    elif kind == "book":
        venue = _plain(entry["publisher"])
    elif kind == "techreport":
        venue = _plain(entry["institution"])
    else:
        venue = _plain(entry.get("howpublished", ""))
    pages = _plain(entry.get("pages", ""))
    if pages:
        venue = f"{venue}, {'pp. ' if '–' in pages else ''}{pages}" if venue else pages
    if venue:
        parts.append(f"{venue}.")
    eprint = entry.get("eprint")
    if eprint and eprint not in venue:
        parts.append(f"arXiv:{eprint}.")
    if entry.get("doi"):
        parts.append(f"doi:{entry['doi']}.")
    url = entry.get("url", "")
    if kind == "misc" and url and not eprint and not entry.get("doi") and url.rstrip("/") not in venue:
        parts.append(f"{url}.")
    return " ".join(parts)


def load_article_references(path: str | os.PathLike | None = None,
                            bibliography: dict[str, dict[str, str]] | None = None) -> list[dict]:
    """Read and validate the corrected reference list of the article (``data/article_references.json``).

    Introduced in 07_trends_and_challenges.

    Each entry has exactly the fields ``n`` (1, 2, ... in order), ``as_cited`` (the article's text),
    ``status`` (one of :data:`STATUSES`), ``problems`` (a list drawn from :data:`PROBLEMS`), ``notes``, ``key``
    (the real work in the bibliography, or ``None``), ``duplicate_of`` (an earlier ``n`` or ``None``),
    ``closest_key`` (for a work that does not exist as stated) and ``verified`` (where it was checked). The
    status must agree with the problems: ``correct`` has none; ``errors`` has some, but neither ``duplicate`` nor
    ``does_not_exist``; ``duplicate`` has ``duplicate`` and names the earlier entry; ``not_found`` has
    ``does_not_exist``, no ``key``, and notes (a ``closest_key`` where a close real work exists).

    Args:
        path: the JSON file; ``None`` for the course's own.
        bibliography: the entries keys must exist in; ``None`` loads the course bibliography.

    Returns:
        The entries, sorted by ``n``.

    Raises:
        ValueError: on malformed JSON, a missing or unknown field, a bad status or problem, inconsistent status
            and problems, a number out of order, or a key missing from the bibliography.
    """
    file = ARTICLE_PATH if path is None else Path(path)
    try:
        data = json.loads(_read_utf8(file))
    except json.JSONDecodeError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from error
    bib = load_bibliography() if bibliography is None else bibliography
    if not isinstance(data, list) or not data:
        raise ValueError(f"{file}: expected a non-empty JSON list of entries, got {type(data).__name__}")
    for index, item in enumerate(data, start=1):
        _check_article_entry(item, index, bib, file)
    return data


def _read_utf8(file: Path) -> str:
    """The file's text; a file that is not UTF-8 is a ValueError naming it and the first bad byte."""
    try:
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{file} is not UTF-8 text: byte 0x{error.object[error.start]:02x} at offset {error.start} "
                         "cannot be decoded; save it as UTF-8") from error


def _check_article_entry(item: object, index: int, bib: dict[str, dict[str, str]], file: Path) -> None:
    where = f"{file}, entry {index}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object, got {type(item).__name__}")
    unknown, missing = set(item) - set(ARTICLE_FIELDS), set(ARTICLE_FIELDS) - set(item)
    if unknown or missing:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}, missing field(s) {sorted(missing)}; "
                         f"expected exactly {list(ARTICLE_FIELDS)}")
    if not isinstance(item["n"], int) or isinstance(item["n"], bool):
        raise ValueError(f"{where}: expected n = {index} (an integer), got {item['n']!r}")
    if item["n"] != index:
        raise ValueError(f"{where}: expected n = {index} (entries numbered 1, 2, ... in order), got {item['n']!r}")
    for field in ("as_cited", "notes", "verified"):
        if not isinstance(item[field], str) or not item[field].strip():
            raise ValueError(f"{where}: {field} should be a non-empty string, got {item[field]!r}")
    status, problems = item["status"], item["problems"]
    if status not in STATUSES:
        raise ValueError(f"{where}: status should be one of {STATUSES}, got {status!r}")
    if not isinstance(problems, list) or any(p not in PROBLEMS for p in problems) or len(set(problems)) != len(problems):
        raise ValueError(f"{where}: problems should be a list of distinct values from {PROBLEMS}, got {problems!r}")
    for field in ("key", "closest_key"):
        if item[field] is not None and not isinstance(item[field], str):
            raise ValueError(f"{where}: {field} should be a bibliography key (a string) or null, got {item[field]!r}")
        if item[field] is not None and item[field] not in bib:
            raise ValueError(f"{where}: {field} {item[field]!r} is not in the bibliography")
    dup = item["duplicate_of"]
    if dup is not None and (not isinstance(dup, int) or isinstance(dup, bool) or not 1 <= dup < index):
        raise ValueError(f"{where}: duplicate_of should be the number of an earlier entry or null, got {dup!r}")
    exists = "does_not_exist" not in problems
    rules = {
        "correct": (not problems, "a correct entry has no problems"),
        "errors": (bool(problems) and "duplicate" not in problems and exists,
                   "an entry with errors lists them, without 'duplicate' or 'does_not_exist'"),
        "duplicate": ("duplicate" in problems and dup is not None, "a duplicate lists 'duplicate' and sets duplicate_of"),
        "not_found": (not exists and "duplicate" not in problems, "a not_found entry lists 'does_not_exist'"),
    }
    ok, rule = rules[status]
    if not ok:
        raise ValueError(f"{where}: status {status!r} does not agree with problems {problems}: {rule}")
    if status != "duplicate" and dup is not None:
        raise ValueError(f"{where}: duplicate_of is set but the status is {status!r}")
    if exists and item["key"] is None:
        raise ValueError(f"{where}: an entry that names a real work needs its key")
    if not exists and item["key"] is not None:
        raise ValueError(f"{where}: an entry that does not exist as stated has key null (use closest_key)")
    if exists and item["closest_key"] is not None:
        raise ValueError(f"{where}: closest_key is only for entries that do not exist as stated")


def _shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def article_table_markdown(references: list[dict] | None = None,
                           bibliography: dict[str, dict[str, str]] | None = None) -> str:
    """The article's reference list as a markdown table: what each entry says, what is wrong, the real work.

    Introduced in 07_trends_and_challenges.

    Args:
        references: entries as :func:`load_article_references` returns them; ``None`` loads the course's own.
        bibliography: the entries the keys refer to; ``None`` loads the course bibliography.

    Returns:
        A markdown table with one row per entry: ``#``, the article's text (shortened), what is wrong, and the
        correct citation or "no such work; closest real work is …".
    """
    bib = load_bibliography() if bibliography is None else bibliography
    refs = load_article_references(bibliography=bib) if references is None else references
    rows = ["| # | the article says (shortened) | what is wrong | the real publication |", "|---|---|---|---|"]
    for item in refs:
        problems = [f"duplicate of [{item['duplicate_of']}]" if p == "duplicate" else
                    "does not exist as stated" if p == "does_not_exist" else p for p in item["problems"]]
        wrong = "nothing: correct" if not problems else ", ".join(problems)
        wrong = f"{wrong}. {item['notes']}"
        if item["key"] is not None:
            real = format_citation(bib[item["key"]])
        elif item["closest_key"] is not None:
            real = f"no such work; closest real work is {format_citation(bib[item['closest_key']])}"
        else:
            real = "no such work; no close real work identified"
        rows.append(f"| {item['n']} | {_cell(_shorten(item['as_cited']))} | {_cell(wrong)} | {_cell(real)} |")
    return "\n".join(rows)


def citation_keys_in(text: str) -> set[str]:
    """The citation keys of pandoc-style citations in markdown: ``[@key]``, ``[@key1; @key2]``, ``[see @key, p. 3]``.

    Not in a lesson: tests/test_references.py checks with it that every key a lesson cites is in the bibliography.

    Only ``@key`` inside square brackets counts, and only where ``@`` starts a word (so an e-mail address in
    brackets is not a citation).

    Args:
        text: markdown (or a whole jupytext ``.py`` lesson).

    Returns:
        The set of keys cited.

    Raises:
        ValueError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected markdown text as a str, got {type(text).__name__}")
    keys: set[str] = set()
    for group in _CITATION.findall(text):
        keys |= set(_CITED_KEY.findall(group))
    return keys
