#!/usr/bin/env bash
# Side-by-side benchmark of the mail archive against notmuch (Debian's, with Xapian's CJK
# n-grams on, XAPIAN_CJK_NGRAM=1) on the same generated Maildir: ingest rate and peak RSS
# (tessera: `archive import`, which stores, encrypts and indexes; notmuch: `notmuch new`,
# which indexes files it leaves in place), then search latency and exactness of the same
# queries (Chinese, fields, dates) against the true answers the generator computed.
#
# Usage: bench/archive-bench.sh
# Environment (all optional):
#   BENCH_MESSAGES=100000          messages (half Chinese)
#   BENCH_DIR=/tmp/tessera-archive-bench   work dir
#   BENCH_TOOLS="tessera notmuch"  which tools to run
#   BENCH_OUT=bench/out            where archive-bench.json and archive-bench.md go
#   BENCH_KEEP=0                   1 = keep the work dir
#   TESSERA_BIN=build/default/src/cli/tessera
#   SEARCH_BIN=build/default/bench/archive_search_bench
# Exit status 0 when every tool ran (missed targets do not fail the run), 1 otherwise.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
BENCH_MESSAGES=${BENCH_MESSAGES:-100000}
BENCH_DIR=${BENCH_DIR:-/tmp/tessera-archive-bench}
BENCH_TOOLS=${BENCH_TOOLS:-"tessera notmuch"}
BENCH_OUT=${BENCH_OUT:-$HERE/out}
BENCH_KEEP=${BENCH_KEEP:-0}
TESSERA_BIN=$(realpath "${TESSERA_BIN:-$REPO/build/default/src/cli/tessera}")
SEARCH_BIN=$(realpath "${SEARCH_BIN:-$REPO/build/default/bench/archive_search_bench}")
for tool in $BENCH_TOOLS; do
  case $tool in
    tessera) [ -x "$TESSERA_BIN" ] && [ -x "$SEARCH_BIN" ] || { echo "build tessera first (cmake --build --preset default)"; exit 1; } ;;
    notmuch) command -v notmuch > /dev/null || { echo "notmuch is missing: scripts/install-deps.sh installs it"; exit 1; } ;;
    *) echo "unknown tool $tool"; exit 1 ;;
  esac
done
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR" "$BENCH_OUT"
[ "$BENCH_KEEP" = 1 ] || trap 'rm -rf "$BENCH_DIR"' EXIT
cd "$BENCH_DIR"

echo "== generating $BENCH_MESSAGES messages (half Chinese) and the queries' true answers"
python3 "$HERE/gen_mail.py" "$BENCH_DIR/data" "$BENCH_MESSAGES"
MAILDIR=$BENCH_DIR/data/Maildir
MAIL_BYTES=$(du -sb "$MAILDIR" | cut -f1)
python3 -c 'import json,sys; [print(q["tessera"]) for q in json.load(open(sys.argv[1]))]' data/queries.json > tessera-queries.txt
sync

# timed NAME COMMAND...: runs it under /usr/bin/time, keeps seconds and peak RSS (KiB).
timed() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M %U %S" -o "$BENCH_DIR/$name.time" "$@" > "$BENCH_DIR/$name.log" 2>&1 || {
    echo "$name failed:"
    tail -20 "$BENCH_DIR/$name.log"
    exit 1
  }
  echo "$name: $(cat "$BENCH_DIR/$name.time") (seconds, peak KiB, user, sys)"
}

for tool in $BENCH_TOOLS; do
  case $tool in
    tessera)
      echo "== tessera: archive import (store, compress, encrypt, index)"
      timed tessera-ingest "$TESSERA_BIN" --home "$BENCH_DIR/tessera-home" archive import "$MAILDIR"
      du -sb "$BENCH_DIR/tessera-home/archive" | cut -f1 > tessera-size
      du -sb "$BENCH_DIR/tessera-home/archive/index" | cut -f1 > tessera-index-size
      echo "== tessera: search latency (in process) and exactness"
      "$SEARCH_BIN" "$BENCH_DIR/tessera-home/archive/index" tessera-queries.txt 20 > tessera-search.json
      # The command a user runs, per query, start-up included.
      : > tessera-cli.times
      while IFS= read -r q; do
        s=$(date +%s.%N)
        "$TESSERA_BIN" --home "$BENCH_DIR/tessera-home" archive search "$q" --json > /dev/null
        e=$(date +%s.%N)
        echo "$s $e" | awk '{printf "%.1f\n", ($2-$1)*1000}' >> tessera-cli.times
      done < tessera-queries.txt
      ;;
    notmuch)
      echo "== notmuch: notmuch new (index only; the mail stays where it is)"
      export NOTMUCH_CONFIG=$BENCH_DIR/notmuch-config XAPIAN_CJK_NGRAM=1
      printf '[database]\npath=%s\n[new]\ntags=\n[maildir]\nsynchronize_flags=false\n[user]\nname=bench\nprimary_email=bench@example.gov.tw\n' "$MAILDIR" > "$NOTMUCH_CONFIG"
      timed notmuch-ingest notmuch new --quiet
      du -sb "$MAILDIR/.notmuch" | cut -f1 > notmuch-index-size
      echo "== notmuch: search latency (one process per query) and exactness"
      python3 - "$BENCH_DIR/data/queries.json" > notmuch-search.json << 'PY'
