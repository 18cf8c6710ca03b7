#!/usr/bin/env python3
"""English yardstick whose truth is not Readability's, built OUTSIDE the repository.

    pip download --no-deps --no-binary :all: newspaper4k==0.9.6 -d /tmp/np4
    python3 benches/newspaper_pages.py /tmp/np4/newspaper4k-0.9.6.tar.gz /work/corpora-extra/articles-en2
    ./target/release/huiliu bench articles /work/corpora-extra/articles-en2 --timezone UTC

Where the pages come from: the source distribution of newspaper4k 0.9.6 on
PyPI (github.com/AndyTheFactory/newspaper4k, MIT; the sdist measured,
newspaper4k-0.9.6.tar.gz, has sha256
a3f2f0e017dddb6f1019ee77aaa8980e13e6ecea0b949abc7167aae4770d2d0e, printed
again by this script) ships real article pages saved from the sites with what the
project's maintainers keep as their expected output: `tests/data/html/<name>.html`
(the page as served), `tests/data/txt/<name>.txt` (the article's text) and
`tests/data/metadata/<name>.json` (url, language, title, ...). The text was
made by newspaper's own extractor (goose lineage: node scores from stopword
counts and link density, no Readability) and checked by its maintainers
(helpers/create_test_data.py), so it is independent of Readability but
carries newspaper's own quirks: it keeps paragraphs only (headings, lists
and captions are often left out) and joins them with blank lines.

Only the pages whose metadata says "en" are taken; `video_article_01` is a
byte-for-byte copy of `cleveland.com1` and is left out. Twelve pages: CNN
(4, two of them 2.5 MB app shells), Wired, Time, fox13now, cleveland.com,
Yonhap, sott.net, a Blogger site (linknaija), oneesports.gg.

The pages are never copied into the repository. The scorer is the one of
../shared/corpora/articles-zh (copied next to the pages by this script).
"""
import hashlib
import json
import os
import sys
import tarfile

from pages_out import write_set

SKIP = {"video_article_01"}  # same bytes as cleveland.com1


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: newspaper_pages.py newspaper4k-0.9.6.tar.gz OUTDIR")
    sdist, out = sys.argv[1], sys.argv[2]
    with open(sdist, "rb") as f:
        print("sdist sha256", hashlib.sha256(f.read()).hexdigest())
    os.makedirs(out, exist_ok=True)
    with tarfile.open(sdist) as tar:
        files = {}
        for m in tar.getmembers():
            parts = m.name.split("/")
            if m.isfile() and len(parts) == 5 and parts[1:3] == ["tests", "data"]:
                fh = tar.extractfile(m)
                if fh is not None:
                    files[(parts[3], parts[4])] = fh.read()
    rows = []
    for (kind, name), data in sorted(files.items()):
        if kind != "metadata" or not name.endswith(".json"):
            continue
        stem = name[:-5]
        meta = json.loads(data.decode("utf-8"))
        html = files.get(("html", stem + ".html"))
        txt = files.get(("txt", stem + ".txt"))
        if meta.get("language") != "en" or stem in SKIP or html is None or txt is None:
            continue
        pid = "np-" + stem.replace(".", "-").replace("_", "-")
        with open(os.path.join(out, pid + ".html"), "wb") as f:
            f.write(html)
        rows.append({"id": pid, "lang": "en", "url": meta.get("url") or "",
                     "title": meta.get("title"), "body": txt.decode("utf-8").strip()})
    write_set(out, rows)


if __name__ == "__main__":
    main()
