#!/usr/bin/env bash
# Side-by-side benchmark of tessera's host-integrity check against AIDE (issue #5).
#
# Usage: bench/integrity-bench.sh [--tessera-bin PATH] [--help]
# Environment (all optional):
#   BENCH_SCALE=1          tree size factor (1 = ~20,000 files, ~1 GB; 0.02 = smoke run)
#   BENCH_DIR=/tmp/tessera-integrity-bench   work dir (tree, baseline, AIDE database)
#   BENCH_KEEP=0           1 = keep the work dir after the run
#   BENCH_OUT=bench/out    where integrity-bench.json and integrity-bench.md go
#   BENCH_SEED=20241204    tree seed (the mutation uses BENCH_SEED+1)
#   BENCH_DROP_CACHES=1    drop the page cache before each timed phase (needs root);
#                          0, or a drop that fails, = warm cache (tree read before each phase)
#   BENCH_PHASE_TIMEOUT=3600   seconds before one timed command is killed
#   AIDE_WORKERS=1         AIDE's num_workers (1 is AIDE's default; tessera hashes on one thread)
#   TESSERA_BIN=build/default/src/cli/tessera
# Exit status: 0 when both tools completed every phase, their clean checks were
# clean and their mutated checks reported exactly the mutation (performance is
# never judged); 1 when a tool failed or a finding differed; 2 on a usage /
# setup error. See bench/README.md for what each number means.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --tessera-bin) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; TESSERA_BIN=$2; shift 2 ;;
    --tessera-bin=*) TESSERA_BIN=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "integrity-bench: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

BENCH_SCALE=${BENCH_SCALE:-1}
BENCH_DIR=${BENCH_DIR:-/tmp/tessera-integrity-bench}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_OUT=${BENCH_OUT:-$HERE/out}
BENCH_SEED=${BENCH_SEED:-20241204}
BENCH_DROP_CACHES=${BENCH_DROP_CACHES:-1}
BENCH_PHASE_TIMEOUT=${BENCH_PHASE_TIMEOUT:-3600}
AIDE_WORKERS=${AIDE_WORKERS:-1}
TESSERA_BIN=${TESSERA_BIN:-$REPO/build/default/src/cli/tessera}

BENCH_NAME=integrity-bench
# shellcheck source=bench/bench_lib.sh
. "$HERE/bench_lib.sh"

