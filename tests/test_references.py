"""The course bibliography (data/references.bib), the article's corrected reference list, and their reader."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from course_utils import references
from course_utils.references import (
    PROBLEMS,
    REQUIRED_FIELDS,
    STATUSES,
    article_table_markdown,
    citation_keys_in,
    format_citation,
    load_article_references,
    load_bibliography,
    parse_bibtex,
    split_authors,
)

ROOT = Path(__file__).resolve().parent.parent
BIB = ROOT / "data" / "references.bib"
ARTICLE = ROOT / "data" / "article_references.json"
# The source article, where the workspace has it: a shared/ folder inside the checkout or beside it (not in git).
SEED = next((folder / "shared" / "seed" / "000_aaba7a94b639e994.txt" for folder in (ROOT, ROOT.parent)
             if (folder / "shared" / "seed" / "000_aaba7a94b639e994.txt").is_file()), ROOT / "shared" / "seed" / "absent")
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))

# The keys agreed for lesson markdown (issue 13): each must be in the bibliography under exactly this name.
AGREED_KEYS = """
goodfellow2014generative radford2016unsupervised karras2019style karras2020analyzing karras2020training brock2019large
ramesh2021zero ramesh2022hierarchical ho2020denoising sohldickstein2015deep song2021score dhariwal2021diffusion
rombach2022high kingma2014auto zhao2020differentiable isola2017image zhu2017unpaired ledig2017photo ulyanov2018deep
blau2018perception ronneberger2015unet zhang2017beyond dong2014learning wang2004image rudin1992nonlinear
tomasi1998bilateral chang2000adaptive donoho1994ideal damelin2018surface metz2017unrolled heusel2017gans
salimans2016improved mirza2014conditional odena2017conditional odena2016deconvolution dumoulin2016guide yu2016multi
lecun1998gradient krizhevsky2012imagenet he2016deep huang2017densely simonyan2015very kingma2015adam ioffe2015batch
arjovsky2017wasserstein gulrajani2017improved mescheder2018which miyato2018spectral zhang2019self szegedy2016rethinking
yazici2019unusual micikevicius2018mixed white2016sampling harkonen2020ganspace shen2020interpreting simonyan2014deep
zeiler2014visualizing webster2019detecting nichol2021improved
""".split()

GOOD_ENTRY = """@article{a,
  author = {Doe, Jane and Roe, Richard},
  title = {A {GAN} Study},
  journal = {Journal},
  year = {2020},
  url = {https://example.org},
  verified = {https://example.org}
}
"""


@pytest.fixture(scope="module")
def bib() -> dict[str, dict[str, str]]:
    return load_bibliography()


@pytest.fixture(scope="module")
def article(bib) -> list[dict]:
    return load_article_references(bibliography=bib)


# --- the bibliography file -------------------------------------------------------------------------------------------

def test_the_bibliography_parses_and_holds_every_agreed_key(bib):
    assert len(AGREED_KEYS) == 59 and len(set(AGREED_KEYS)) == 59
    missing = sorted(set(AGREED_KEYS) - set(bib))
    assert not missing, f"agreed citation keys missing from data/references.bib: {missing}"


def test_keys_in_the_file_are_unique_and_all_parsed(bib):
    """Counted from the raw text, independently of the parser."""
    raw = re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), flags=re.M)
    duplicates = [key for key, count in Counter(raw).items() if count > 1]
    assert not duplicates
    assert list(bib) == raw


def test_a_duplicate_key_raises_with_both_line_numbers(tmp_path):
    file = tmp_path / "dup.bib"
    file.write_text(GOOD_ENTRY + "\n" + GOOD_ENTRY, encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 10: duplicate key 'a' \(first defined on line 1\)"):
        load_bibliography(file)


def test_every_entry_has_the_fields_its_type_requires(bib):
    assert REQUIRED_FIELDS["article"] == ("author", "title", "journal", "year")
    assert REQUIRED_FIELDS["inproceedings"] == ("author", "title", "booktitle", "year")
    assert REQUIRED_FIELDS["book"] == ("author", "title", "publisher", "year")
    for key, entry in bib.items():
        needed = REQUIRED_FIELDS[entry["ENTRYTYPE"]] + ("url", "verified")
        missing = [f for f in needed if not entry.get(f)]
        assert not missing, f"{key} lacks {missing}"
        assert re.fullmatch(r"(19|20)\d\d", entry["year"]), key
        assert "PENDING" not in entry["verified"], key
        if "eprint" in entry:
            assert re.fullmatch(r"\d{4}\.\d{4,5}", entry["eprint"]), key
            assert entry.get("archiveprefix") == "arXiv", key


def test_keys_follow_author_year_firstword(bib):
    for key, entry in bib.items():
        match = re.fullmatch(r"([a-z]+)(\d{4})([a-z]+)", key)
        assert match, key
        assert match.group(2) == entry["year"], f"{key}: year {entry['year']}"
        family = split_authors(entry["author"])[0].split()[-1]
        plain = unicodedata.normalize("NFKD", family.replace("ı", "i")).encode("ascii", "ignore").decode().lower()
        assert re.sub(r"[^a-z]", "", plain) == match.group(1), f"{key}: first author {family}"


@pytest.mark.parametrize("field, value", [("author", ""), ("journal", None), ("url", None), ("verified", None)])
def test_a_missing_required_field_raises(tmp_path, field, value):
    lines = [line for line in GOOD_ENTRY.splitlines() if not line.strip().startswith(field + " ")]
    if value is not None:
        lines.insert(1, f"  {field} = {{{value}}},")
    file = tmp_path / "bad.bib"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"'a' \(@article\) lacks the required field\(s\) {field}"):
        load_bibliography(file)


@pytest.mark.parametrize("text, message", [
    (GOOD_ENTRY.replace("title = {A {GAN} Study},", "title = {A {GAN Study},"),
     r"line 3: the value of 'title' opened here is not closed before the next field \(line 4\)"),
    (GOOD_ENTRY.replace("@article", "@online"), r"line 1: entry type @online is not one of"),
    (GOOD_ENTRY.replace("{Journal},", "{Journal}"), r"line 5: expected ',' or '\}' after the field 'journal'"),
    ("stray text\n" + GOOD_ENTRY, r"line 1: expected '@' to start an entry"),
    (GOOD_ENTRY.replace("{Journal}", "jnl"), r"line 4: expected a value in braces, in quotes or a number"),
    (GOOD_ENTRY.replace("{Journal}", '"Jour" # "nal"'), r"line 4: '#' concatenation is not supported"),
    (GOOD_ENTRY.replace("title = {A {GAN} Study},", "title = {A}}, x = {y},"), r"line 3: expected '@' to start"),
    (GOOD_ENTRY.replace("  year = {2020},", "  year = {2020},\n  year = {2021},"), r"line 6: field 'year' given twice"),
    (GOOD_ENTRY.replace("{2020}", "{20xx}"), r"year should be a four-digit year"),
    (GOOD_ENTRY.replace("verified = {https://example.org}", "verified = {PENDING}"), r"'verified' field still says PENDING"),
    (GOOD_ENTRY.replace("  year = {2020},", "  year = {2020},\n  pages = {12-19},"), r"pages should be 'first--last'"),
    (GOOD_ENTRY.replace("  year = {2020},", "  year = {2020},\n  eprint = {arXiv:1406.2661},"), r"eprint should be"),
    (GOOD_ENTRY[:-3], r"line 7: expected ',' or '\}' after the field 'verified' in entry 'a', found the end"),
    ("@misc{c,\n  title = {never closed\n", r"line 2: the value opened here is never closed"),
])
def test_malformed_bibtex_raises_with_a_line_number(tmp_path, text, message):
    file = tmp_path / "bad.bib"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_bibliography(file)


def test_the_reader_keeps_values_and_accepts_quotes_numbers_and_comments():
    text = '% a comment line\n@Misc{b, author = "Roe, R.", title = "On {X}", year = 1999,\n  note={a {b} c},}\n'
    entry = parse_bibtex(text)["b"]
    assert entry == {"ENTRYTYPE": "misc", "ID": "b", "author": "Roe, R.", "title": "On {X}", "year": "1999",
                     "note": "a {b} c"}
    with pytest.raises(ValueError, match="expected the BibTeX text as a str"):
        parse_bibtex(b"@misc{b,}")  # type: ignore[arg-type]


# --- citations in the lessons ----------------------------------------------------------------------------------------

def test_citation_keys_in_finds_pandoc_citations_only():
    text = ("GANs [@goodfellow2014generative] and DCGAN [see @radford2016unsupervised, p. 3; @a1]; "
            "suppressed [-@he2016deep]. Not these: mail [me@example.org], bare @karras2019style, [link](http://x).")
    assert citation_keys_in(text) == {"goodfellow2014generative", "radford2016unsupervised", "a1", "he2016deep"}
    assert citation_keys_in("# [@ho2020denoising;\n# @song2021score]") == {"ho2020denoising", "song2021score"}
    assert citation_keys_in("no citations here") == set()
    with pytest.raises(ValueError, match="expected markdown text as a str"):
        citation_keys_in(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_key_a_lesson_cites_is_in_the_bibliography(lesson, bib):
    unknown = sorted(citation_keys_in(lesson.read_text(encoding="utf-8")) - set(bib))
    assert not unknown, f"{lesson.name} cites keys missing from data/references.bib: {unknown}"


# --- the article's reference list ------------------------------------------------------------------------------------

def test_all_50_entries_are_present_in_order(article):
    assert [item["n"] for item in article] == list(range(1, 51))
    raw = json.loads(ARTICLE.read_text(encoding="utf-8"))
    assert [item["n"] for item in raw] == list(range(1, 51))


def test_as_cited_is_the_article_text_verbatim(article):
    if not SEED.exists():
        pytest.skip("the source article is not in this checkout")
    cited = dict(re.findall(r"^\[(\d+)\] (.*)$", SEED.read_text(encoding="utf-8"), flags=re.M))
    assert len(cited) == 50
    for item in article:
        assert item["as_cited"] == cited[str(item["n"])].strip(), item["n"]


def test_every_key_of_the_article_table_is_in_the_bibliography(article, bib):
    for item in article:
        for field in ("key", "closest_key"):
            assert item[field] is None or item[field] in bib, (item["n"], field, item[field])


def test_statuses_agree_with_problems(article):
    by_n = {item["n"]: item for item in article}
    for item in article:
        status, problems, n = item["status"], item["problems"], item["n"]
        assert status in STATUSES and set(problems) <= set(PROBLEMS), n
        if status == "correct":
            assert problems == [] and item["key"], n
        if status == "errors":
            assert problems and not {"duplicate", "does_not_exist"} & set(problems) and item["key"], n
        if status == "duplicate":
            assert "duplicate" in problems and item["duplicate_of"] is not None, n
            original = by_n[item["duplicate_of"]]
            assert original["n"] < n and original["status"] != "duplicate", n
            assert (original["key"], original["closest_key"]) == (item["key"], item["closest_key"]), n
        else:
            assert item["duplicate_of"] is None, n
        if "does_not_exist" in problems:
            assert item["key"] is None and item["notes"].strip(), n
            assert item["closest_key"] is not None or "no close" in item["notes"], n
        else:
            assert item["closest_key"] is None, n


def test_the_review_finds_what_issue_13_reports(article):
    """The issue's examples of wrong entries, as the table records them."""
    by_n = {item["n"]: item for item in article}
    assert by_n[1]["status"] == "errors" and {"title", "pages"} <= set(by_n[1]["problems"])  # lesson 00 said right
    assert by_n[9]["closest_key"] == "karras2019style"                              # StyleGAN as "Chen et al., 2017"
    assert by_n[2]["key"] == "openai2021dall" and "authors" in by_n[2]["problems"]  # DALL-E by the DCGAN authors
    assert by_n[14]["status"] == "not_found" and by_n[14]["closest_key"] == "ramesh2021zero"
    assert by_n[5]["key"] == "ulyanov2018deep" and {"authors", "title"} <= set(by_n[5]["problems"])
    assert by_n[28]["key"] == "huang2017densely" and "authors" in by_n[28]["problems"]
    fives = [item["n"] for item in article if item["as_cited"] == by_n[34]["as_cited"]]
    assert fives == [34, 35, 36, 47, 49]
    assert all(by_n[n]["duplicate_of"] == 34 for n in fives[1:]) and by_n[34]["status"] == "not_found"
    counts = Counter(item["status"] for item in article)
    assert sum(counts.values()) == 50 and counts["correct"] == 5


def _write_article(tmp_path, items) -> Path:
    file = tmp_path / "article.json"
    file.write_text(json.dumps(items), encoding="utf-8")
    return file


@pytest.mark.parametrize("change, message", [
    (lambda d: d[0].update(status="fine"), r"status should be one of"),
    (lambda d: d[0].update(problems=["typo"]), r"problems should be a list of distinct values"),
    (lambda d: d[0].update(extra=1), r"unknown field\(s\) \['extra'\]"),
    (lambda d: d[0].pop("notes"), r"missing field\(s\) \['notes'\]"),
    (lambda d: d[0].update(key="nosuch2020key"), r"key 'nosuch2020key' is not in the bibliography"),
    (lambda d: d[0].update(status="correct"), r"status 'correct' does not agree with problems"),
    (lambda d: d[14].update(duplicate_of=None), r"status 'duplicate' does not agree"),
    (lambda d: d[14].update(duplicate_of=15), r"duplicate_of should be the number of an earlier entry"),
    (lambda d: d[6].update(key="karras2019style"), r"does not exist as stated has key null"),
    (lambda d: d[0].update(n=2), r"expected n = 1"),
    (lambda d: d[20].update(closest_key="he2016deep"), r"closest_key is only for entries that do not exist"),
])
def test_malformed_article_json_raises(tmp_path, bib, change, message):
    items = json.loads(ARTICLE.read_text(encoding="utf-8"))
    change(items)
    with pytest.raises(ValueError, match=message):
        load_article_references(_write_article(tmp_path, items), bibliography=bib)


def test_invalid_json_raises(tmp_path, bib):
    file = tmp_path / "broken.json"
    file.write_text('[{"n": 1,}]', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_article_references(file, bibliography=bib)
    with pytest.raises(ValueError, match="expected a non-empty JSON list"):
        load_article_references(_write_article(tmp_path, {"n": 1}), bibliography=bib)


# --- formatting ------------------------------------------------------------------------------------------------------

def test_format_citation_on_known_entries(bib):
    assert format_citation(bib["karras2019style"]) == (
        "Tero Karras, Samuli Laine and Timo Aila (2019). A Style-Based Generator Architecture for Generative "
        "Adversarial Networks. Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition "
        "(CVPR), pp. 4401–4410. arXiv:1812.04948.")
    assert format_citation(bib["goodfellow2014generative"]).startswith(
        "Ian Goodfellow et al. (2014). Generative Adversarial Nets. Advances in Neural Information Processing")
    assert format_citation(bib["lecun2015deep"]) == (
        "Yann LeCun, Yoshua Bengio and Geoffrey Hinton (2015). Deep Learning. Nature 521(7553), pp. 436–444. "
        "doi:10.1038/nature14539.")
    assert format_citation(bib["blau2018perception"]).startswith("Yochai Blau and Tomer Michaeli (2018).")
    assert format_citation(bib["huang2017densely"]).startswith("Gao Huang et al. (2017).")  # four authors
    assert format_citation(bib["chollet2015keras"]) == "François Chollet et al. (2015). Keras. https://keras.io."
    assert format_citation(bib["mirza2014conditional"]) == (
        "Mehdi Mirza and Simon Osindero (2014). Conditional Generative Adversarial Nets. arXiv preprint "
        "arXiv:1411.1784.")
    assert format_citation(bib["openai2021dall"]).endswith("OpenAI blog. https://openai.com/blog/dall-e/.")


def test_format_citation_rejects_bad_entries(bib):
    with pytest.raises(ValueError, match="expected a bibliography entry"):
        format_citation("karras2019style")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ENTRYTYPE one of"):
        format_citation({"ENTRYTYPE": "online", "author": "A", "title": "T", "year": "2000"})
    entry = dict(bib["karras2019style"])
    del entry["booktitle"]
    with pytest.raises(ValueError, match="lacks booktitle"):
        format_citation(entry)


def test_split_authors():
    assert split_authors("van der Maaten, Laurens and Weinberger, Kilian Q.") == ["Laurens van der Maaten",
                                                                                 "Kilian Q. Weinberger"]
    assert split_authors("{OpenAI}") == ["OpenAI"]
    assert split_authors("{Smith and Sons} and Jane Doe") == ["Smith and Sons", "Jane Doe"]
    with pytest.raises(ValueError, match="an empty name"):
        split_authors("Doe, J. and ")


def test_article_table_markdown(article, bib):
    table = article_table_markdown(article, bib)
    rows = table.splitlines()
    assert rows[0].startswith("| # | the article says") and len(rows) == 2 + 50
    for item, row in zip(article, rows[2:]):
        assert row.startswith(f"| {item['n']} | ") and row.count(" | ") >= 3
    assert "title, pages." in rows[2]
    assert "no such work; closest real work is Tero Karras, Samuli Laine and Timo Aila (2019)" in rows[2 + 8]
    assert "duplicate of [34]" in rows[2 + 34]
    assert "nothing: correct" in rows[2 + 20]
    assert table == references.article_table_markdown()  # the defaults load the same files


# --- issue 24: linear time, file names in decoding errors, field types ------------------------------------------

def test_the_reader_is_linear_in_newlines_and_entries():
    import time

    from course_utils.references import _Reader

    tall = GOOD_ENTRY.replace("A {GAN} Study", "A" + "\n" * 40_000 + "Study")  # a closed title of 40,000 newlines
    start = time.perf_counter()
    assert parse_bibtex(tall, "tall.bib")["a"]["title"] == "A Study"
    assert time.perf_counter() - start < 3.0  # was 10 s: the check for a swallowed field was quadratic in newlines
    many = "".join(GOOD_ENTRY.replace("@article{a,", f"@article{{a{i},") for i in range(20_000))
    reader = _Reader(many, "many.bib")
    step = len(many) // 20_000
    start = time.perf_counter()
    lines = [reader.line(i * step) for i in range(20_000)]  # what the parser asks once per entry
    assert time.perf_counter() - start < 3.0  # was 9.7 s: each line number counted from the start of the text
    assert lines[1] == many.count("\n", 0, step) + 1 and lines[-1] == many.count("\n", 0, 19_999 * step) + 1
    assert len(parse_bibtex(many[:many.index("@article{a2000,")], "many.bib")) == 2_000


def test_an_unclosed_value_names_the_line_of_the_field_it_swallowed():
    with pytest.raises(ValueError, match=r"line 4: the value of 'title' opened here is not closed before the next "
                                         r"field \(line 40004\)"):
        parse_bibtex("@misc{c,\n  year = {2020},\n\n  title = {a" + "\n" * 40_000 + " note = {x}}\n", "big.bib")


def test_a_file_that_is_not_utf8_names_itself(tmp_path, bib):
    bad = tmp_path / "latin1.bib"
    bad.write_bytes(GOOD_ENTRY.replace("Study", "Studÿ").encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.bib is not UTF-8 text: byte 0xff at offset \d+"):
        load_bibliography(bad)
    article_file = tmp_path / "article.json"
    article_file.write_bytes(b'[{"n": 1, "as_cited": "\xff"}]')
    with pytest.raises(ValueError, match=r"article.json is not UTF-8 text"):
        load_article_references(article_file, bibliography=bib)


@pytest.mark.parametrize("change, message", [
    (lambda d: d[0].update(n=1.0), r"expected n = 1 \(an integer\), got 1.0"),
    (lambda d: d[0].update(key=["x"]), r"key should be a bibliography key \(a string\) or null, got \['x'\]"),
    (lambda d: d[0].update(closest_key={"a": 1}), r"closest_key should be a bibliography key"),
])
def test_article_fields_of_the_wrong_type_are_refused(tmp_path, bib, change, message):
    items = json.loads(ARTICLE.read_text(encoding="utf-8"))
    change(items)
    with pytest.raises(ValueError, match=message):
        load_article_references(_write_article(tmp_path, items), bibliography=bib)
