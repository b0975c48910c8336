"""Company resolution on real labelled complaints: precision first, recall reported.

On ../shared/data/cfpb_complaints_mixed_2015-2020_narratives.csv (1,532 US CFPB
complaints; the `Company` column names the company each was filed against)
this resolves every narrative with

  (a) the built-in alias table only, and
  (b) the built-in table plus a user alias file built from the `Company`
      column (indexer.companies.alias_file_from_csv: legal suffixes stripped,
      trailing business words dropped when what is left is distinctive; a name
      that is already a built-in company extends that company),

for the current resolver and, as the baseline measured in the same run, the
resolver and alias table at git HEAD (`git show HEAD:indexer/companies.py`;
`--baseline-ref REV` for another revision). `--errors N` prints N wrong names
in context for the error analysis.

Precision: of all companies named (each named company of a post is one
prediction), the share that is the labelled company. Recall: the share of posts
whose labelled company is among those named. A labelled company is "the same"
as a named one when the alias builder maps its registered name to that id (it
does so from names alone, never from the narratives). Narratives are redacted
(XXXX), so recall is bounded by how often the company's name survives.

    python bench/companies.py [--csv PATH] [--text-column C] [--company-column C] [--aliases-out FILE]

Last line: `companies: precision P recall R (baseline precision P0 recall R0)`, for (b).
"""

from __future__ import annotations

import argparse
import collections
import csv
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer import companies as current  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared" / "data" / "cfpb_complaints_mixed_2015-2020_narratives.csv"


def old_resolver_class(tmp: Path, ref: str = "HEAD"):
    """CompanyResolver, Company and the built-in table as they are at git `ref`."""
    src = subprocess.run(
        ["git", "show", f"{ref}:indexer/companies.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for where in ("complaintwatch/data/companies.toml", "indexer/data/companies.toml"):  # moved, then before
        shown = subprocess.run(["git", "show", f"{ref}:{where}"], cwd=REPO, capture_output=True, text=True)
        if shown.returncode == 0:
            table = tmp / "_companies_head.toml"
            table.write_text(shown.stdout, encoding="utf-8")
            break
    else:
        raise FileNotFoundError(f"no built-in company table at git {ref}")
    path = tmp / "_companies_head.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("indexer._companies_head", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    builtin = mod.load_alias_file(table)
    return mod, builtin


def evaluate(resolver, texts: list[str], truth: list[str]) -> dict:
    t0 = time.perf_counter()
    preds = [resolver.resolve(t) for t in texts]
    secs = time.perf_counter() - t0
    n_pred = sum(len(p) for p in preds)
    correct = sum(sum(c == y for c in p) for p, y in zip(preds, truth, strict=True))
    hit = sum(y in p for p, y in zip(preds, truth, strict=True))
    named = [p for p in preds if p]
    first = sum(p[0] == y for p, y in zip(preds, truth, strict=True) if p)
    confusions = collections.Counter((y, c) for p, y in zip(preds, truth, strict=True) for c in p if c != y)
    return {
        "precision": correct / n_pred if n_pred else 0.0,
        "recall": hit / len(texts),
        "with_company": len(named) / len(texts),
        "first_precision": first / len(named) if named else 0.0,
        "predictions": n_pred,
        "correct": correct,
        "posts_per_s": len(texts) / secs if secs else 0.0,
        "confusions": confusions,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--text-column", default="Consumer complaint narrative")
    ap.add_argument("--company-column", default="Company")
    ap.add_argument("--industry", default="banking", help="industry of the companies in the column ('' for none)")
    ap.add_argument("--aliases-out", type=Path, help="keep the alias file built from the company column here")
    ap.add_argument("--confusions", type=int, default=8, help="show this many most common wrong names per run")
    ap.add_argument("--errors", type=int, default=0, help="print the context of this many wrong names, current (b)")
    ap.add_argument("--baseline-ref", default="HEAD", help="git revision of the baseline resolver and table")
    args = ap.parse_args(argv)

    with open(args.csv, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r.get(args.text_column) or "").strip()]
    texts = [r[args.text_column] for r in rows]
    labels = [r[args.company_column].strip() for r in rows]

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        alias_file = args.aliases_out or tmp / "csv_aliases.toml"
        builtin = current.CompanyResolver.default()
        table = current.alias_file_from_csv(args.csv, args.company_column, alias_file, builtin, args.industry or None)
        truth = [table[y].id if y in table else y for y in labels]
        merged = sum(c.id in builtin.companies for c in table.values())
        n_ids = len({c.id for c in table.values()})
        print(f"data: {len(rows)} posts from {args.csv.name}, {len(set(labels))} labelled companies")
        print(
            f"alias file: {n_ids} companies from {len(table)} registered names "
            f"({merged} names extend a built-in company), {alias_file if args.aliases_out else 'temporary'}"
        )
        print(f"built-in table: {len(builtin.companies)} companies now")

        head, head_builtin = old_resolver_class(tmp, args.baseline_ref)
        runs = {
            ("baseline", "a"): head.CompanyResolver(head_builtin),
            ("current", "a"): current.CompanyResolver.default(),
        }
        old_b = head.CompanyResolver(head_builtin)
        for c in head.load_alias_file(alias_file):
            old_b.add(c)
        runs[("baseline", "b")] = old_b
        runs[("current", "b")] = current.CompanyResolver.default([alias_file])

        results = {}
        print()
        head = ["precision", "recall", "named any", "names", "1st-name prec", "posts/s"]
        print(f"{'resolver':9} {'aliases':22} " + " ".join(f"{h:>9}" for h in head))
        for (who, cfg), r in runs.items():
            res = results[(who, cfg)] = evaluate(r, texts, truth)
            what = "(a) built-in" if cfg == "a" else "(b) built-in + CSV file"
            print(
                f"{who:9} {what:22} {res['precision']:9.3f} {res['recall']:9.3f} {res['with_company']:9.3f} "
                f"{res['predictions']:9d} {res['first_precision']:9.3f} {res['posts_per_s']:9.0f}"
            )
        if args.confusions:
            for key, res in results.items():
                top = res["confusions"].most_common(args.confusions)
                if top:
                    print(f"\nmost common wrong names, {key[0]} ({key[1]}): labelled -> named (count)")
                    for (y, c), n in top:
                        print(f"  {y} -> {c} ({n})")
        if args.errors:
            r = runs[("current", "b")]
            print(f"\nwrong names, current (b), in context (first {args.errors}):")
            shown = 0
            for text, y in zip(texts, truth, strict=True):
                for c in r.resolve(text):
                    if c == y or shown >= args.errors:
                        continue
                    spans = [(s, e) for s, e, cid in r.mentions(text) if cid == c][:1]
                    ctx = " ".join(" ".join(text[max(0, s - 70) : e + 50].split()) for s, e in spans)
                    print(f"  {y} -> {c}: ...{ctx}...")
                    shown += 1
    cur, base = results[("current", "b")], results[("baseline", "b")]
    print()
    print(
        f"companies: precision {cur['precision']:.3f} recall {cur['recall']:.3f} "
        f"(baseline precision {base['precision']:.3f} recall {base['recall']:.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
