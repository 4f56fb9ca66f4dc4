#!/usr/bin/env python3
"""Turn the raw results of bench/vault-bench.sh into a table, JSON and Markdown.

usage: report.py --work WORK_DIR --out OUT_DIR
Reads WORK_DIR/results.tsv, WORK_DIR/meta/*, WORK_DIR/logs/*; writes
OUT_DIR/vault-bench.json and OUT_DIR/vault-bench.md and prints the table.
Exit status: 0 = every tool completed every phase and every restore was
identical; 1 otherwise.  Missed performance targets never change it.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

MiB = 1 << 20
PHASES = ["init", "backup", "incremental", "restore", "verify"]
FIELDS = ["tool", "phase", "status", "rc", "wall_s", "user_s", "sys_s", "peak_rss_kib",
          "repo_bytes_before", "repo_bytes_after", "local_state_bytes", "sync_after_s", "note"]


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def read_text(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def tail(path, n=15):
    lines = read_text(path).rstrip("\n").splitlines()
    return lines[-n:]


def settings(work):
    s = {}
    for line in read_text(os.path.join(work, "meta", "settings.env")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            s[k] = v
    return s


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            info["cpu_model"] = line.split(":", 1)[1].strip()
            break
    for line in read_text("/proc/meminfo").splitlines():
        if line.startswith("MemTotal"):
            info["mem_total_mib"] = int(line.split()[1]) // 1024
            break
    info["os"] = read_text("/etc/debian_version").strip() and "Debian " + read_text("/etc/debian_version").strip()
    try:
        info["nproc_available"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    except (OSError, ValueError):
        pass
    return info


def tool_report(tool, work):
    """Parse what the tool itself said about its backups (informational)."""
    out = {}
    for phase in ("backup", "incremental"):
        raw = read_text(os.path.join(work, "logs", f"{tool}-{phase}.out"))
        if not raw.strip():
            continue
        if tool == "restic":
            for line in raw.splitlines():
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if d.get("message_type") == "summary":
                    out[phase] = {k: d.get(k) for k in (
                        "files_new", "files_changed", "files_unmodified", "data_added",
                        "total_files_processed", "total_bytes_processed", "total_duration")}
        elif tool == "borg":
            d = None
            try:
                d = json.loads(raw)
            except ValueError:
                pass
            if d and "archive" in d:
                st = d["archive"].get("stats", {})
                out[phase] = {k: st.get(k) for k in ("original_size", "compressed_size",
                                                      "deduplicated_size", "nfiles")}
                out[phase]["duration"] = d["archive"].get("duration")
        else:
            try:
                out[phase] = json.loads(raw)
            except ValueError:
                out[phase] = {"stdout": raw[-2000:]}
    stats = read_text(os.path.join(work, "logs", f"{tool}-stats.out"))
    if stats.strip():
        try:
            out["stats"] = json.loads(stats)
        except ValueError:
            out["stats"] = {"stdout": stats[-2000:]}
    return out


def fmt(v, spec=".2f", none="—"):
    if v is None:
        return none
    if isinstance(v, str):
        return v
    return format(v, spec)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    work = a.work
    st = settings(work)
    tools = st.get("tools", "tessera restic borg").split()
    n, k = int(st.get("tessera_n", 5)), int(st.get("tessera_k", 3))
    expansion = n / k
    dataset = load_json(os.path.join(work, "meta", "dataset.json"), {})
    mutation = load_json(os.path.join(work, "meta", "mutation.json"), {})
    bytes_initial = dataset.get("bytes")
    bytes_latest = mutation.get("bytes", bytes_initial)

    rows = {}
    with open(os.path.join(work, "results.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            parts += [""] * (len(FIELDS) - len(parts))
            r = dict(zip(FIELDS, parts))
            for key in ("wall_s", "user_s", "sys_s", "sync_after_s"):
                r[key] = float(r[key] or 0)
            for key in ("peak_rss_kib", "repo_bytes_before", "repo_bytes_after", "local_state_bytes"):
                r[key] = int(float(r[key] or 0))
            r["rc"] = int(r["rc"]) if r["rc"] not in ("", None) else None
            rows[(r["tool"], r["phase"])] = r

    results = {}
    failures = []
    for t in tools:
        tr = {"status": "ok", "phases": {}}
        for p in PHASES:
            r = rows.get((t, p))
            if r is None:
                tr["phases"][p] = {"status": "not run"}
                continue
            ok = r["status"] == "ok"
            ph = {"status": r["status"], "exit_code": r["rc"], "note": r["note"] or None}
            if ok:
                wall = r["wall_s"]
                ph.update({
                    "wall_s": wall,
                    "cpu_s": round(r["user_s"] + r["sys_s"], 2),
                    "user_s": r["user_s"], "sys_s": r["sys_s"],
                    "peak_rss_mib": round(r["peak_rss_kib"] / 1024, 1),
                    "repo_bytes_before": r["repo_bytes_before"],
                    "repo_bytes_after": r["repo_bytes_after"],
                    "repo_growth_bytes": r["repo_bytes_after"] - r["repo_bytes_before"],
                    "local_state_bytes": r["local_state_bytes"],
                    "sync_after_s": r["sync_after_s"],
                })
                if t == "tessera":
                    ph["repo_growth_bytes_before_expansion"] = round(ph["repo_growth_bytes"] / expansion)
                    ph["repo_bytes_after_before_expansion"] = round(r["repo_bytes_after"] / expansion)
                logical = {"backup": bytes_initial, "incremental": bytes_latest,
                           "restore": bytes_latest, "verify": bytes_latest}.get(p)
                if logical and wall > 0:
                    ph["logical_bytes"] = logical
                    ph["throughput_mb_s"] = round(logical / wall / 1e6, 2)
                elif logical:
                    ph["logical_bytes"] = logical
                    ph["throughput_mb_s"] = None
                if p == "verify" and wall > 0:
                    ph["repo_read_mb_s"] = round(r["repo_bytes_after"] / wall / 1e6, 2)
            else:
                ph["stderr_tail"] = tail(os.path.join(work, "logs", f"{t}-{p}.err"))
                if r["status"] == "failed":
                    tr["status"] = "FAILED"
                    failures.append(f"{t} {p}: {r['note'] or 'exit ' + str(r['rc'])}")
                elif tr["status"] == "ok":
                    tr["status"] = "FAILED"
            tr["phases"][p] = ph
        cmp_ = load_json(os.path.join(work, "meta", f"compare-{t}.json"))
        if cmp_ is not None:
            tr["restore_check"] = cmp_
            if not cmp_.get("identical"):
                tr["status"] = "FAILED"
                failures.append(f"{t} restore: differs from the source ({cmp_.get('problems')} problems)")
        elif tr["phases"].get("restore", {}).get("status") == "ok":
            tr["restore_check"] = {"identical": None}
        rss = [ph.get("peak_rss_mib") for ph in tr["phases"].values() if ph.get("peak_rss_mib") is not None]
        tr["peak_rss_mib_max"] = max(rss) if rss else None
        tr["tool_report"] = tool_report(t, work)
        results[t] = tr

    # ---------------------------------------------------------------- targets
    def tp(t, p):
        # A ratio only needs that phase to have succeeded (and, for restore,
        # the restored tree to be identical): a tool that fails later still
        # gets its earlier numbers compared.
        r = results.get(t)
        if not r:
            return None
        ph = r["phases"].get(p, {})
        if ph.get("status") != "ok":
            return None
        if p == "restore" and not (r.get("restore_check") or {}).get("identical"):
            return None
        return ph.get("throughput_mb_s")

    def phase_ok(t, p):
        return results.get(t, {}).get("phases", {}).get(p, {}).get("status") == "ok"

    targets = []

    def target(name, value, op, goal, unit="", usable=True):
        if value is None or not usable:
            verdict = "n/a"
        else:
            verdict = "PASS" if (value >= goal if op == ">=" else value <= goal) else "MISS"
        targets.append({"name": name, "value": None if value is None else round(value, 3),
                        "target": f"{op} {goal}{unit}", "verdict": verdict})

    have_both = "tessera" in results and "restic" in results
    target("initial backup throughput tessera/restic", ratio(tp("tessera", "backup"), tp("restic", "backup")) if have_both else None, ">=", 3, "x")
    target("restore throughput tessera/restic", ratio(tp("tessera", "restore"), tp("restic", "restore")) if have_both else None, ">=", 2, "x")
    target("verify throughput tessera/restic", ratio(tp("tessera", "verify"), tp("restic", "verify")) if have_both else None, ">=", 2, "x")
    target("incremental throughput tessera/restic", ratio(tp("tessera", "incremental"), tp("restic", "incremental")) if have_both else None, ">=", 1, "x")
    # Peak RSS: max over the phases that succeeded (a partial run still shows it).
    tess_rss = results.get("tessera", {}).get("peak_rss_mib_max")
    rss_name = "tessera peak RSS (MiB, max over phases)"
    tess_complete = all(phase_ok("tessera", p) for p in PHASES)
    if not tess_complete and tess_rss is not None:
        rss_name += " [partial run: not judged]"
    target(rss_name, tess_rss, "<=", 200, " MiB", usable=tess_complete)
    g_t = results["tessera"]["phases"]["incremental"].get("repo_growth_bytes_before_expansion") if phase_ok("tessera", "incremental") else None
    g_r = results["restic"]["phases"]["incremental"].get("repo_growth_bytes") if phase_ok("restic", "incremental") else None
    target(f"5% change storage growth tessera/(n/k={n}/{k}) vs restic", ratio(g_t, g_r), "<=", 1, "x")
    rss_ratio = ratio(tess_rss, results.get("restic", {}).get("peak_rss_mib_max")) if tess_complete else None
    info_ratios = {"peak_rss_tessera_over_restic": None if rss_ratio is None else round(rss_ratio, 3)}

    doc = {
        "benchmark": "vault-bench",
        "settings": st,
        "machine": machine_info(),
        "dataset": dataset,
        "mutation": mutation,
        "definitions": {
            "throughput_mb_s": "logical bytes of the tree being backed up / restored / verified, divided by wall time, in 10^6 bytes/s. "
                               "backup: the initial tree; incremental, restore, verify: the whole mutated tree (as restic reports it: "
                               "bytes processed, not bytes changed)",
            "cpu_s": "user + sys CPU seconds of the command and its children (GNU time)",
            "peak_rss_mib": "maximum resident set size of the largest process (GNU time %M), MiB",
            "repo_growth_bytes": "du -sb of the repository (for tessera: sum over all stores) after minus before the phase",
            "repo_growth_bytes_before_expansion": f"tessera only: repo_growth_bytes / (n/k) = / ({n}/{k})",
            "sync_after_s": "time for a sync(1) right after the command (not included in wall_s)",
        },
        "results": results,
        "targets": targets,
        "ratios": info_ratios,
        "failures": failures,
        "ok": not failures,
    }

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "vault-bench.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")

    table = build_table(tools, results, expansion, n, k)
    tgt = build_targets(targets, info_ratios)
    md = build_markdown(doc, tools, results, table, tgt, n, k)
    with open(os.path.join(a.out, "vault-bench.md"), "w") as f:
        f.write(md)

    print()
    print(render_plain(table))
    print()
    print(render_plain(tgt))
    if failures:
        print()
        print("FAILURES:")
        for fl in failures:
            print("  - " + fl)
        for t in tools:
            for p, ph in results[t]["phases"].items():
                if ph.get("status") == "failed":
                    print(f"  --- {t} {p}: stderr tail ---")
                    for line in ph.get("stderr_tail", []):
                        print("  | " + line)
    print()
    print(f"wrote {os.path.join(a.out, 'vault-bench.json')} and {os.path.join(a.out, 'vault-bench.md')}")
    sys.exit(0 if not failures else 1)


def build_table(tools, results, expansion, n, k):
    head = ["phase", "metric"] + tools
    body = []
    metrics = [
        ("wall s", lambda ph: fmt(ph.get("wall_s"))),
        ("MB/s", lambda ph: fmt(ph.get("throughput_mb_s"), ".1f")),
        ("CPU s (user+sys)", lambda ph: fmt(ph.get("cpu_s"))),
        ("peak RSS MiB", lambda ph: fmt(ph.get("peak_rss_mib"), ".1f")),
        ("repo growth MiB", lambda ph: fmt(None if "repo_growth_bytes" not in ph else ph["repo_growth_bytes"] / MiB, ".2f")),
        ("repo size MiB", lambda ph: fmt(None if "repo_bytes_after" not in ph else ph["repo_bytes_after"] / MiB, ".2f")),
        ("local cache/config MiB", lambda ph: fmt(None if "local_state_bytes" not in ph else ph["local_state_bytes"] / MiB, ".2f")),
    ]
    for p in PHASES:
        first = True
        for name, fn in metrics:
            if p == "init" and name in ("MB/s",):
                continue
            row = [p if first else "", name]
            for t in tools:
                ph = results[t]["phases"].get(p, {})
                row.append(fn(ph) if ph.get("status") == "ok" else ph.get("status", "—").upper())
            body.append(row)
            first = False
        if p in ("backup", "incremental"):
            row = ["", f"growth MiB /(n/k={n}/{k})"]
            for t in tools:
                ph = results[t]["phases"].get(p, {})
                v = ph.get("repo_growth_bytes_before_expansion")
                row.append(fmt(None if v is None else v / MiB, ".2f") if t == "tessera" and ph.get("status") == "ok" else "")
            body.append(row)
        if p == "restore":
            row = ["", "identical to source"]
            for t in tools:
                c = results[t].get("restore_check")
                row.append("—" if not c or c.get("identical") is None else ("yes" if c["identical"] else "NO (%s)" % c.get("problems")))
            body.append(row)
    row = ["", "status"] + [results[t]["status"] for t in tools]
    body.append(row)
    return [head] + body


def build_targets(targets, info_ratios):
    head = ["target", "value", "goal", "verdict"]
    body = [[t["name"], fmt(t["value"], ".2f"), t["target"], t["verdict"]] for t in targets]
    body.append(["peak RSS tessera/restic (info)", fmt(info_ratios["peak_rss_tessera_over_restic"], ".2f"), "", ""])
    return [head] + body


def render_plain(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                             for i, c in enumerate(r)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_md(rows):
    out = ["| " + " | ".join(rows[0]) + " |",
           "|" + "|".join(["---"] * 2 + ["---:"] * (len(rows[0]) - 2)) + "|"]
    for r in rows[1:]:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def build_markdown(doc, tools, results, table, tgt, n, k):
    st, m, ds, mu = doc["settings"], doc["machine"], doc["dataset"], doc["mutation"]
    L = []
    L.append("# Vault benchmark: tessera vs restic vs borg")
    L.append("")
    L.append(f"Run {st.get('started', '?')} → {st.get('finished', '?')}, scale {st.get('scale')} "
             f"(seed {st.get('seed')}), work dir on `{st.get('work_fs', '?')}`. "
             f"Overall: **{'OK' if doc['ok'] else 'FAILURES'}**.")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append(f"- CPU: {m.get('cpu_model', '?')}, nproc {m.get('nproc_available', m.get('nproc'))}, "
             f"memory {m.get('mem_total_mib', '?')} MiB, {m.get('os', '?')}, kernel {m.get('kernel')}")
    for t in ("tessera", "restic", "borg"):
        L.append(f"- {t}: `{st.get('version_' + t, '?')}`")
    L.append("")
    L.append("## Settings")
    L.append("")
    L.append(f"- tessera: Reed-Solomon k={k} of n={n} over {n} `file://` stores (threshold {k}); "
             f"zstd level 1 (its default); repository size = sum over the stores; `/(n/k)` divides by "
             f"{n}/{k} to compare before expansion.")
    L.append(f"- restic: repository format 2, `--compression {st.get('restic_compression')}` (zstd, default level).")
    L.append(f"- borg: `--encryption=repokey-blake2`, `--compression {st.get('borg_compression')}` "
             "(zstd level 3, the closest match to restic's `auto`).")
    L.append("- Caches (restic cache, borg base dir, TESSERA_HOME) live in the work dir and are kept between phases, "
             "as in normal use.")
    L.append("")
    L.append("## Data set")
    L.append("")
    if ds:
        L.append(f"{ds.get('bytes', 0) / 1e6:.1f} MB in {ds.get('files')} files (generated in {ds.get('seconds')} s):")
        L.append("")
        L.append("| part | MB | files |")
        L.append("|---|---:|---:|")
        for name, c in ds.get("categories", {}).items():
            L.append(f"| {name} | {c['bytes'] / 1e6:.1f} | {c['files']} |")
        L.append("")
    if mu:
        L.append(f"Mutation before the incremental backups: {mu.get('modified')} files modified, "
                 f"{mu.get('deleted')} deleted, {mu.get('added')} added "
                 f"({mu.get('files_changed')} of {mu.get('files_before')} files, "
                 f"~{mu.get('bytes_written', 0) / 1e6:.1f} MB written); tree after: {mu.get('bytes', 0) / 1e6:.1f} MB.")
        L.append("")
    L.append("## Results")
    L.append("")
    L.append(render_md(table))
    L.append("")
    own = []
    for t in tools:
        rep = results[t].get("tool_report", {})
        for p in ("backup", "incremental"):
            d = rep.get(p)
            if not isinstance(d, dict):
                continue
            if t == "restic":
                own.append(f"- restic {p}: {d.get('files_new')} new / {d.get('files_changed')} changed / "
                           f"{d.get('files_unmodified')} unmodified files, data added "
                           f"{(d.get('data_added') or 0) / MiB:.2f} MiB, processed {(d.get('total_bytes_processed') or 0) / 1e6:.1f} MB")
            elif t == "borg":
                own.append(f"- borg {p}: original {(d.get('original_size') or 0) / 1e6:.1f} MB, compressed "
                           f"{(d.get('compressed_size') or 0) / MiB:.2f} MiB, deduplicated {(d.get('deduplicated_size') or 0) / MiB:.2f} MiB")
            elif isinstance(d.get("summary"), dict):
                sm = d["summary"]
                parts = []
                for key, val in sm.items():
                    if isinstance(val, (int, float)) and (key.endswith("bytes") or key == "bytes_read"):
                        parts.append(f"{key} {val / MiB:.2f} MiB")
                    elif isinstance(val, float):
                        parts.append(f"{key} {val:.2f}")
                    else:
                        parts.append(f"{key} {val}")
                own.append(f"- {t} {p}: " + ", ".join(parts))
            else:
                txt = json.dumps(d)
                own.append(f"- {t} {p}: `{txt[:400]}{'…' if len(txt) > 400 else ''}`")
    if own:
        L.append("What the tools themselves reported (from their JSON output):")
        L.append("")
        L.extend(own)
        L.append("")
    L.append("## Targets (tessera vs restic)")
    L.append("")
    L.append(render_md(tgt))
    L.append("")
    if doc["failures"]:
        L.append("## Failures")
        L.append("")
        for fl in doc["failures"]:
            L.append(f"- {fl}")
        L.append("")
        for t in tools:
            for p, ph in results[t]["phases"].items():
                if ph.get("status") == "failed":
                    L.append(f"{t} {p} stderr (tail):")
                    L.append("")
                    L.append("```")
                    L.extend(ph.get("stderr_tail") or ["(empty)"])
                    L.append("```")
                    L.append("")
            c = results[t].get("restore_check")
            if c and c.get("identical") is False:
                L.append(f"{t} restore differences (first {len(c.get('first', []))}):")
                L.append("")
                L.append("```")
                L.extend(c.get("first", []))
                L.append("```")
                L.append("")
    L.append("## Definitions and caveats")
    L.append("")
    for key, v in doc["definitions"].items():
        L.append(f"- `{key}`: {v}")
    L.append("- Page cache: caches cannot be dropped (no root assumption); the data set is read once before the "
             "backups, each tool's repository and cache are read once (untimed) before its restore and its verify "
             "(tessera writes shards with direct I/O, past the page cache), every timed command is preceded by "
             "`sync`, and all tools run one after another under the same conditions (warm cache for sources and "
             "repositories).")
    L.append("- Restores go to an empty directory on the same file system and are compared file by file "
             "(sha256, sizes, file and directory sets) with the source; a difference fails the run.")
    L.append("- Verify: `tessera vault verify --read-data`, `restic check --read-data`, `borg check --verify-data`.")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    main()
