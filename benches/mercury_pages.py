#!/usr/bin/env python3
"""English yardstick from Mercury (Postlight) Parser's test pages, built OUTSIDE the repository.

    mkdir -p /tmp/merc && cd /tmp/merc
    npm pack @postlight/mercury-parser@1.1.1
    npm init -y && npm install --ignore-scripts cheerio@0.22.0 @babel/runtime-corejs2@7 \
        iconv-lite@0.4.24 moment@2 moment-parseformat@3.0.0 ellipsize@0.1.0 \
        string-direction@0.1.2 url@0.11 valid-url wuzzy@0.1.3 request request-promise difflib
    cd -
    python3 benches/mercury_pages.py /tmp/merc/postlight-mercury-parser-1.1.1.tgz /tmp/merc/node_modules /work/corpora-extra/articles-en3
    ./target/release/huiliu bench articles /work/corpora-extra/articles-en3 --timezone UTC

Where the pages come from: the npm package @postlight/mercury-parser 1.1.1
(github.com/postlight/parser, MIT or Apache-2.0; the tarball measured has
sha256 f15f33e2c98dab28c7e462bf8dc0c167e6fba5db164942e2346b653eb1b6431d,
printed again by this script) ships `fixtures/<site>/<time>.html`, real
article pages saved from ~95 sites in 2016-2019, and, for each site, a
hand-written extractor (`src/extractors/custom/<site>/index.js`: the CSS
selectors of the site's headline, body, author and date, and the selectors of
what to clean out of the body) with a test (`index.test.js`) in which the
project's maintainers wrote down the headline and the first 13 words of the
body as a reader sees them on that page.

The truth, per page:
- title: the headline the test asserts, character for character;
- body: the text of what the site's own extractor selects (Mercury run with
  `fallback: false`, so only the hand-written per-site selectors, never the
  generic, Readability-like scorer), block elements one per line.
Independent of Readability and of huiliu: selectors a person wrote for that
site. Its quirks: what a site's `clean` list leaves in (often picture
captions, sometimes a "related" line inside the body) and, rarely, a
selector that takes only part of the article.

Which pages are taken (each rule printed with the pages it drops):
- the test asserts both the title and the body's first words, and Mercury
  1.1.1's own output passes both (the truth is what the maintainers checked);
- English: 3% or more of the body's words are English function words
  (French and Chinese pages: under 0.2%; English pages: 7% and more);
- an article: the truth body has 50 words or more (YouTube's watch page: 21
  characters of text) and the page is not a tweet.
Node.js runs Mercury (`dist/mercury.js` of the tarball; its runtime
dependencies from the npm registry as above, `--ignore-scripts`: the
phantomjs download is not needed for parsing a page given as a string).

The pages are never copied into the repository. The scorer is the one of
../shared/corpora/articles-zh (copied next to the pages by this script).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

from pages_out import write_set

NOT_ARTICLES = {"twitter.com"}  # a tweet, not an article
ENGLISH = {"the", "and", "of", "to", "that", "for", "with", "was", "is", "it", "on"}

# Runs in Node: reads every custom extractor's test, runs the site's
# extractor on each fixture the test reads, prints one JSON line a fixture.
RUNNER = r"""const fs = require('fs');
const path = require('path');
const cheerio = require('cheerio');
const pkg = process.argv[2];
const Mercury = require(path.join(pkg, 'dist', 'mercury.js'));
const LIT = String.raw`('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\x60(?:[^\x60\\]|\\.)*\x60)`;
const lit = s => Function('"use strict"; return ' + s)();
function text(html) {
  const $ = cheerio.load(html || '');
  $('br').replaceWith('\n');
  $('p,div,h1,h2,h3,h4,h5,h6,li,blockquote,figcaption,figure,tr,pre,section,article,header,footer,aside,ul,ol,table,dd,dt').each((_, e) => { $(e).append('\n'); $(e).prepend('\n'); });
  return $.root().text().split('\n').map(l => l.replace(/\s+/g, ' ').trim()).filter(Boolean).join('\n');
}
const first = (s, n) => s.trim().split(/\s+/).slice(0, n).join(' ');
async function main() {
  const dir = path.join(pkg, 'src', 'extractors', 'custom');
  for (const site of fs.readdirSync(dir).sort()) {
    const f = path.join(dir, site, 'index.test.js');
    if (!fs.existsSync(f)) continue;
    const src = fs.readFileSync(f, 'utf8');
    const reads = [...src.matchAll(new RegExp(String.raw`readFileSync\(\s*` + LIT, 'g'))]
      .map(m => ({ at: m.index, fixture: lit(m[1]) }));
    const urls = [...src.matchAll(new RegExp(LIT, 'g'))]
      .map(m => ({ at: m.index, v: m[1] })).filter(u => /^.https?:\/\//.test(u.v));
    const titles = [...src.matchAll(new RegExp(String.raw`assert\.equal\(\s*title\s*,\s*` + LIT, 'g'))]
      .map(m => ({ at: m.index, v: lit(m[1]) }));
    const excerpts = [...src.matchAll(new RegExp(String.raw`assert\.equal\(\s*(first\d+)\s*,\s*` + LIT, 'g'))]
      .map(m => ({ at: m.index, n: parseInt(m[1].slice(5), 10), v: lit(m[2]) }));
    const seen = new Set();
    const groups = [];
    for (const r of reads) {
      if (!seen.has(r.fixture)) { seen.add(r.fixture); groups.push({ fixture: r.fixture, at: r.at, ats: [] }); }
      groups.find(g => g.fixture === r.fixture).ats.push(r.at);
    }
    groups.forEach((g, i) => {
      g.end = i + 1 < groups.length ? groups[i + 1].at : src.length;
    });
    for (const g of groups) {
      const before = urls.filter(u => u.at < g.at).pop();
      const after = urls.find(u => u.at > g.at && u.at < g.end);
      // a url assigned just before the read (same beforeAll) wins; else the first after it
      let url = null;
      if (before && (g.at - before.at) < 400) url = lit(before.v);
      else if (after) url = lit(after.v);
      else if (before) url = lit(before.v);
      const inG = x => x.at > g.at && x.at < g.end;
      const title = titles.find(inG);
      const ex = excerpts.find(inG);
      const out = { site, fixture: g.fixture, url, test_title: title ? title.v : null,
        test_excerpt: ex ? ex.v : null };
      try {
        const html = fs.readFileSync(path.join(pkg, g.fixture));
        const r = await Mercury.parse(url, html, { fallback: false });
        out.title = r.title || null;
        out.body = text(r.content);
        out.author = r.author || null;
        out.date_published = r.date_published || null;
        const $ = cheerio.load(r.content || '');
        out.excerpt_ok = ex ? first($('*').first().text(), ex.n) === ex.v : null;
      } catch (e) {
        out.error = String(e);
      }
      console.log(JSON.stringify(out));
    }
  }
}
main().catch(e => { console.error(e); process.exit(1); });
"""


META = re.compile(rb"<meta\b[^>]*>", re.I)
VALUE = re.compile(rb"(\s)value=", re.I)


def meta_content_back(page):
    """Mercury saved its fixtures after its own meta normalisation
    (`normalizeMetaTags` in dist/mercury.js: every `<meta content=…>` became
    `value=…`, `property=` became `name=`): `content` is put back, so the
    meta tags read as the site served them (`name=` is left: readers take
    either)."""
    def back(m):
        tag = m.group(0)
        if re.search(rb"\scontent=", tag, re.I):
            return tag
        return VALUE.sub(rb"\1content=", tag, count=1)
    return META.sub(back, page)


def english(text):
    words = re.findall(r"[a-z]+", text.lower())
    return bool(words) and sum(w in ENGLISH for w in words) / len(words) >= 0.03


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: mercury_pages.py postlight-mercury-parser-1.1.1.tgz NODE_MODULES OUTDIR")
    tgz, modules, out = sys.argv[1:]
    with open(tgz, "rb") as f:
        print("tarball sha256", hashlib.sha256(f.read()).hexdigest())
    if shutil.which("node") is None:
        sys.exit("node not found: Mercury runs in Node.js")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp, filter="data")
        pkg = os.path.join(tmp, "package")
        runner = os.path.join(tmp, "runner.js")
        with open(runner, "w", encoding="utf-8") as f:
            f.write(RUNNER)
        env = dict(os.environ, NODE_PATH=os.path.abspath(modules))
        run = subprocess.run(["node", runner, pkg], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit("mercury runner failed:\n" + run.stderr[-3000:])
        results = [json.loads(l) for l in run.stdout.splitlines() if l.strip()]
        os.makedirs(out, exist_ok=True)
        rows = []
        for r in results:
            name = r["site"] + " " + r["fixture"].rsplit("/", 1)[-1]
            body = r.get("body") or ""
            if r.get("error"):
                print("left out (mercury error):", name, r["error"][:80])
            elif not (r["test_title"] and r["test_title"] == r.get("title")
                      and r.get("excerpt_ok")):
                print("left out (title or first words not asserted, or not passing):", name)
            elif r["site"] in NOT_ARTICLES or len(body.split()) < 50:
                print("left out (not an article):", name)
            elif not english(body):
                print("left out (not English):", name)
            else:
                stem = r["fixture"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
                site = re.sub(r"^www\.", "", r["site"]).replace(".", "-")
                pid = "mp-" + site + "-" + stem
                with open(os.path.join(pkg, r["fixture"]), "rb") as f:
                    page = f.read()
                with open(os.path.join(out, pid + ".html"), "wb") as f:
                    f.write(meta_content_back(page))
                rows.append({"id": pid, "lang": "en", "url": r["url"] or "",
                             "title": r["test_title"], "body": body})
    write_set(out, rows)


if __name__ == "__main__":
    main()
