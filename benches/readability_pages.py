#!/usr/bin/env python3
"""English yardstick for selector-free extraction, built OUTSIDE the repository.

    python3 benches/readability_pages.py /work/corpora-extra/articles-en
    ./target/release/huiliu bench articles /work/corpora-extra/articles-en --timezone UTC

Where the pages come from: the test pages of Mozilla Readability
(github.com/mozilla/readability, `test/test-pages/<name>/source.html` and
`expected.html`, Apache-2.0), read through the project's code-search tool
(`read_file` on repo `mozilla/readability`), because this machine has no
network besides package registries. That tool only returns text to the
session, so each page was written out by hand into
`<dir>/rd-<name>.html`: same elements, attributes that matter to extraction
(id, class, itemprop, href, src, alt, title), same text; scripts, styles,
comments, inline SVG and syntax-highlighting `<span>`s left out, and long
repeated structures (a tag cloud, a row of links) regenerated from the
values read. The pages are never copied into the repository.

The truth (`truth.jsonl`: id, lang, url, title, body) is the text of the
page's `expected.html` (what Readability.js keeps). Rather than writing that
text twice, RULES below names, for each page, the elements of the
transcribed page whose text is the text of expected.html (checked by
reading expected.html); the script extracts and writes it. Note the bias:
expected.html is Readability's own output (huiliu's extractor is a
Readability port, dom_smoothie), so this set flatters Readability-like
extractors; it keeps Readability's quirks (e.g. a site footer paragraph).

The scorer is the one of ../shared/corpora/articles-zh (copied next to the
pages, outside the repository, by this script).
"""
import html.parser
import json
import os
import shutil
import sys

# id -> (url, title, [include rules], [exclude rules]); a rule is
# "#id", ".class", "[attr=value]", "tag", or "^text" (a <p> starting so).
RULES = {
    "rd-v8-blog": (
        "https://v8.dev/blog/emscripten-standalone-wasm",
        "Outside the web: standalone WebAssembly binaries using Emscripten",
        ["[itemprop=articleBody]"], []),
    "rd-ebb-org": (
        "http://ebb.org/bkuhn/blog/2019/10/15/fsf-rms.html",
        "On Recent Controversial Events",
        ["#contentWithSidebar", "^#include", "^Both previously"],
        ["h1", ".comments", "#prevlink"]),
    # expected.html was made from an older copy of this page: the article
    # and the author's bio (its "Expand full story" link is not on this copy).
    "rd-ars-1": (
        "https://arstechnica.com/information-technology/2015/04/just-released-minecraft-exploit-makes-it-easy-to-crash-game-servers/",
        "Just-released Minecraft exploit makes it easy to crash game servers",
        ["[itemprop=articleBody]", ".author-bio-top"], ["aside"]),
    "rd-tumblr": (
        "http://mcupdate.tumblr.com/post/96439224994/minecraft-18-the-bountiful-update",
        "Minecraft 1.8 - The Bountiful Update",
        [".post"], ["h3"]),
}

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}
BLOCK = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "ul",
         "ol", "section", "article", "blockquote", "figure", "figcaption",
         "table", "tr", "header", "footer", "address", "br"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.kids = tag, dict(attrs), parent, []


class Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.kids.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.kids.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        if self.cur.tag not in ("script", "style", "title"):
            self.cur.kids.append(data)


def text(n, skip):
    out = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
            return
        if any(matches(x, r) for r in skip):
            return
        if x.tag in BLOCK:
            out.append("\n")
        for k in x.kids:
            walk(k)
        if x.tag in BLOCK:
            out.append("\n")
    walk(n)
    lines = (" ".join(l.split()) for l in "".join(out).split("\n"))
    return "\n".join(l for l in lines if l)


def matches(n, rule):
    if isinstance(n, str):
        return False
    if rule.startswith("#"):
        return n.attrs.get("id") == rule[1:]
    if rule.startswith("."):
        return rule[1:] in (n.attrs.get("class") or "").split()
    if rule.startswith("["):
        k, v = rule[1:-1].split("=", 1)
        return n.attrs.get(k) == v
    if rule.startswith("^"):
        return n.tag == "p" and text(n, []).startswith(rule[1:])
    return n.tag == rule


def body(root, include, exclude):
    parts = []

    def walk(n):
        if isinstance(n, str):
            return
        if any(matches(n, r) for r in include):
            parts.append(text(n, exclude))
            return
        for k in n.kids:
            walk(k)
    walk(root)
    return "\n".join(p for p in parts if p)


def main(folder):
    rows = []
    for pid, (url, title, include, exclude) in RULES.items():
        t = Tree()
        with open(os.path.join(folder, pid + ".html"), encoding="utf-8") as f:
            t.feed(f.read())
        b = body(t.root, include, exclude)
        if not b:
            sys.exit(f"{pid}: the rules select no text")
        rows.append({"id": pid, "lang": "en", "charset": "utf-8", "url": url,
                     "title": title, "body": b})
    with open(os.path.join(folder, "truth.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    here = os.path.dirname(os.path.abspath(__file__))
    scorer = os.path.join(here, "..", "..", "shared", "corpora", "articles-zh", "score.py")
    if not os.path.exists(scorer):
        scorer = "/work/shared/corpora/articles-zh/score.py"
    shutil.copy(scorer, os.path.join(folder, "score.py"))
    print(f"{len(rows)} pages, truth.jsonl and score.py written to {folder}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/corpora-extra/articles-en")