import json, subprocess, sys, time
out = []
for q in json.load(open(sys.argv[1])):
    ms = []
    for _ in range(5):
        t = time.perf_counter()
        r = subprocess.run(["notmuch", "search", "--output=messages", q["notmuch"]], capture_output=True, text=True)
        ms.append((time.perf_counter() - t) * 1000)
    ids = [l[3:] for l in r.stdout.split("\n") if l.startswith("id:")]
    ms.sort()
    out.append({"query": q["notmuch"], "median_ms": ms[len(ms) // 2], "message_ids": ids})
print(json.dumps(out))
PY
      ;;
  esac
done

echo "== report"
python3 - "$BENCH_DIR" "$BENCH_OUT" "$BENCH_MESSAGES" "$MAIL_BYTES" "$BENCH_TOOLS" << 'PY'
import json, os, statistics, sys, datetime
d, out_dir, n, mail_bytes, tools = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split()
queries = json.load(open(os.path.join(d, "data/queries.json")))
def read(name):
    p = os.path.join(d, name)
    return open(p).read().split() if os.path.exists(p) else None
res = {"messages": n, "mail_bytes": mail_bytes, "date": datetime.datetime.now().isoformat(timespec="seconds"), "tools": {}}
lines = ["# Archive benchmark: %d messages (half Chinese), %.0f MiB of mail" % (n, mail_bytes / 2**20), "",
         "| | ingest msgs/s | ingest s | peak RSS MiB | index MiB | search median ms (page of 50, in process) | search via CLI ms (median) | exact queries |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
for tool in tools:
    t = read(tool + "-ingest.time")
    secs, rss = float(t[0]), int(t[1]) / 1024
    search = json.load(open(os.path.join(d, tool + "-search.json")))
    exact, detail = 0, []
    for q, s in zip(queries, search):
        want, got = set(q["expected"]), set(s["message_ids"])
        ok = want == got
        exact += ok
        detail.append({"query": q[tool], "expected": len(want), "found": len(got), "missing": len(want - got),
                       "extra": len(got - want), "exact": ok, "median_ms": round(s["median_ms"], 3)})
    med = statistics.median(s["median_ms"] for s in search)
    cli = None
    if tool == "tessera":
        cli = statistics.median(float(x) for x in read("tessera-cli.times"))
    else:
        cli = med  # notmuch is measured through its command only
    index = int(read(tool + "-index-size")[0]) / 2**20
    res["tools"][tool] = {"ingest_seconds": secs, "ingest_msgs_per_s": n / secs, "peak_rss_mib": rss,
                          "index_mib": index, "search_median_ms": med, "search_cli_median_ms": cli,
                          "exact": exact, "queries": detail}
    if tool == "tessera":
        res["tools"][tool]["archive_mib"] = int(read("tessera-size")[0]) / 2**20
    lines.append("| %s | %.0f | %.1f | %.0f | %.0f | %s | %.1f | %d/%d |" % (
        tool, n / secs, secs, rss, index, "%.2f" % med if tool == "tessera" else "—", cli, exact, len(queries)))
lines += ["", "Queries (found / expected, median ms):", "", "| query | " + " | ".join(tools) + " |", "|---|" + "---|" * len(tools)]
for i, q in enumerate(queries):
    cells = []
    for tool in tools:
        x = res["tools"][tool]["queries"][i]
        cells.append("%d/%d%s %.1f ms" % (x["found"], x["expected"], "" if x["exact"] else " **inexact**", x["median_ms"]))
    lines.append("| `%s` | %s |" % (q["tessera"], " | ".join(cells)))
t = res["tools"].get("tessera")
if t:
    lines += ["", "Targets (DESIGN.md): ingest ≥ 1,000 msgs/s: %s (%.0f); peak RSS ≤ 500 MiB: %s (%.0f); every query exact: %s; median search < 20 ms: %s (%.2f)." % (
        "met" if t["ingest_msgs_per_s"] >= 1000 else "NOT met", t["ingest_msgs_per_s"],
        "met" if t["peak_rss_mib"] <= 500 else "NOT met", t["peak_rss_mib"],
        "met" if t["exact"] == len(queries) else "NOT met",
        "met" if t["search_median_ms"] < 20 else "NOT met", t["search_median_ms"])]
lines += ["", "tessera's ingest stores every message (zstd, AES-256-GCM, hash chain, fsynced in groups) and indexes it; notmuch only indexes files it leaves in place."]
json.dump(res, open(os.path.join(out_dir, "archive-bench.json"), "w"), ensure_ascii=False, indent=1)
open(os.path.join(out_dir, "archive-bench.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
