#!/usr/bin/env python3
"""Deterministic data set generator for the vault side-by-side benchmark.

Python 3.9+ standard library only.  Sub-commands:

  generate --out DIR [--scale S] [--seed N]
      Build the data set (about 1.5 GiB at scale 1) and print a JSON summary.
  mutate --root DIR [--fraction 0.05] [--seed N]
      Change a deterministic 5 % of the files in place (edits, appends,
      rewrites, deletions, additions) and print a JSON summary.
  manifest --root DIR --out FILE
      Hash every file (sha256) and write a manifest (also warms the page cache).
  compare --manifest FILE --restored DIR
      Compare a restored tree to a manifest; exit 1 and list differences.
  locate --restored DIR
      Print the directory inside DIR that holds the restored data set root
      (tools lay out restores differently: restic keeps the absolute path,
      borg the path without its leading '/').

Layout of the generated tree (sizes at scale 1):
  src/      ~320 MiB  real text copied from this machine (/usr/include,
                      /usr/share/doc, /usr/lib/python3* *.py, perl, vim,
                      cmake, man), topped up with generated code-like text
                      if the machine has less.
  logs/     ~300 MiB  generated, timestamped log lines (nginx access,
                      JSON application logs, syslog), highly compressible.
  random/   ~300 MiB  incompressible files, sizes 1 KiB .. 64 MiB.
  docs/     ~200 MiB  near-duplicate documents: a few base documents and
                      many revisions, each with small edits.
  images/   ~400 MiB  two disk images (~200 MiB each) of 4 KiB blocks
                      (zero, text and random extents); disk-b differs from
                      disk-a in 1 % of its blocks.
Everything generated comes from random.Random(seed); only src/ depends on
what is installed on the machine (the file list is sorted, then sampled
with the seed, so it is deterministic on a given machine).
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import stat
import sys
import time

MiB = 1 << 20
KiB = 1 << 10
BLOCK = 4096
MARKER = ".tessera-bench-root"

# Budgets at scale 1, in MiB.
BUDGET_MIB = {"src": 320, "logs": 300, "random": 300, "docs": 200, "images": 400}

# Real-text sources: (label, roots, file suffixes or None for all, weight).
SOURCES = [
    ("include", ["/usr/include"], None, 0.35),
    ("doc", ["/usr/share/doc"], None, 0.30),
    ("python", None, (".py",), 0.15),  # roots filled in at run time
    ("other", ["/usr/share/perl", "/usr/share/perl5", "/usr/share/vim",
               "/usr/lib/x86_64-linux-gnu/perl", "/usr/share/man"], None, 0.20),
]
MAX_COPY_FILE = 8 * MiB


# --------------------------------------------------------------------------
# helpers


class Writer:
    """Buffered writer that flushes in big blocks."""

    def __init__(self, path, bufsize=8 * MiB):
        self.f = open(path, "wb")
        self.buf = bytearray()
        self.bufsize = bufsize
        self.n = 0

    def write(self, b):
        self.buf += b
        self.n += len(b)
        if len(self.buf) >= self.bufsize:
            self.f.write(self.buf)
            self.buf = bytearray()

    def close(self):
        if self.buf:
            self.f.write(self.buf)
        self.f.close()


def log_uniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


SYLL = ["ka", "ro", "ten", "mi", "sa", "lo", "ver", "an", "de", "qui", "tor",
        "ex", "pa", "lin", "gu", "fo", "re", "no", "ta", "il", "con", "um",
        "ber", "si", "va", "mon", "et", "ul", "da", "pre", "os", "ci"]


def make_vocab(rng, n=6000):
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLL) for _ in range(rng.randint(1, 4))))
    words = sorted(words)
    rng.shuffle(words)
    # Zipf-like weights: common words dominate, like real prose.
    cum, s = [], 0.0
    for i in range(len(words)):
        s += 1.0 / (i + 1.2)
        cum.append(s)
    return words, cum


def prose(rng, vocab, nbytes):
    """Paragraphs of Zipf-distributed words, about nbytes long."""
    words, cum = vocab
    out, n = [], 0
    while n < nbytes:
        sentences = []
        for _ in range(rng.randint(2, 7)):
            w = rng.choices(words, cum_weights=cum, k=rng.randint(5, 22))
            w[0] = w[0].capitalize()
            sentences.append(" ".join(w) + rng.choice([".", ".", ".", "?", "!", ";"]))
        para = " ".join(sentences) + "\n\n"
        out.append(para)
        n += len(para)
    return "".join(out)


def code_text(rng, vocab, nbytes):
    """Generated C-like source text (used only to top up src/)."""
    words, cum = vocab
    out, n = [], 0
    while n < nbytes:
        name = "_".join(rng.choices(words, cum_weights=cum, k=2))
        args = ", ".join("int " + w for w in rng.choices(words, cum_weights=cum, k=rng.randint(0, 4)))
        body = []
        for _ in range(rng.randint(3, 25)):
            a, b, c = rng.choices(words, cum_weights=cum, k=3)
            body.append(rng.choice([
                f"    {a} = {b} + {rng.randint(0, 4096)};\n",
                f"    if ({a} > {b}) {{ return {c}; }}\n",
                f"    /* {a} {b} {c} */\n",
                f"    {a}({b}, {c});\n",
                f"    for (int i = 0; i < {a}; ++i) {b}[i] = {c};\n",
            ]))
        fn = f"static int {name}({args})\n{{\n{''.join(body)}    return 0;\n}}\n\n"
        out.append(fn)
        n += len(fn)
    return "".join(out)


def python_roots():
    roots = []
    for d in sorted(os.listdir("/usr/lib")):
        if d.startswith("python3"):
            roots.append(os.path.join("/usr/lib", d))
    return roots


def list_files(roots, suffixes):
    files = []
    for root in roots:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                if suffixes and not fn.endswith(suffixes):
                    continue
                p = os.path.join(dirpath, fn)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_COPY_FILE:
                    continue
                if not os.access(p, os.R_OK):
                    continue
                files.append((p, st.st_size))
    return files


# --------------------------------------------------------------------------
# generation


def gen_src(out, rng, vocab, budget):
    base = os.path.join(out, "src")
    os.makedirs(base, exist_ok=True)
    total, nfiles = 0, 0
    carry = 0
    wsum = sum(s[3] for s in SOURCES)
    for label, roots, suffixes, weight in SOURCES:
        if roots is None:
            roots = python_roots()
        share = int(budget * weight / wsum) + carry
        files = list_files(roots, suffixes)
        rng.shuffle(files)
        used = 0
        for p, size in files:
            if used + size > share:
                continue
            rel = p.lstrip("/")
            dst = os.path.join(base, label, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                shutil.copyfile(p, dst)
            except OSError:
                continue
            used += size
            nfiles += 1
            if share - used < 512:
                break
        carry = share - used
        total += used
    # Top up with generated code-like text when the machine has too little.
    gen_dir = os.path.join(base, "generated")
    i = 0
    while budget - total > 4 * KiB:
        size = min(budget - total, log_uniform(rng, 2 * KiB, 256 * KiB))
        d = os.path.join(gen_dir, f"mod{i // 50:03d}")
        os.makedirs(d, exist_ok=True)
        data = code_text(rng, vocab, size).encode()[:size]
        with open(os.path.join(d, f"file{i:05d}.c"), "wb") as f:
            f.write(data)
        total += len(data)
        nfiles += 1
        i += 1
    return total, nfiles


HOSTS = [f"web-{i:02d}" for i in range(12)] + [f"db-{i:02d}" for i in range(4)]
PATHS = ["/api/v1/items", "/api/v1/users", "/api/v2/orders", "/static/app.js",
         "/static/style.css", "/healthz", "/login", "/api/v1/search", "/metrics",
         "/api/v2/cart", "/img/logo.png", "/api/v1/items/{id}/reviews"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/123.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/122.0",
          "curl/7.88.1", "Go-http-client/1.1", "kube-probe/1.28",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) Safari/604.1"]
LEVELS = ["INFO"] * 14 + ["DEBUG"] * 6 + ["WARN"] * 3 + ["ERROR"]
MSGS = ["request completed", "cache miss", "cache hit", "connection reset by peer",
        "retrying upstream", "slow query", "user logged in", "token refreshed",
        "queue depth high", "flushed batch", "checkpoint written", "lock acquired",
        "lock released", "gc pause", "config reloaded", "scheduled job finished"]
DAEMONS = ["sshd", "systemd", "kernel", "cron", "dockerd", "containerd", "nginx", "postgres"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def iso(ts):
    t = time.gmtime(int(ts))
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int((ts % 1) * 1000))


def log_lines(rng, kind, ts, nbytes):
    """Return (text, new_ts)."""
    out, n = [], 0
    r = rng.random
    ri = rng.randint
    ch = rng.choice
    while n < nbytes:
        batch = []
        for _ in range(500):
            ts += r() * 0.05
            if kind == "access":
                path = ch(PATHS).replace("{id}", str(ri(1, 99999)))
                line = '10.%d.%d.%d - - [%s] "%s %s HTTP/1.1" %d %d "-" "%s" rt=%.3f\n' % (
                    ri(0, 3), ri(0, 255), ri(1, 254), iso(ts), ch(("GET", "GET", "GET", "POST", "PUT")),
                    path, ch((200, 200, 200, 200, 304, 404, 500, 201)), ri(0, 65000), ch(AGENTS), r() * 0.4)
            elif kind == "app":
                line = '{"ts":"%s","level":"%s","host":"%s","msg":"%s","req_id":"%016x","dur_ms":%d,"user":%d}\n' % (
                    iso(ts), ch(LEVELS), ch(HOSTS), ch(MSGS), rng.getrandbits(64), ri(0, 2500), ri(1, 5000))
            else:
                t = time.gmtime(int(ts))
                line = "%s %2d %02d:%02d:%02d %s %s[%d]: %s (code=%d)\n" % (
                    MONTHS[t.tm_mon - 1], t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ch(HOSTS),
                    ch(DAEMONS), ri(100, 40000), ch(MSGS), ri(0, 255))
            batch.append(line)
        s = "".join(batch)
        out.append(s)
        n += len(s)
    return "".join(out), ts


def gen_logs(out, rng, budget):
    base = os.path.join(out, "logs")
    total, nfiles = 0, 0
    services = [("nginx", "access"), ("api", "app"), ("worker", "app"), ("syslog", "sys"),
                ("auth", "sys"), ("billing", "app")]
    ts = 1704067200.0  # 2024-01-01
    i = 0
    while budget - total > 1 * KiB:
        svc, kind = services[i % len(services)]
        size = min(budget - total, log_uniform(rng, 64 * KiB, max(128 * KiB, min(16 * MiB, budget // 8))))
        d = os.path.join(base, svc)
        os.makedirs(d, exist_ok=True)
        w = Writer(os.path.join(d, f"{svc}.log.{i // len(services):03d}"))
        while w.n < size:
            text, ts = log_lines(rng, kind, ts, min(size - w.n, 2 * MiB))
            w.write(text.encode())
        w.close()
        total += w.n
        nfiles += 1
        i += 1
    return total, nfiles


def gen_random(out, rng, budget):
    base = os.path.join(out, "random")
    exts = [".bin", ".jpg", ".zip", ".gz", ".enc", ".mp4", ".png"]
    total, nfiles, i = 0, 0, 0
    while budget - total > 512:
        size = min(budget - total, log_uniform(rng, 1 * KiB, max(16 * KiB, min(64 * MiB, budget // 4))))
        d = os.path.join(base, f"set{i // 40:02d}")
        os.makedirs(d, exist_ok=True)
        w = Writer(os.path.join(d, f"blob{i:04d}{rng.choice(exts)}"))
        left = size
        while left > 0:
            n = min(left, 4 * MiB)
            w.write(rng.randbytes(n))
            left -= n
        w.close()
        total += size
        nfiles += 1
        i += 1
    return total, nfiles


def edit_text(rng, vocab, text, nedits):
    """Apply small edits (replace a sentence, insert a paragraph, delete a line)."""
    words, cum = vocab
    for _ in range(nedits):
        if len(text) < 64:
            text += prose(rng, vocab, 200)
            continue
        pos = rng.randrange(len(text))
        op = rng.random()
        if op < 0.45:  # replace a short span with new words
            ln = rng.randint(5, 200)
            text = text[:pos] + " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(1, 30))) + text[pos + ln:]
        elif op < 0.8:  # insert a paragraph
            text = text[:pos] + "\n" + prose(rng, vocab, rng.randint(80, 1500)) + text[pos:]
        else:  # delete a span
            ln = rng.randint(20, 2000)
            text = text[:pos] + text[pos + ln:]
    return text


def gen_docs(out, rng, vocab, budget):
    base = os.path.join(out, "docs")
    os.makedirs(base, exist_ok=True)
    nbases = 4
    base_size = max(16 * KiB, min(2 * MiB, budget // 100))
    total, nfiles = 0, 0
    kinds = [("report", ".md"), ("contract", ".txt"), ("manual", ".md"), ("notes", ".txt")]
    docs = []
    for b in range(nbases):
        name, ext = kinds[b % len(kinds)]
        docs.append([name, ext, f"# {name} {b}\n\n" + prose(rng, vocab, base_size)])
    rev = 0
    while budget - total > 1 * KiB:
        doc = docs[rev % nbases]
        name, ext, text = doc
        if rev >= nbases:
            text = edit_text(rng, vocab, text, rng.randint(1, 8))
            doc[2] = text
        data = text.encode()[: budget - total]
        d = os.path.join(base, f"{name}-{rev % nbases}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{name}-rev{rev // nbases:03d}{ext}"), "wb") as f:
            f.write(data)
        total += len(data)
        nfiles += 1
        rev += 1
    return total, nfiles


def image_extents(rng, nblocks):
    """Yield (kind, count) extents covering nblocks 4 KiB blocks."""
    left = nblocks
    while left > 0:
        kind = rng.choices(("zero", "text", "rand"), weights=(25, 35, 40))[0]
        n = min(left, 1 + int(rng.expovariate(1 / 24.0)))
        yield kind, n
        left -= n


def gen_images(out, rng, vocab, budget):
    base = os.path.join(out, "images")
    os.makedirs(base, exist_ok=True)
    per = max(64 * BLOCK, (budget // 2) // BLOCK * BLOCK)
    nblocks = per // BLOCK
    corpus = prose(rng, vocab, 4 * MiB).encode()
    zero = bytes(BLOCK)
    path_a = os.path.join(base, "disk-a.img")
    w = Writer(path_a)
    for kind, n in image_extents(rng, nblocks):
        if kind == "zero":
            w.write(zero * n)
        elif kind == "rand":
            w.write(rng.randbytes(n * BLOCK))
        else:
            off = rng.randrange(len(corpus) - n * BLOCK) if len(corpus) > n * BLOCK else 0
            chunk = corpus[off:off + n * BLOCK]
            w.write(chunk + zero[: n * BLOCK - len(chunk)])
    w.close()
    path_b = os.path.join(base, "disk-b.img")
    shutil.copyfile(path_a, path_b)
    changed = rewrite_blocks(rng, path_b, 0.01)
    return 2 * per, 2, changed


def rewrite_blocks(rng, path, fraction):
    size = os.path.getsize(path)
    nblocks = size // BLOCK
    k = max(1, int(round(nblocks * fraction)))
    picks = sorted(rng.sample(range(nblocks), k))
    with open(path, "r+b") as f:
        for b in picks:
            f.seek(b * BLOCK)
            f.write(rng.randbytes(BLOCK))
    return k


def cmd_generate(a):
    t0 = time.time()
    out = os.path.abspath(a.out)
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"gen_dataset: {out} exists and is not empty")
    os.makedirs(out, exist_ok=True)
    vocab = make_vocab(random.Random(a.seed + 1))
    b = {k: max(64 * KiB, int(v * MiB * a.scale)) for k, v in BUDGET_MIB.items()}
    summary = {"seed": a.seed, "scale": a.scale, "categories": {}}
    cats = summary["categories"]
    n, c = gen_src(out, random.Random(a.seed + 10), vocab, b["src"])
    cats["src"] = {"bytes": n, "files": c}
    n, c = gen_logs(out, random.Random(a.seed + 20), b["logs"])
    cats["logs"] = {"bytes": n, "files": c}
    n, c = gen_random(out, random.Random(a.seed + 30), b["random"])
    cats["random"] = {"bytes": n, "files": c}
    n, c = gen_docs(out, random.Random(a.seed + 40), vocab, b["docs"])
    cats["docs"] = {"bytes": n, "files": c}
    n, c, changed = gen_images(out, random.Random(a.seed + 50), vocab, b["images"])
    cats["images"] = {"bytes": n, "files": c, "blocks_differing": changed}
    with open(os.path.join(out, MARKER), "w") as f:
        f.write(json.dumps({"seed": a.seed, "scale": a.scale}) + "\n")
    summary["bytes"], summary["files"] = tree_size(out)
    summary["seconds"] = round(time.time() - t0, 2)
    print(json.dumps(summary))


# --------------------------------------------------------------------------
# mutation


def all_files(root):
    res = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(p, root)
            if rel != MARKER and os.path.isfile(p) and not os.path.islink(p):
                res.append(rel)
    return res


def tree_size(root):
    total, n = 0, 0
    for dirpath, dirnames, filenames in os.walk(root):
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
                n += 1
    return total, n


def cmd_mutate(a):
    t0 = time.time()
    root = os.path.abspath(a.root)
    rng = random.Random(a.seed)
    vocab = make_vocab(random.Random(a.seed + 1))
    files = all_files(root)
    nsel = max(1, int(round(len(files) * a.fraction)))
    # A VM image that changes between backups is the classic case: always
    # include disk-b.img (it counts towards the 5 %).
    forced = [f for f in files if f.endswith("disk-b.img")]
    pool = [f for f in files if f not in forced]
    sel = forced + rng.sample(pool, min(len(pool), nsel - len(forced)))
    ndelete = max(1, nsel // 10) if nsel >= 10 else 0
    deleted = sel[len(sel) - ndelete:] if ndelete else []
    modified = sel[: len(sel) - ndelete]
    stats = {"files_before": len(files), "modified": 0, "deleted": 0, "added": 0,
             "bytes_written": 0, "bytes_deleted": 0}
    for rel in modified:
        p = os.path.join(root, rel)
        size = os.path.getsize(p)
        top = rel.split(os.sep, 1)[0]
        if top == "images":
            k = rewrite_blocks(rng, p, 0.01)
            stats["bytes_written"] += k * BLOCK
        elif top == "random":
            n = min(size, log_uniform(rng, 4 * KiB, 1 * MiB))
            off = rng.randrange(size - n + 1)
            with open(p, "r+b") as f:
                f.seek(off)
                f.write(rng.randbytes(n))
            stats["bytes_written"] += n
        elif top == "logs":
            kind = "access" if "nginx" in rel else ("sys" if ("syslog" in rel or "auth" in rel) else "app")
            text, _ = log_lines(rng, kind, 1735689600.0 + rng.random() * 86400, max(4 * KiB, size // 20))
            with open(p, "ab") as f:
                f.write(text.encode())
            stats["bytes_written"] += len(text)
        else:  # src/ and docs/: small text edits
            with open(p, "rb") as f:
                data = f.read()
            text = data.decode("latin-1")
            new = edit_text(rng, vocab, text, rng.randint(1, 3)).encode("latin-1", "replace")
            with open(p, "wb") as f:
                f.write(new)
            stats["bytes_written"] += abs(len(new) - len(data)) + 200
        stats["modified"] += 1
    for rel in deleted:
        p = os.path.join(root, rel)
        stats["bytes_deleted"] += os.path.getsize(p)
        os.remove(p)
        stats["deleted"] += 1
    # New files, as many as were deleted: half text, half random.
    add_dir = os.path.join(root, "added")
    os.makedirs(add_dir, exist_ok=True)
    for i in range(max(1, ndelete)):
        if i % 2 == 0:
            data = prose(rng, vocab, log_uniform(rng, 1 * KiB, 512 * KiB)).encode()
            name = f"note{i:04d}.txt"
        else:
            data = rng.randbytes(log_uniform(rng, 1 * KiB, 4 * MiB))
            name = f"upload{i:04d}.bin"
        with open(os.path.join(add_dir, name), "wb") as f:
            f.write(data)
        stats["added"] += 1
        stats["bytes_written"] += len(data)
    stats["files_changed"] = stats["modified"] + stats["deleted"] + stats["added"]
    stats["bytes"], stats["files"] = tree_size(root)
    stats["seconds"] = round(time.time() - t0, 2)
    print(json.dumps(stats))


# --------------------------------------------------------------------------
# manifest / compare


def hash_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def build_manifest(root):
    files, dirs, other = {}, [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != ".":
            dirs.append(rel_dir)
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(p, root)
            if os.path.islink(p) or not os.path.isfile(p):
                other.append(rel)
                continue
            files[rel] = [os.path.getsize(p), hash_file(p)]
    return {"files": files, "dirs": sorted(dirs), "other": sorted(other)}


def cmd_manifest(a):
    t0 = time.time()
    m = build_manifest(os.path.abspath(a.root))
    with open(a.out, "w") as f:
        json.dump(m, f)
    print(json.dumps({"files": len(m["files"]), "bytes": sum(v[0] for v in m["files"].values()),
                      "seconds": round(time.time() - t0, 2)}))


def cmd_compare(a):
    with open(a.manifest) as f:
        want = json.load(f)
    got = build_manifest(os.path.abspath(a.restored))
    problems = []
    wf, gf = want["files"], got["files"]
    for rel in sorted(set(wf) - set(gf)):
        problems.append(f"missing: {rel}")
    for rel in sorted(set(gf) - set(wf)):
        problems.append(f"extra: {rel}")
    for rel in sorted(set(wf) & set(gf)):
        if wf[rel] != gf[rel]:
            problems.append(f"differs: {rel} (size {wf[rel][0]} -> {gf[rel][0]})")
    for rel in sorted(set(want["dirs"]) - set(got["dirs"])):
        problems.append(f"missing dir: {rel}")
    for rel in sorted(set(got["other"]) - set(want["other"])):
        problems.append(f"extra non-regular: {rel}")
    res = {"identical": not problems, "problems": len(problems),
           "files_checked": len(wf), "first": problems[:20]}
    print(json.dumps(res))
    sys.exit(0 if not problems else 1)


def cmd_locate(a):
    base = os.path.abspath(a.restored)
    best = None
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        if MARKER in filenames:
            if best is None or dirpath.count(os.sep) < best.count(os.sep):
                best = dirpath
            dirnames[:] = []
    if best is None:
        sys.exit(1)
    print(best)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="cmd", required=True)
    g = sp.add_parser("generate")
    g.add_argument("--out", required=True)
    g.add_argument("--scale", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=20240601)
    m = sp.add_parser("mutate")
    m.add_argument("--root", required=True)
    m.add_argument("--fraction", type=float, default=0.05)
    m.add_argument("--seed", type=int, default=20240602)
    mf = sp.add_parser("manifest")
    mf.add_argument("--root", required=True)
    mf.add_argument("--out", required=True)
    c = sp.add_parser("compare")
    c.add_argument("--manifest", required=True)
    c.add_argument("--restored", required=True)
    lo = sp.add_parser("locate")
    lo.add_argument("--restored", required=True)
    a = ap.parse_args()
    {"generate": cmd_generate, "mutate": cmd_mutate, "manifest": cmd_manifest,
     "compare": cmd_compare, "locate": cmd_locate}[a.cmd](a)


if __name__ == "__main__":
    main()
