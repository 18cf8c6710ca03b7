"""What the English page builders (newspaper_pages.py, mercury_pages.py)
share: the truth file and the scorer beside the pages, outside the repo."""

import json
import os
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ../shared beside the repository (a worktree under wt/ has it one level up).
SCORERS = [os.path.join(ROOT, up, "shared", "corpora", "articles-zh", "score.py")
           for up in ("..", os.path.join("..", ".."))]


def write_set(out, rows):
    """Writes truth.jsonl (id, lang, url, title, body) and copies the scorer."""
    with open(os.path.join(out, "truth.jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    found = [p for p in ([os.environ["SCORER"]] if "SCORER" in os.environ else SCORERS)
             if os.path.exists(p)]
    if found:
        shutil.copy(found[0], os.path.join(out, "score.py"))
    else:
        print("scorer not found (set SCORER=.../articles-zh/score.py)")
    print(len(rows), "pages written to", out)
