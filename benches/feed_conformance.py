#!/usr/bin/env python3
"""Feed conformance evaluation: huiliu against a mature parser's test suite.

Runs `huiliu parse --json` on every test file of Python feedparser's
`tests/` folder (wellformed/, illformed/, encoding/, entities/), maps what
huiliu read to a feedparser-like result, and evaluates each file's
`Expect:` expression against it. Prints, per field, how many expectations
huiliu meets: exact, as text, and as text without the documented
deliberate differences (EXPECT_DELIBERATE, each with its reason and a check
of huiliu's value; the cases left out are listed). With --reference
(needs `pip install feedparser`), it also compares huiliu with feedparser
itself on the same bytes: files with
entries, and per-field agreement over the entries both read, raw and over
the cases that are no documented deliberate difference (DELIBERATE below,
each with its reason; the excluded cases are listed). Install chardet
beside feedparser: its test suite assumes it (`illformed/chardet`).
With --dates, it runs feedparser's date cases (tests/test_date_parsers.py).

Every entry huiliu reads is compared, including one that repeats an
earlier entry (`repeat_of`: huiliu stores it once), as feedparser lists it.

The corpus is read where it is (a folder or the .tar.gz); nothing of it is
copied into this repository.

    cargo build --release
    python3 benches/feed_conformance.py ../shared/corpora/feeds [--reference] [--dates]
"""

import argparse
import ast
import calendar
import concurrent.futures
import datetime
import html
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time

FIELDS = {
    "link": "link",
    "id": "id",
    "guid": "id",
    "title": "title",
    "description": "content",
    "summary": "content",
    "content": "content",
    "published_parsed": "date",
    "updated_parsed": "date",
    "created_parsed": "date",
    "issued_parsed": "date",
    "modified_parsed": "date",
    "date_parsed": "date",
    "author": "author",
    "author_detail": "author",
    "authors": "author",
    "tags": "categories",
    "category": "categories",
    "enclosures": "enclosures",
}


