#!/usr/bin/env python3
"""Feed conformance evaluation: huiliu against a mature parser's test suite.

Runs `huiliu parse --json` on every test file of Python feedparser's
`tests/` folder (wellformed/, illformed/, encoding/, entities/), maps what
huiliu read to a feedparser-like result, and evaluates each file's
`Expect:` expression against it. Prints, per field, how many expectations
huiliu meets. With --reference (needs `pip install feedparser`), it also
compares huiliu with feedparser itself on the same bytes: files with
entries, and per-field agreement over the entries both read.
With --dates, it runs feedparser's date cases (tests/test_date_parsers.py).

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


def field_of(expect):
    """Which field an expectation checks ("other" when huiliu has no such field)."""
    m = re.search(r"entries\[\d+\](?:\.|\[')(\w+)", expect)
    if m:
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


def as_text(expect):
    """The expectation with each string literal reduced to its text (tags
    removed, entities resolved): huiliu titles are plain text by design."""

    def repl(m):
        try:
            value = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            return m.group(0)
        if not isinstance(value, str):
            return m.group(0)
        return repr(" ".join(strip_tags(value).split()))

    return re.sub(r"u?'(?:[^'\\]|\\.)*'|u?\"(?:[^\"\\]|\\.)*\"", repl, expect)


def text_result(result, doc):
    """The result with every title and content value as plain text."""
    out = FPDict(result)
    entries = []
    for fe, e in zip(result["entries"], doc.get("entries", [])):
        t = FPDict(fe)
        text = " ".join((e.get("text") or "").split())
        for k in ("title",):
            if k in t:
                t[k] = " ".join(strip_tags(t[k]).split())
        for k in ("summary", "description"):
            if k in t:
                t[k] = " ".join(strip_tags(t[k]).split()) or text
        if "content" in t:
            t["content"] = [detail(" ".join(strip_tags(c["value"]).split()) or text) for c in t["content"]]
        entries.append(t)
    out["entries"] = entries
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


def reference_compare(root, files, docs):
    import feedparser  # noqa: only for --reference

    def norm_title(s):
        return " ".join(strip_tags(s).split())

    with_entries = read = 0
    agree = {k: [0, 0] for k in ("link", "id", "title", "date", "author", "content present")}
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
        for fe, he in zip(fp.entries, ours):
            def count(field, fp_has, ok):
                if fp_has:
                    agree[field][1] += 1
                    agree[field][0] += bool(ok)

            link = fe.get("link")
            hl = he.get("link") or ""
            count("link", link, link and (hl == link or (not re.match(r"\w+:", link) and hl.endswith(link.lstrip("./")))))
            count("id", fe.get("id"), he.get("guid") == fe.get("id"))
            count("title", fe.get("title"), norm_title(fe.get("title")) == norm_title(he.get("title")))
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
    print(f"\nAgainst feedparser {feedparser.__version__} on the same bytes:")
    print(f"  files where feedparser reads entries: {with_entries}; huiliu reads entries from {read} ({100 * read / max(with_entries, 1):.1f}%)")
    for k, (ok, n) in agree.items():
        print(f"  {k:16} {ok:5}/{n:<5} {100 * ok / max(n, 1):5.1f}%")
    if missing:
        print("  no entries read from: " + ", ".join(missing[:40]) + (" …" if len(missing) > 40 else ""))


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
    ap.add_argument("--failures", metavar="FIELD", help="list the files failing this field")
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
            if has_header:
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
            as_text_ok = ok or evaluate(as_text(stripped), text_result(result, doc))
            per.setdefault(field, [0, 0, [], 0])
            per[field][1] += 1
            per[field][0] += ok
            per[field][3] += as_text_ok
            if not as_text_ok:
                per[field][2].append(os.path.relpath(path, root))
        print(f"Files: {len(files)}; panics or timeouts: {len(panics)}; files needing HTTP headers (skipped): {header_files}")
        print("Expect: lines met, by field checked (the `not bozo and` prefix evaluated apart);")
        print("'as text' compares markup-free text (huiliu titles are plain text, its sanitizer is not feedparser's):")
        print(f"  {'field':28} {'exact':>17}   {'as text':>15}")
        for field in sorted(per, key=lambda f: (f == "other", f)):
            ok, n, _, text_ok = per[field]
            print(f"  {field:28} {ok:5}/{n:<5} {100 * ok / max(n, 1):5.1f}%   {text_ok:5}/{n:<5} {100 * text_ok / max(n, 1):5.1f}%")
        print(f"  {'not bozo (no repair needed)':28} {bozo[0]:5}/{bozo[1]:<5} {100 * bozo[0] / max(bozo[1], 1):5.1f}%")
        print(f"Sanitizer cases leaving script-capable HTML: {sanitize_unsafe}")
        for p in panics:
            print(f"  PANIC/TIMEOUT: {os.path.relpath(p, root)}")
        if args.failures:
            for p in per.get(args.failures, [0, 0, [], 0])[2]:
                print(f"  {args.failures} fails: {p}")
        if args.reference:
            reference_compare(root, files, docs)
        if args.dates:
            date_cases(root, args.huiliu)


if __name__ == "__main__":
    main()