# ---------------------------------------------------------------- pre-flight
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
/usr/bin/time -f '%M' -o /dev/null true 2>/dev/null || die "/usr/bin/time is not GNU time: apt-get install time"
command -v python3 >/dev/null || die "python3 is required"
command -v aide >/dev/null || die "aide is missing: apt-get install aide (or scripts/install-deps.sh)"
[[ $TESSERA_BIN = /* ]] || TESSERA_BIN=$PWD/$TESSERA_BIN
[[ -x $TESSERA_BIN ]] || die "tessera binary not found or not executable: $TESSERA_BIN (build it, or --tessera-bin PATH)"
case "$BENCH_DIR" in /|/tmp|/tmp/|/root|/home|/var|/usr|/etc|"") die "refusing BENCH_DIR=$BENCH_DIR" ;; esac
[[ $BENCH_DIR = /* ]] || BENCH_DIR=$PWD/$BENCH_DIR
# AIDE's rules are regular expressions in which whitespace and '%' would need URL encoding.
[[ $BENCH_DIR =~ ^[A-Za-z0-9._/+-]+$ ]] || die "BENCH_DIR may only hold letters, digits and . _ / + -: $BENCH_DIR"
python3 -c "import sys; s=float(sys.argv[1]); assert 0 < s <= 20" "$BENCH_SCALE" 2>/dev/null \
  || die "BENCH_SCALE must be a number in (0, 20], got '$BENCH_SCALE'"
[[ $BENCH_SEED =~ ^[0-9]+$ ]] || die "BENCH_SEED must be a non-negative integer"
[[ $AIDE_WORKERS =~ ^[0-9]+%?$ ]] || die "AIDE_WORKERS must be a number or a percentage"
[[ $BENCH_PHASE_TIMEOUT =~ ^[0-9]+$ ]] || die "BENCH_PHASE_TIMEOUT must be a number of seconds"

bench_workdir "$BENCH_DIR" logs meta aide bin
mkdir -p "$BENCH_OUT"

DATA=$W/data
TOOL=$W/meta/tree_tool.py
TESSERA_HOME_DIR=$W/tessera-home
AIDE_CONF=$W/aide/aide.conf
AIDE_DB=$W/aide/aide.db

# ---------------------------------------------------------------- helper (python)
# generate / mutate / stats / verify / report. Standard library only.
cat >"$TOOL" <<'PY'
import json, math, os, random, re, sys, time

MiB = 1 << 20


def cmd_generate(root, scale, seed):
    """~20,000 files / ~1 GB at scale 1: small files 1-64 KiB (log-uniform) in leaf
    directories of ~50, a few large files 1-20 MiB under big/, 1 % symbolic links,
    modes 0644 / 0755 / 0600. Deterministic from the seed."""
    t0 = time.time()
    rng = random.Random(seed)
    pool = rng.randbytes(16 * MiB)  # content is sliced from this pool (fast, deterministic)

    def content(n, tag):
        head = ("%s %d\n" % (tag, seed)).encode()
        out = bytearray(head[:n])
        while len(out) < n:
            k = min(n - len(out), 4 * MiB)
            off = rng.randrange(0, len(pool) - k + 1)
            out += pool[off:off + k]
        return bytes(out)

    n_total = max(20, round(20000 * scale))
    n_large = max(1, round(63 * scale))
    n_small = n_total - n_large
    n_leaf = max(1, math.ceil(n_small / 50))
    n_top = max(1, math.ceil(math.sqrt(n_leaf)))
    leaves = ["t%02d/s%02d" % (i // n_top, i % n_top) for i in range(n_leaf)]
    files = links = dirs = 0
    nbytes = 0
    os.makedirs(root)
    dirs += 1
    made = set()
    for i in range(n_small):
        leaf = leaves[i % n_leaf]
        d = os.path.join(root, leaf)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        name = "f%05d.%s" % (i, rng.choice(["txt", "bin", "conf", "so", "py", "log"]))
        p = os.path.join(d, name)
        if i > 0 and rng.random() < 0.01:
            prev = sorted(x for x in os.listdir(d) if not os.path.islink(os.path.join(d, x)))
            if prev:
                os.symlink(rng.choice(prev), p + ".lnk")
                links += 1
                continue
        size = int(math.exp(rng.uniform(math.log(1024), math.log(64 * 1024))))
        with open(p, "wb") as f:
            f.write(content(size, p))
        r = rng.random()
        os.chmod(p, 0o755 if r < 0.08 else 0o600 if r < 0.10 else 0o644)
        files += 1
        nbytes += size
    big = os.path.join(root, "big")
    os.makedirs(big)
    made.add(big)
    for i in range(n_large):
        size = rng.randint(1 * MiB, 20 * MiB)
        p = os.path.join(big, "large%03d.img" % i)
        with open(p, "wb") as f:
            left = size
            first = True
            while left:
                k = min(left, 4 * MiB)
                f.write(content(k, p if first else "cont"))
                first = False
                left -= k
        os.chmod(p, 0o644)
        files += 1
        nbytes += size
    tops = {os.path.dirname(os.path.join(root, l)) for l in leaves}
    dirs += len(made) + len(tops)
    return {"files": files, "links": links, "dirs": dirs, "entries": files + links + dirs,
            "bytes": nbytes, "large_files": n_large, "seconds": round(time.time() - t0, 2)}


def regular_files(root):
    out = []
    for dp, dn, fn in os.walk(root):
        dn.sort()
        for n in sorted(fn):
            p = os.path.join(dp, n)
            if not os.path.islink(p):
                out.append(p)
    return out


def cmd_stats(root, read):
    files = links = dirs = 0
    nbytes = 0
    for dp, dn, fn in os.walk(root):
        dirs += 1
        for n in dn:
            if os.path.islink(os.path.join(dp, n)):
                links += 1
                dirs -= 1  # os.walk does not descend into it; counted as a link
        for n in fn:
            p = os.path.join(dp, n)
            if os.path.islink(p):
                links += 1
                continue
            files += 1
            nbytes += os.path.getsize(p)
            if read:
                with open(p, "rb") as f:
                    while f.read(MiB):
                        pass
    return {"files": files, "links": links, "dirs": dirs, "entries": files + links + dirs, "bytes": nbytes}


def cmd_mutate(root, seed):
    """10 files get 16 bytes overwritten (same size; the largest file is one of them),
    5 more are chmod 0644->0640 (or 0600->0640), 5 new files appear in existing
    directories, 5 files are removed. Prints the expected findings."""
    rng = random.Random(seed)
    files = regular_files(root)
    largest = max(files, key=os.path.getsize)
    rest = [f for f in files if f != largest]
    pick = rng.sample(rest, 9 + 5 + 5)
    content, chmods, removed = [largest] + pick[:9], pick[9:14], pick[14:19]
    for p in content:
        size = os.path.getsize(p)
        off = rng.randrange(0, max(1, size - 16))
        with open(p, "r+b") as f:
            f.seek(off)
            old = f.read(16)
            f.seek(off)
            f.write(bytes(b ^ 0xFF for b in old))
    for p in chmods:
        mode = os.stat(p).st_mode & 0o7777
        os.chmod(p, 0o640 if mode != 0o640 else 0o600)
    for p in removed:
        os.unlink(p)
    added = []
    dirs = sorted({os.path.dirname(p) for p in rest if p not in removed})
    for i in range(5):
        p = os.path.join(rng.choice(dirs), "added-%d.bin" % i)
        with open(p, "wb") as f:
            f.write(rng.randbytes(rng.randint(1024, 64 * 1024)))
        added.append(p)
    return {"changed": sorted(content + chmods), "content_changed": sorted(content),
            "mode_changed": sorted(chmods), "added": sorted(added), "removed": sorted(removed)}


def cmd_verify(tool, out_path, rc, expected_path):
    """Compares what a tool reported with what was expected (clean, or the mutation)."""
    exp = {"changed": [], "added": [], "removed": []}
    if expected_path != "-":
        with open(expected_path) as f:
            e = json.load(f)
        exp = {k: e[k] for k in ("changed", "added", "removed")}
    v = {"tool": tool, "rc": rc, "ok": False, "entries": None, "found": {}, "expected":
         {k: len(x) for k, x in exp.items()}, "missing": [], "unexpected": [], "notes": []}
    try:
        with open(out_path) as f:
            rep = json.load(f)
    except (OSError, ValueError) as err:
        v["notes"].append("report is not JSON: %s" % err)
        return v
    found = {"changed": [], "added": [], "removed": []}
    if tool == "tessera":
        v["entries"] = rep.get("entries")
        for c in rep.get("changes", []):
            found.setdefault(c.get("kind"), []).append(c.get("path"))
        want_rc = 4 if any(exp.values()) else 0
        if rep.get("ok") != (not any(exp.values())):
            v["notes"].append("ok is %s" % rep.get("ok"))
    else:
        v["entries"] = rep.get("number_of_entries", {}).get("total")
        for k in found:
            found[k] = sorted((rep.get(k) or {}).keys())
        want_rc = (1 if exp["added"] else 0) + (2 if exp["removed"] else 0) + (4 if exp["changed"] else 0)
    if rc != want_rc:
        v["notes"].append("exit %d, expected %d" % (rc, want_rc))
    for k in sorted(set(found) | set(exp)):
        f, e = set(found.get(k, [])), set(exp.get(k, []))
        v["found"][k] = len(f)
        v["missing"] += ["%s %s" % (k, p) for p in sorted(e - f)]
        v["unexpected"] += ["%s %s" % (k, p) for p in sorted(f - e)]
    v["ok"] = not v["missing"] and not v["unexpected"] and not v["notes"]
    return v


def fmt(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if isinstance(x, int):
        return "{:,}".format(x)
    if x >= 1000:
        return "{:,.0f}".format(x)
    return ("{:.%df}" % nd).format(x)


def cmd_report(work, out_dir):
    meta = os.path.join(work, "meta")
    settings = {}
    with open(os.path.join(meta, "settings.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                settings[k] = v
    load = lambda n: json.load(open(os.path.join(meta, n)))
    tree = {"initial": load("tree-initial.json"), "mutated": load("tree-mutated.json")
            if os.path.exists(os.path.join(meta, "tree-mutated.json")) else None}
    generated = load("dataset.json")
    mutation = load("mutation.json") if os.path.exists(os.path.join(meta, "mutation.json")) else None
    rows = []
    fields = ["tool", "phase", "status", "rc", "wall_s", "user_s", "sys_s", "peak_rss_kib",
              "files", "bytes", "cache", "note"]
    with open(os.path.join(work, "results.tsv")) as f:
        for line in f:
            r = dict(zip(fields, line.rstrip("\n").split("\t")))
            for k in ("wall_s", "user_s", "sys_s"):
                r[k] = float(r[k] or 0)
            for k in ("peak_rss_kib", "files", "bytes"):
                r[k] = int(r[k] or 0)
            r["rc"] = int(r["rc"]) if r["rc"] not in ("", None) else None
            w = r["wall_s"]
            ok = r["status"] == "ok" and w > 0
            r["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
            r["files_per_s"] = round(r["files"] / w, 1) if ok else None
            r["mb_per_s"] = round(r["bytes"] / w / 1e6, 1) if ok else None
            r["peak_rss_mib"] = round(r["peak_rss_kib"] / 1024, 1)
            vp = os.path.join(meta, "verdict-%s-%s.json" % (r["tool"], r["phase"]))
            r["verdict"] = json.load(open(vp)) if os.path.exists(vp) else None
            rows.append(r)
    commands = {
        ("tessera", "baseline"): "tessera --home H guard baseline DATA --json",
        ("tessera", "check-clean"): "tessera --home H guard check --json",
        ("tessera", "check-mutated"): "tessera --home H guard check --json",
        ("aide", "baseline"): "aide --init -c aide.conf",
        ("aide", "check-clean"): "aide --check -c aide.conf",
        ("aide", "check-mutated"): "aide --check -c aide.conf",
    }
    failures = [r for r in rows if r["status"] != "ok" or (r["verdict"] and not r["verdict"]["ok"])]
    # The baselines must agree on what they watch: same number of entries.
    ent = {}
    for r in rows:
        if r["verdict"] and r["verdict"].get("entries") is not None:
            ent.setdefault(r["phase"], {})[r["tool"]] = r["verdict"]["entries"]
    disagreements = ["%s: tessera %s entries, AIDE %s" % (p, e.get("tessera"), e.get("aide"))
                     for p, e in sorted(ent.items()) if len(set(e.values())) > 1]
    phases = ["baseline", "check-clean", "check-mutated"]
    speedup = {}
    for p in phases:
        t = [r for r in rows if r["phase"] == p and r["tool"] == "tessera" and r["status"] == "ok"]
        a = [r for r in rows if r["phase"] == p and r["tool"] == "aide" and r["status"] == "ok"]
        if t and a and t[0]["wall_s"] > 0:
            speedup[p] = round(a[0]["wall_s"] / t[0]["wall_s"], 2)
    ok = not failures and not disagreements and len(rows) == 6
    result = {"settings": settings, "generated": generated, "tree": tree, "mutation": mutation,
              "results": rows, "speedup_tessera_vs_aide": speedup, "failures":
              ["%s %s" % (r["tool"], r["phase"]) for r in failures],
              "disagreements": disagreements, "ok": ok}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "integrity-bench.json"), "w") as f:
        json.dump(result, f, indent=1)

    def finding(r):
        v = r["verdict"]
        if r["status"] == "skipped":
            return "SKIPPED (%s)" % r["note"]
        if r["status"] != "ok":
            return "**FAILED** (%s)" % (r["note"] or "exit %s" % r["rc"])
        if v is None:
            return ""
        if r["phase"] == "baseline":
            s = "%s entries" % fmt(v.get("entries"))
        else:
            fd = v["found"]
            s = "clean" if not any(fd.values()) else "%d changed, %d added, %d removed" % (
                fd.get("changed", 0), fd.get("added", 0), fd.get("removed", 0))
            s += ", exit %s" % r["rc"]
        return s + (" ✓" if v["ok"] else " **✗ %s**" % "; ".join(v["notes"] + v["missing"][:3] + v["unexpected"][:3]))

    t0 = tree["initial"]
    cache = settings.get("cache", "?")
    lines = ["## Report: integrity check, tessera vs AIDE", "",
             "Tree: %s regular files, %s symbolic links, %s directories, %.1f MB (scale %s, seed %s). "
             "Cache: **%s**. %s, num_workers=%s. tessera: %s (binary of %s). Machine: %s cores, %s." % (
                 fmt(t0["files"]), fmt(t0["links"]), fmt(t0["dirs"]), t0["bytes"] / 1e6,
                 settings.get("scale"), settings.get("seed"), cache,
                 settings.get("aide_version"), settings.get("aide_workers"),
                 settings.get("tessera_version"), settings.get("tessera_bin_mtime"),
                 settings.get("nproc"), settings.get("cpu")),
             "",
             "Load average (1, 5, 15 min) at the start: %s, at the end: %s; anything else running "
             "competes for the same cores and disk." % (settings.get("loadavg_start", "?"),
                                                        settings.get("loadavg_end", "?")),
             "",
             "| phase | tool | command | wall s | files/s | MB/s | CPU s | peak RSS MiB | findings |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for p in phases:
        for r in rows:
            if r["phase"] != p:
                continue
            lines.append("| %s | %s | `%s` | %s | %s | %s | %s | %s | %s |" % (
                p, r["tool"], commands.get((r["tool"], p), ""), fmt(r["wall_s"], 2),
                fmt(r["files_per_s"], 0), fmt(r["mb_per_s"]), fmt(r["cpu_s"], 2),
                fmt(r["peak_rss_mib"]), finding(r)))
    lines.append("")
    if speedup:
        lines.append("tessera speed-up (AIDE wall ÷ tessera wall): " + ", ".join(
            "%s %.2f×" % (p, s) for p, s in speedup.items()) + ".")
        lines.append("")
    if mutation:
        lines.append("Mutation: %d files with 16 bytes overwritten (same size), %d chmod, %d added, "
                     "%d removed → expected %d changed, %d added, %d removed." % (
                         len(mutation["content_changed"]), len(mutation["mode_changed"]),
                         len(mutation["added"]), len(mutation["removed"]), len(mutation["changed"]),
                         len(mutation["added"]), len(mutation["removed"])))
        lines.append("")
    lines.append("files/s and MB/s: regular files and their bytes in the tree ÷ wall seconds "
                 "(same numerator for both tools). CPU s = user + system. Peak RSS = GNU time %M.")
    if disagreements:
        lines += ["", "**Entry counts disagree:** " + "; ".join(disagreements)]
    lines += ["", "Result: **%s**" % ("both tools completed and agree" if ok else
                                      "FAILED or DISAGREE: " + ", ".join(result["failures"] + disagreements))]
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "integrity-bench.md"), "w") as f:
        f.write(md)
    print(md)
    return 0 if ok else 1


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "generate":
        print(json.dumps(cmd_generate(args[0], float(args[1]), int(args[2]))))
    elif cmd == "stats":
        print(json.dumps(cmd_stats(args[0], len(args) > 1 and args[1] == "read")))
    elif cmd == "mutate":
        print(json.dumps(cmd_mutate(args[0], int(args[1])), indent=1))
    elif cmd == "verify":
        v = cmd_verify(args[0], args[1], int(args[2]), args[3])
        print(json.dumps(v, indent=1))
        return 0 if v["ok"] else 1
    elif cmd == "report":
        return cmd_report(args[0], args[1])
    elif cmd == "get":  # get FILE KEY: one top-level value of a JSON file
        print(json.load(open(args[0])).get(args[1], ""))
    return 0


sys.exit(main())
PY

# ---------------------------------------------------------------- cache handling
# Cold cache: sync and drop the page cache before each timed phase, so both tools
# read the tree (and their baseline / database) from disk. Without root, warm cache:
# read the whole tree before each phase instead, so both start from the same state.
CACHE=warm
if [[ $BENCH_DROP_CACHES = 1 ]]; then
  if sync && { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
    CACHE=cold
  else
    log "cannot drop the page cache (not root, or /proc/sys is read-only): running with a warm cache"
  fi
fi
prepare_cache() {
  sync
  if [[ $CACHE = cold ]]; then
    echo 3 >/proc/sys/vm/drop_caches
  else
    python3 "$TOOL" stats "$DATA" read >/dev/null
  fi
}

# the fields of record: TOOL PHASE STATUS RC WALL USER SYS RSS_KB FILES BYTES CACHE NOTE

# measure TOOL PHASE OKCODES -- CMD...: runs CMD under GNU time, stdout/stderr in
# $W/logs/TOOL-PHASE.{out,err}; the tree's file count and bytes come from $TREE_STATS.
measure() {
  local tool=$1 phase=$2 okcodes=$3
  shift 4
  local base=$W/logs/$tool-$phase rc=0
  prepare_cache
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" \
    timeout --kill-after=30 "$BENCH_PHASE_TIMEOUT" "$@" </dev/null >"$base.out" 2>"$base.err" || rc=$?
  local wall=0 user=0 sys=0 rss=0
  if [[ -s $base.time ]]; then
    read -r wall user sys rss < <(tail -n 1 "$base.time") || true
  fi
  [[ $wall =~ ^[0-9.]+$ ]] || { wall=0 user=0 sys=0 rss=0; }
  local status=ok note=""
  if [[ " ${okcodes//,/ } " != *" $rc "* ]]; then
    status=failed
    [[ $rc = 124 || $rc = 137 ]] && note="timed out after ${BENCH_PHASE_TIMEOUT}s"
    [[ $rc = 127 ]] && note="command not found: $1"
  fi
  local files bytes
  files=$(python3 "$TOOL" get "$TREE_STATS" files)
  bytes=$(python3 "$TOOL" get "$TREE_STATS" bytes)
  record "$tool" "$phase" "$status" "$rc" "$wall" "$user" "$sys" "$rss" "$files" "$bytes" "$CACHE" "$note"
  LAST_RC=$rc
  if [[ $status = ok ]]; then
    log "$tool $phase: ${wall}s, user ${user}s, sys ${sys}s, peak RSS $((rss / 1024)) MiB, exit $rc"
    return 0
  fi
  log "$tool $phase: FAILED (exit $rc${note:+, $note}); stderr tail:"
  tail -n 8 "$base.err" | sed 's/^/    | /'
  return 1
}

skip() { record "$1" "$2" skipped "" 0 0 0 0 0 0 "$CACHE" "baseline failed"; log "$1 $2: skipped (baseline failed)"; }

# verify TOOL PHASE EXPECTED(-=clean): compares the tool's report with what should be found.
verify() {
  local tool=$1 phase=$2 expected=$3 out=$W/logs/$1-$2.out
  if python3 "$TOOL" verify "$tool" "$out" "$LAST_RC" "$expected" >"$W/meta/verdict-$tool-$phase.json"; then
    log "$tool $phase: findings as expected"
  else
    log "!!! $tool $phase: findings differ from what was expected:"
    sed 's/^/    | /' "$W/meta/verdict-$tool-$phase.json" | head -n 40
  fi
}

# ---------------------------------------------------------------- settings
# A private copy of the binary: a rebuild during the run cannot swap it between phases.
cp "$TESSERA_BIN" "$W/bin/tessera"
TESSERA=$W/bin/tessera
timeout 20 "$TESSERA" --version </dev/null >/dev/null 2>&1 \
  || die "$TESSERA_BIN does not run (--version failed); is it being rebuilt right now?"
{
  echo "scale=$BENCH_SCALE"
  echo "seed=$BENCH_SEED"
  echo "work_dir=$W"
  echo "work_fs=$(df -PT "$W" | awk 'NR==2 {print $2}')"
  echo "cache=$CACHE"
  echo "tessera_bin=$TESSERA_BIN"
  echo "tessera_bin_mtime=$(date -u -r "$TESSERA_BIN" +%Y-%m-%dT%H:%M:%SZ)"
  echo "tessera_bin_sha256=$(sha256sum "$W/bin/tessera" | cut -c1-16)"
  echo "tessera_version=$(timeout 20 "$TESSERA" --version </dev/null 2>&1 | head -n 1 || true)"
  echo "aide_version=$(aide --version 2>&1 | head -n 1 || true)"
  echo "aide_workers=$AIDE_WORKERS"
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel=$(uname -r)"
  echo "phase_timeout=$BENCH_PHASE_TIMEOUT"
  echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$W/meta/settings.env"

# ---------------------------------------------------------------- tree
log "generating the tree (scale $BENCH_SCALE, seed $BENCH_SEED) in $DATA"
python3 "$TOOL" generate "$DATA" "$BENCH_SCALE" "$BENCH_SEED" >"$W/meta/dataset.json"
sync
python3 "$TOOL" stats "$DATA" >"$W/meta/tree-initial.json"
TREE_STATS=$W/meta/tree-initial.json
log "tree: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d files, %d links, %d directories, %.1f MB" % (d["files"], d["links"], d["dirs"], d["bytes"] / 1e6))' "$TREE_STATS"); cache: $CACHE"

# ---------------------------------------------------------------- AIDE configuration
# The attributes tessera records, nothing more: regular files sha256, permissions,
# owner, group, size, type; links their target; directories permissions, owner,
# group, type (no size: a directory's size changes with its entries, and tessera
# records none). No mtime, ctime, inode, link count, ACLs or xattrs.
DATA_RE=$(python3 -c 'import re,sys; print(re.escape(sys.argv[1]))' "$DATA")
cat >"$AIDE_CONF" <<EOF
# Written by bench/integrity-bench.sh
database_in=file:$AIDE_DB
database_out=file:$AIDE_DB.new
gzip_dbout=false
num_workers=$AIDE_WORKERS
report_format=json
report_url=stdout
TesseraFile = sha256+p+u+g+s+ftype
TesseraDir = p+u+g+ftype
TesseraLink = p+u+g+ftype+l
$DATA_RE f TesseraFile
$DATA_RE d TesseraDir
$DATA_RE l TesseraLink
EOF
aide --config-check -c "$AIDE_CONF" >"$W/logs/aide-config-check.out" 2>&1 \
  || { cat "$W/logs/aide-config-check.out" >&2; die "aide rejects the generated configuration $AIDE_CONF"; }

# ---------------------------------------------------------------- baseline / init
log "== tessera: baseline"
TESSERA_OK=1 AIDE_OK=1
if measure tessera baseline 0 -- "$TESSERA" --home "$TESSERA_HOME_DIR" guard baseline "$DATA" --json; then
  # The baseline's own --json has no "changes": count its entries only.
  python3 - "$W/logs/tessera-baseline.out" "$W/meta/verdict-tessera-baseline.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
json.dump({"tool": "tessera", "ok": True, "entries": b.get("entries"), "found": {}, "notes": [],
           "missing": [], "unexpected": []}, open(sys.argv[2], "w"))
PY
else
  TESSERA_OK=0
fi

log "== aide: --init"
if measure aide baseline 0 -- aide --init -c "$AIDE_CONF"; then
  mv "$AIDE_DB.new" "$AIDE_DB"
  python3 - "$W/logs/aide-baseline.out" "$W/meta/verdict-aide-baseline.json" <<'PY'
import json, sys
try:
    n = json.load(open(sys.argv[1])).get("number_of_entries", {}).get("total")
except ValueError:
    n = None
json.dump({"tool": "aide", "ok": n is not None, "entries": n, "found": {},
           "notes": [] if n is not None else ["no entry count in the report"], "missing": [],
           "unexpected": []}, open(sys.argv[2], "w"))
PY
else
  AIDE_OK=0
fi

# ---------------------------------------------------------------- clean checks
if [[ $TESSERA_OK = 1 ]]; then
  log "== tessera: check (clean tree)"
  if measure tessera check-clean 0,4 -- "$TESSERA" --home "$TESSERA_HOME_DIR" guard check --json; then
    verify tessera check-clean -
  fi
else
  skip tessera check-clean
fi
if [[ $AIDE_OK = 1 ]]; then
  log "== aide: --check (clean tree)"
  if measure aide check-clean 0,1,2,3,4,5,6,7 -- aide --check -c "$AIDE_CONF"; then
    verify aide check-clean -
  fi
else
  skip aide check-clean
fi

# ---------------------------------------------------------------- mutation
log "mutating the tree (seed $((BENCH_SEED + 1))): 10 contents, 5 modes, 5 added, 5 removed"
python3 "$TOOL" mutate "$DATA" "$((BENCH_SEED + 1))" >"$W/meta/mutation.json"
sync
python3 "$TOOL" stats "$DATA" >"$W/meta/tree-mutated.json"
TREE_STATS=$W/meta/tree-mutated.json

if [[ $TESSERA_OK = 1 ]]; then
  log "== tessera: check (mutated tree)"
  if measure tessera check-mutated 0,4 -- "$TESSERA" --home "$TESSERA_HOME_DIR" guard check --json; then
    verify tessera check-mutated "$W/meta/mutation.json"
  fi
else
  skip tessera check-mutated
fi
if [[ $AIDE_OK = 1 ]]; then
  log "== aide: --check (mutated tree)"
  if measure aide check-mutated 0,1,2,3,4,5,6,7 -- aide --check -c "$AIDE_CONF"; then
    verify aide check-mutated "$W/meta/mutation.json"
  fi
else
  skip aide check-mutated
fi

{
  echo "finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$W/meta/settings.env"

# ---------------------------------------------------------------- report
rc=0
python3 "$TOOL" report "$W" "$BENCH_OUT" || rc=$?
log "reports: $BENCH_OUT/integrity-bench.md, $BENCH_OUT/integrity-bench.json"
exit "$rc"