class FPDict(dict):
    """feedparser's dict: keys also read as attributes; missing ones fail."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def has_key(self, k):
        return k in self


def struct(iso):
    if not iso:
        return None
    d = datetime.datetime.fromisoformat(iso).astimezone(datetime.timezone.utc)
    return time.struct_time(d.timetuple()[:8] + (0,))


def detail(value, type_="text/html"):
    return FPDict(value=value, type=type_, language=None, base="")


def strip_tags(s):
    return html.unescape(re.sub(r"<[^>]+>", "", s or "")).strip()


def squeeze(s):
    """Text compared with whitespace ignored (markup removed before)."""
    return "".join((s or "").split())


# The test server's address: expectations naming it need the file served
# over HTTP (the document URI is the base); read as a file it is no base.
HTTP_DOC_URI = "127.0.0.1:8097"


def to_feedparser(doc):
    """huiliu's JSON → the shape of feedparser's result."""
    entries = []
    for e in doc.get("entries", []):
        fe = FPDict()
        if e.get("link"):
            fe["link"] = e["link"]
            fe["links"] = [FPDict(href=e["link"], rel="alternate", type="text/html")]
        if e.get("guid"):
            fe["id"] = fe["guid"] = e["guid"]
        if e.get("title"):
            fe["title"] = e["title"]
            fe["title_detail"] = detail(e["title"], "text/plain")
        summary = e.get("summary") or e.get("content")
        if summary is not None:
            fe["summary"] = fe["description"] = summary
            fe["summary_detail"] = detail(summary)
        if e.get("content"):
            fe["content"] = [detail(e["content"])]
        pub, upd = struct(e.get("published")), struct(e.get("updated"))
        for key, val in (("published_parsed", pub or upd), ("updated_parsed", upd or pub)):
            if val:
                fe[key] = val
        if pub or upd:
            fe["created_parsed"] = fe["issued_parsed"] = fe["date_parsed"] = pub or upd
            fe["modified_parsed"] = upd or pub
        authors = [
            FPDict({k: v for k, v in (("name", a.get("name")), ("email", a.get("email")), ("href", a.get("url")), ("url", a.get("url"))) if v})
            for a in e.get("authors", [])
        ]
        if authors:
            fe["authors"] = authors
            fe["author_detail"] = authors[0]
            a = authors[0]
            fe["author"] = f"{a['name']} ({a['email']})" if a.get("email") and a.get("email") != a.get("name") else a.get("name")
        if e.get("categories"):
            fe["tags"] = [FPDict(term=c, scheme=None, label=None) for c in e["categories"]]
            fe["category"] = e["categories"][0]
        if e.get("enclosures"):
            fe["enclosures"] = [
                FPDict(href=x["url"], type=x["type"], length=str(x["length"]) if x.get("length") is not None else None)
                for x in e["enclosures"]
            ]
        entries.append(fe)
    feed = FPDict()
    for k in ("title", "link", "language"):
        if doc.get(k):
            feed[k] = doc[k]
    return FPDict(
        feed=feed,
        entries=entries,
        bozo=bool(doc.get("problems")) or "error" in doc,
        encoding=(doc.get("charset") or "").lower(),
        version=doc.get("format", ""),
    )


def header(path):
    with open(path, "rb") as f:
        head = f.read(4096).decode("utf-8", "replace")
    m = re.search(r"Expect:\s*(.*)", head)
    return (m.group(1).strip() if m else None), bool(re.search(r"^Header:", head, re.M))


# Entry details huiliu does not model: Media RSS credits, ratings,
# restrictions and licences, the list of all links with their `rel`s, and a
# category's scheme or label beside the name it keeps. An expectation
# checking one of them (in any of its parts) counts under "other".
UNMODELLED = re.compile(
    r"entries\[\d+\](?:\.|\[')(?:media_\w+|links)\b"
    r"|(?:\['tags'\]|\.tags)\[\d+\](?:\.|\[')(?:scheme|label)\b"
)


def field_of(expect):
    """Which field an expectation checks ("other" when huiliu has no such field)."""
    if UNMODELLED.search(expect):
        return "other"
    m = re.search(r"entries\[\d+\](?:\.|\[')(\w+)", expect)
    if m:
        # A body's type, language, base or src is detail huiliu does not
        # model (it keeps sanitized HTML): "other", not "content".
        if re.search(r"\['content'\]\[\d+\]\['(type|language|base|src)'\]", expect):
            return "other"
        return FIELDS.get(m.group(1), "other")
    if re.search(r"len\(entries\)", expect):
        return "entries"
    m = re.search(r"feed(?:\.|\[')(\w+)", expect)
    if m:
        return "feed." + m.group(1) if m.group(1) in ("title", "link", "language") else "other"
    if re.fullmatch(r"(not )?bozo", expect.strip()):
        return "bozo"
    return "other"


def run_huiliu(binary, path, timeout=20):
    try:
        p = subprocess.run(
            [binary, "parse", "--json", "--timezone", "UTC", path],
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "HUILIU_LOG": "error"},
        )
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}, "timeout"
    panic = p.returncode not in (0, 1, 2) or b"panicked" in p.stderr
    try:
        doc = json.loads(p.stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        doc = {}
    if p.returncode != 0 and "error" not in doc:
        doc["error"] = p.stderr.decode("utf-8", "replace").strip()
    return doc, ("panic" if panic else None)


def as_text(expect, markup=True):
    """The expectation with each string literal reduced to its text,
    whitespace ignored: with `markup`, the literal is read as HTML (tags
    removed, entities resolved), else as plain text (feedparser's values
    are HTML or text by the element's type, which the line does not say).
    huiliu titles are plain text by design, its sanitizer is not
    feedparser's."""

    def repl(m):
        try:
            value = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            return m.group(0)
        if not isinstance(value, str):
            return m.group(0)
        return repr(squeeze(strip_tags(value) if markup else value))

    return re.sub(LITERAL, repl, expect, flags=re.S)


# A Python string literal; triple-quoted ones first: they may hold the other quote.
LITERAL = r"u?'''.*?'''|u?\"\"\".*?\"\"\"|u?'(?:[^'\\]|\\.)*'|u?\"(?:[^\"\\]|\\.)*\""


def text_result(result, doc):
    """The result with every title and content value as plain text,
    whitespace ignored; none is the empty text (a title that was only an
    image is no text in either)."""
    out = FPDict(result)
    entries = []
    for fe, e in zip(result["entries"], doc.get("entries", [])):
        t = FPDict(fe)
        text = squeeze(e.get("text"))
        # huiliu titles are already text: nothing to strip.
        t["title"] = squeeze(t.get("title"))
        body = squeeze(strip_tags(t.get("summary"))) or text
        for k in ("summary", "description"):
            t[k] = body
        t["content"] = [detail(squeeze(strip_tags(c["value"])) or text) for c in t.get("content", [])] or [detail(body)]
        entries.append(t)
    out["entries"] = entries
    feed = FPDict(result["feed"])
    feed["title"] = squeeze(feed.get("title"))
    out["feed"] = feed
    return out


def evaluate(expect, result):
    env = dict(result)
    try:
        return bool(eval(expect, {"__builtins__": __builtins__, "time": time}, env))
    except Exception:
        return False


def corpus_root(path, tmp):
    if os.path.isdir(path):
        for cand in (path, os.path.join(path, "tests")):
            if os.path.isdir(os.path.join(cand, "wellformed")):
                return cand
        tars = [f for f in os.listdir(path) if f.endswith(".tar.gz")]
        if not tars:
            sys.exit(f"{path}: no feedparser tests/ folder or .tar.gz in it")
        path = os.path.join(path, sorted(tars)[0])
    with tarfile.open(path) as t:
        t.extractall(tmp, filter="data")
    for dirpath, dirs, _ in os.walk(tmp):
        if "wellformed" in dirs:
            return dirpath
    sys.exit(f"{path}: no wellformed/ folder inside")


# Differences from feedparser that are deliberate, each with its reason
# (README, "Conformance with feedparser's test suite"). A case is left out
# of the adjusted figure only when its rule holds *and* huiliu's value is
# the one the reason describes; the raw figure counts everything.
def _fp_fails_own_expect(c):
    """feedparser's own output fails the file's Expect line on this field,
    and huiliu's output meets it."""
    if not c["expect"] or FIELD_OF_REF.get(field_of(c["expect"])) != c["field"]:
        return False
    return not evaluate(c["expect"], dict(c["fp"])) and evaluate(c["expect"], c["ours"])


def _id_is_no_address(c):
    """feedparser copies an id that is no web address (`right`,
    `/relative/link`, or an `<id>` nested in an `<image>`) into `link`;
    huiliu never takes such an id as a link."""
    fid, link = c["fe"].get("id") or "", c["fe"].get("link") or ""
    no_address = (link == fid and not re.match(r"https?://", fid, re.I)) or not re.search(r"[:/.]", link)
    return no_address and not c["he"].get("link")


def _text_title_with_references(c):
    """A title typed as plain text that holds character references
    (`&lt;`) is read as HTML: publishers double-escape titles far more
    often than they mean `&lt;` literally."""
    fe = c["fe"]
    v = fe.get("title") or ""
    plain = ((fe.get("title_detail") or {}).get("type") or "").startswith("text/plain")
    return plain and "&" in v and " ".join(strip_tags(v).split()) == " ".join((c["he"].get("title") or "").split())


def _foreign_markup(c):
    """SVG and MathML are dropped by huiliu's sanitizer (ammonia keeps HTML
    only), so a body that is only a drawing or a formula has no content."""
    fc = " ".join(x.get("value", "") for x in c["fe"].get("content", [])) or c["fe"].get("summary") or ""
    return re.search(r"<(svg|math)\b", fc) is not None and not (c["he"].get("content") or c["he"].get("summary"))


def _file(path, check):
    return lambda c: c["rel"] == path and check(c["he"])


DELIBERATE = [
    ("any", "feedparser's output disagrees with its own Expect: line; huiliu follows the expectation", _fp_fails_own_expect),
    ("link", "an id that is no web address is not a link (feedparser copies an `id` into `link`)", _id_is_no_address),
    ("title", "a plain-text title holding references (`&lt;`) is read as HTML (double-escaped titles are common)", _text_title_with_references),
    ("content present", "SVG and MathML are removed by the sanitizer", _foreign_markup),
    (
        "content present",
        "`<!'` opens a bogus comment when HTML is parsed as browsers do (HTML5): the description has no text",
        _file("wellformed/rss/item_description_not_a_doctype.xml", lambda he: not he.get("summary")),
    ),
    (
        "title",
        "feedparser takes the title of an <image> nested in a <category> as the entry's; huiliu reads the entry's own (none)",
        _file("wellformed/rss/item_category_image.xml", lambda he: not he.get("title")),
    ),
    (
        "title",
        "a title holding a whole HTML document: huiliu shows the text of its body as a browser does, without script text",
        _file("wellformed/sanitize/entry_title_crazy.xml", lambda he: (he.get("title") or "").startswith("Did The Javascript Execute?")),
    ),
]

# The same for the `Expect:` lines: a failing expectation (as text) is left
# out of the second figure only when its rule holds and huiliu's value is
# the one the reason describes. c: rel (path in the corpus), path, doc
# (huiliu's JSON), expect, field.
def _literals(expect):
    """The string literals of an expectation that are values (not
    subscript keys like `['description']`), joined."""
    out = []
    for m in re.finditer(LITERAL, expect, re.S):
        if expect[m.end() :].lstrip().startswith("]"):
            continue
        try:
            v = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            continue
        if isinstance(v, str):
            out.append(v)
    return "".join(out)


def _first(doc):
    return (doc.get("entries") or [{}])[0]


def _body(doc):
    e = _first(doc)
    return e.get("content") or e.get("summary") or ""


def _foreign_markup_expected(c):
    """SVG and MathML are removed by the sanitizer (ammonia keeps HTML only,
    against namespace-confusion attacks): huiliu's body is the expected
    one without its <svg>/<math> subtrees."""
    want = _literals(c["expect"])
    if not re.search(r"<(svg|math)\b", want):
        return False
    rest = re.sub(r"<(svg|math)\b.*?(</\1>|$)", "", want, flags=re.S)
    body = _body(c["doc"])
    return not re.search(r"<(svg|math)\b", body) and squeeze(strip_tags(rest)) == squeeze(strip_tags(body))


def _crazy_document(c):
    """A value holding a whole HTML document with scripts: huiliu keeps the
    text a browser shows (its body), without script text or comments."""
    if "_crazy" not in c["rel"]:
        return False
    v = {"title": _first(c["doc"]).get("title"), "feed.title": c["doc"].get("title")}.get(c["field"], _body(c["doc"])) or ""
    return "Did The Javascript Execute?" in v and "executeMe" not in v and "<script" not in v.lower()


def _html5_entities(c):
    """`&lang;`/`&rang;` read with HTML5's entity table (U+27E8/U+27E9);
    feedparser's HTML 4 table gives U+2329/U+232A."""
    want = _literals(c["expect"])
    if not re.search("[\u2329\u232a]", want):
        return False
    return c["doc"].get("title") == want.translate({0x2329: 0x27E8, 0x232A: 0x27E9})


def _category_label(c):
    """An Atom category with a `label` is shown by its label (the name meant
    for people, RFC 4287 4.2.2.2); feedparser's `term` is the identifier."""
    with open(c["path"], "rb") as f:
        m = re.search(rb'<category\b[^>]*\blabel="([^"]*)"', f.read())
    cats = _first(c["doc"]).get("categories") or []
    return bool(m and cats and cats[0] == m.group(1).decode("utf-8", "replace"))


def _lower_case_language(c):
    """A language tag is kept lower-cased (BCP 47 tags are case-insensitive)."""
    want = _literals(c["expect"])
    lang = c["doc"].get("language")
    return bool(want and lang and lang == want.lower() and lang != want)


def _stray_byte_in_utf8(c):
    """A document declared UTF-8 whose text is UTF-8 but for a stray byte
    is read as UTF-8, the byte replaced with U+FFFD and the repair listed
    (`bozo`); feedparser re-decodes the whole document as a legacy
    single-byte encoding, turning every character into mojibake."""
    body = strip_tags(_body(c["doc"]))
    listed = any("U+FFFD" in p for p in c["doc"].get("problems") or [])
    return (c["doc"].get("charset") or "").upper() == "UTF-8" and listed and "\ufffd" in body and re.search("[^\x00-\x7f\ufffd]", body)


def _html5_comment(path, check):
    """`<!` opens a comment when HTML is parsed as browsers do (HTML5): a
    bogus one up to the next `>`, or a real one up to `-->`."""
    return lambda c: c["rel"] == path and check(c["doc"])


EXPECT_DELIBERATE = [
    (("content", "content (sanitizer output)"), "SVG and MathML are removed by the sanitizer", _foreign_markup_expected),
    (
        ("content (sanitizer output)", "title", "feed.title"),
        "a whole HTML document with scripts: huiliu keeps the text a browser shows, without script text or comments",
        _crazy_document,
    ),
    (("feed.title",), "`&lang;`/`&rang;` read with HTML5's entity table (U+27E8/U+27E9; HTML 4's gives U+2329/U+232A)", _html5_entities),
    (
        ("content",),
        "UTF-8 with a stray invalid byte is read as UTF-8 (the byte replaced, the repair listed), not re-decoded whole as a legacy encoding",
        _stray_byte_in_utf8,
    ),
    (("categories",), "an Atom category with a label is shown by its label, not its term", _category_label),
    (("feed.language",), "language tags are kept lower-cased (case-insensitive in BCP 47)", _lower_case_language),
    (
        ("content",),
        "`<!'` opens a bogus comment when HTML is parsed as browsers do (HTML5): the description has no text",
        _html5_comment("wellformed/rss/item_description_not_a_doctype.xml", lambda d: not _first(d).get("summary")),
    ),
    (
        ("content (sanitizer output)",),
        "`<![CDATA[<script>` opens a bogus comment in HTML5 (up to the first `>`): the text left is `]]>`",
        _html5_comment("wellformed/sanitize/item_content_encoded_script_nested_cdata.xml", lambda d: squeeze(strip_tags(_body(d))) == "]]>"),
    ),
    (
        ("feed.title",),
        "`&lt;!DOCTYPE ~` in an HTML title is a doctype token in HTML5, no text",
        _html5_comment("wellformed/sanitize/xml_declaration_unexpected_character.xml", lambda d: not d.get("title")),
    ),
    (
        ("feed.title",),
        "`sa<!-- -- nonwhitespace >fe…`: in HTML5 the comment runs to `-->` (there is none), so the title is `sa`",
        _html5_comment("wellformed/sanitize/xml_malicious_comment.xml", lambda d: d.get("title") == "sa"),
    ),
]


# Expect: line field → reference field.
FIELD_OF_REF = {"link": "link", "id": "id", "title": "title", "date": "date", "author": "author", "content": "content present"}


def reference_compare(root, files, docs, failures=None):
    import feedparser  # noqa: only for --reference

    def fp_title_texts(fe):
        """feedparser's title as text: by its type, HTML or plain; a title of
        another MIME type (base64 of `application/octet-stream`) either."""
        ty = (fe.get("title_detail") or {}).get("type") or ""
        v = fe.get("title") or ""
        as_html, as_text = " ".join(strip_tags(v).split()), " ".join(v.split())
        if "html" in ty:
            return {as_html}
        return {as_text} if ty.startswith("text/") else {as_html, as_text}

    with_entries = read = 0
    fields = ("link", "id", "title", "date", "author", "content present")
    agree = {k: [0, 0] for k in fields}
    adjusted = {k: [0, 0] for k in fields}
    excluded = {k: [] for k in fields}
    failing = {k: [] for k in fields}
    missing = []
    for path in files:
        doc = docs[path]
        fp = feedparser.parse(path)
        if not fp.entries:
            continue
        with_entries += 1
        ours = doc.get("entries", [])
        if ours:
            read += 1
        else:
            missing.append(os.path.relpath(path, root))
        expect, has_header = header(path)
        expect = re.sub(r"^not bozo and\s+", "", expect) if expect and not has_header else None
        ours_fp = to_feedparser(doc)
        for i, (fe, he) in enumerate(zip(fp.entries, ours)):
            def count(field, fp_has, ok):
                if not fp_has:
                    return
                agree[field][1] += 1
                agree[field][0] += bool(ok)
                if ok:
                    adjusted[field][0] += 1
                    adjusted[field][1] += 1
                    return
                c = dict(field=field, rel=os.path.relpath(path, root), fe=fe, he=he, fp=fp, ours=ours_fp, expect=expect)
                why = next((r for f, r, test in DELIBERATE if f in ("any", field) and test(c)), None)
                if why:
                    excluded[field].append((c["rel"], why))
                else:
                    adjusted[field][1] += 1
                    failing[field].append(f"{c['rel']} entry {i}: feedparser {fp_value(field, fe)!r}, huiliu {our_value(field, he)!r}")

            link = fe.get("link")
            hl = he.get("link") or ""
            count("link", link, link and (hl == link or (not re.match(r"\w+:", link) and hl.endswith(link.lstrip("./")))))
            count("id", fe.get("id"), he.get("guid") == fe.get("id"))
            # huiliu titles are text; feedparser's are HTML or text by their type.
            count("title", fe.get("title"), " ".join((he.get("title") or "").split()) in fp_title_texts(fe))
            fpd = fe.get("published_parsed") or fe.get("updated_parsed")
            ours_d = [struct(he.get(k)) for k in ("published", "updated") if he.get(k)]
            dates = {tuple(fe.get(k))[:6] for k in ("published_parsed", "updated_parsed", "created_parsed") if fe.get(k)}
            count("date", fpd, any(tuple(d)[:6] in dates for d in ours_d))
            fa = (fe.get("author_detail") or {}).get("name") or fe.get("author")
            names = [a.get("name") or "" for a in he.get("authors", [])]
            count("author", fa, fa and any(n and (n == fa or n in fa) for n in names))
            # Content with text in it (markup a sanitizer may drop, like an empty
            # <canvas>, is no content for a reader).
            fc = strip_tags(" ".join(c.get("value", "") for c in fe.get("content", [])) or fe.get("summary") or "")
            count("content present", fc, he.get("content") or he.get("summary"))
    chardet = "with chardet" if _has("chardet") else "WITHOUT chardet (its test suite assumes it: pip install chardet)"
    print(f"\nAgainst feedparser {feedparser.__version__} ({chardet}) on the same bytes:")
    print(f"  files where feedparser reads entries: {with_entries}; huiliu reads entries from {read} ({100 * read / max(with_entries, 1):.1f}%)")
    print(f"  {'field':16} {'raw':>17}   {'without deliberate differences':>30}")
    for k in fields:
        ok, n = agree[k]
        aok, an = adjusted[k]
        print(f"  {k:16} {ok:5}/{n:<5} {100 * ok / max(n, 1):5.1f}%   {aok:5}/{an:<5} {100 * aok / max(an, 1):5.1f}%  ({len(excluded[k])} left out)")
    for k in fields:
        for rel, why in excluded[k]:
            print(f"    {k} left out: {rel}: {why}")
    if missing:
        print("  no entries read from: " + ", ".join(missing[:40]) + (" …" if len(missing) > 40 else ""))
    want = FIELD_OF_REF.get(failures, failures)
    for line in failing.get(want, []):
        print(f"  {want} differs from feedparser: {line}")


def fp_value(field, fe):
    return {
        "link": fe.get("link"),
        "id": fe.get("id"),
        "title": fe.get("title"),
        "date": fe.get("published") or fe.get("updated"),
        "author": fe.get("author"),
        "content present": strip_tags(" ".join(c.get("value", "") for c in fe.get("content", [])) or fe.get("summary") or "")[:60],
    }[field]


def our_value(field, he):
    return {
        "link": he.get("link"),
        "id": he.get("guid"),
        "title": he.get("title"),
        "date": he.get("published") or he.get("updated"),
        "author": [a.get("name") for a in he.get("authors", [])],
        "content present": (he.get("content") or he.get("summary") or "")[:60],
    }[field]


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def date_cases(root, binary):
    src = open(os.path.join(root, "test_date_parsers.py"), encoding="utf-8").read()
    cases = re.findall(r"\(\s*(_parse_date_\w+),\s*(\"(?:[^\"\\]|\\.)*\"),\s*(None|\([\d, ]+\))", src)
    items = []
    for i, (_fn, lit, _exp) in enumerate(cases):
        value = ast.literal_eval(lit)
        items.append(
            f"<item><guid>{i}</guid><title>case {i}</title><pubDate>{html.escape(value)}</pubDate></item>"
        )
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False, encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>dates</title>' + "".join(items) + "</channel></rss>")
        name = f.name
    doc, _ = run_huiliu(binary, name)
    os.unlink(name)
    got = {e["guid"]: e.get("published") for e in doc.get("entries", [])}
    ok, wrong = 0, []
    for i, (_fn, lit, exp) in enumerate(cases):
        expected = ast.literal_eval(exp)
        iso = got.get(str(i))
        if expected is None:
            good = iso is None
        else:
            good = iso is not None and tuple(struct(iso))[:6] == tuple(expected)[:6]
        ok += good
        if not good:
            wrong.append(f"    {ast.literal_eval(lit)!r}: expected {expected}, got {iso}")
    print(f"\nDate cases (test_date_parsers.py): {ok}/{len(cases)}")
    print("\n".join(wrong))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", help="folder holding feedparser-tests-*.tar.gz, or an extracted tests/ folder")
    ap.add_argument("--huiliu", default="target/release/huiliu")
    ap.add_argument("--reference", action="store_true", help="also compare with feedparser (pip install feedparser)")
    ap.add_argument("--dates", action="store_true", help="also run feedparser's date cases")
    ap.add_argument("--failures", metavar="FIELD", help="list the files failing this field (Expect: lines; with --reference, the entries differing from feedparser too)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = corpus_root(args.corpus, tmp)
        files = sorted(
            os.path.join(d, f)
            for sub in ("wellformed", "illformed", "encoding", "entities")
            for d, _, fs in os.walk(os.path.join(root, sub))
            for f in fs
        )
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(files, pool.map(lambda p: run_huiliu(args.huiliu, p), files)))
        docs = {p: r[0] for p, r in results.items()}
        panics = [p for p, r in results.items() if r[1]]
        per = {}
        bozo = [0, 0]
        header_files = 0
        sanitize_unsafe = 0
        for path in files:
            expect, has_header = header(path)
            doc = docs[path]
            if "/sanitize/" in path:
                for e in doc.get("entries", []):
                    body = (e.get("content") or "") + (e.get("summary") or "")
                    if re.search(r"<script|javascript:|\bon[a-z]+\s*=", body, re.I):
                        sanitize_unsafe += 1
            if not expect:
                continue
            if has_header or HTTP_DOC_URI in expect:
                header_files += 1
                continue
            result = to_feedparser(doc)
            field = field_of(expect)
            if "/sanitize/" in path and field == "content":
                field = "content (sanitizer output)"
            stripped = re.sub(r"^not bozo and\s+", "", expect)
            if stripped != expect:
                bozo[1] += 1
                bozo[0] += not result["bozo"]
            ok = evaluate(stripped, result)
            as_text_ok = ok or any(
                evaluate(as_text(stripped, markup), text_result(result, doc)) for markup in (True, False)
            )
            per.setdefault(field, [0, 0, [], 0, []])
            per[field][1] += 1
            per[field][0] += ok
            per[field][3] += as_text_ok
            if not as_text_ok:
                rel = os.path.relpath(path, root)
                c = dict(rel=rel, path=path, doc=doc, expect=stripped, field=field)
                why = next((r for fs, r, test in EXPECT_DELIBERATE if field in fs and test(c)), None)
                if why:
                    per[field][4].append((rel, why))
                else:
                    per[field][2].append(rel)
        print(f"Files: {len(files)}; panics or timeouts: {len(panics)}; expectations needing HTTP (headers, or the server's address as base; skipped): {header_files}")
        print("Expect: lines met, by field checked (the `not bozo and` prefix evaluated apart);")
        print("'as text' compares text, markup removed and whitespace ignored (huiliu titles are plain text, its sanitizer is not feedparser's):")
        print("'without deliberate differences': as text, the cases of EXPECT_DELIBERATE left out (each listed below with its reason):")
        print(f"  {'field':28} {'exact':>17}   {'as text':>15}   {'without deliberate differences':>30}")
        for field in sorted(per, key=lambda f: (f == "other", f)):
            ok, n, _, text_ok, left = per[field]
            an = n - len(left)
            print(
                f"  {field:28} {ok:5}/{n:<5} {100 * ok / max(n, 1):5.1f}%   {text_ok:5}/{n:<5} {100 * text_ok / max(n, 1):5.1f}%"
                f"   {text_ok:5}/{an:<5} {100 * text_ok / max(an, 1):5.1f}%  ({len(left)} left out)"
            )
        print(f"  {'not bozo (no repair needed)':28} {bozo[0]:5}/{bozo[1]:<5} {100 * bozo[0] / max(bozo[1], 1):5.1f}%")
        print(f"Sanitizer cases leaving script-capable HTML: {sanitize_unsafe}")
        for field in sorted(per):
            for rel, why in per[field][4]:
                print(f"    {field} left out: {rel}: {why}")
        for p in panics:
            print(f"  PANIC/TIMEOUT: {os.path.relpath(p, root)}")
        if args.failures:
            for p in per.get(args.failures, [0, 0, [], 0, []])[2]:
                print(f"  {args.failures} fails: {p}")
        if args.reference:
            reference_compare(root, files, docs, args.failures)
        if args.dates:
            date_cases(root, args.huiliu)


if __name__ == "__main__":
    main()
