#!/usr/bin/env python3
"""Generates the archive benchmark's mail: a Maildir of N messages, half in Chinese
(Big5 raw headers and bodies, RFC 2047 Big5 and UTF-8 words, quoted-printable and base64
bodies), some with attachments (docx, PDF in a Traditional Chinese font, plain text),
and the exact answer to every benchmark query, computed from the text the generator
wrote (not from any index).

  gen_mail.py OUT_DIR [N] [SEED]

Writes OUT_DIR/Maildir/cur/*, OUT_DIR/queries.json: [{"tessera": Q, "notmuch": Q',
"expected": [Message-ID, ...]}, ...]."""
import base64
import io
import json
import os
import quopri
import random
import re
import sys
import time
import zipfile

OUT = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 20241203
rng = random.Random(SEED)

ZH_WORDS = """國稅局 郵件 備份 公文 財政部 申報 稽查 會議 通知 預算 資訊 安全 檔案 保存 年限 銷毀
機關 交換 系統 伺服器 當機 復原 演練 報告 附件 請 於 本週 完成 辦理 核定 函 簽 局長 室 科長
業務 承辦 人員 稅務 所得稅 營業稅 退稅 補稅 查核 案件 民眾 陳情 回覆 電子 憑證 到期 更新 網路
防火牆 病毒 掃描 異常 處理 紀錄 稽核 年度 計畫 經費 核銷 採購 合約 廠商 驗收 教育 訓練 簽到
""".split()
EN_WORDS = """backup report budget meeting audit tax security archive server restore drill notice
please review attached document deadline agency office system network firewall update
certificate policy retention record request approval contract vendor training schedule
""".split()
SURNAMES = list("鄭陳林黃張李王吳劉蔡楊許")
GIVEN = list("志明淑芬建國美玲家豪雅婷俊傑怡君")
DEPTS = ["ntbt", "mof", "dgbas", "ndc", "moea"]


def big5_ok(s):
    try:
        s.encode("big5")
        return True
    except UnicodeEncodeError:
        return False


ZH_WORDS = [w for w in ZH_WORDS if big5_ok(w)]


def zh_text(words):
    out = []
    for _ in range(words):
        out.append(rng.choice(ZH_WORDS))
        if rng.random() < 0.12:
            out.append(rng.choice("，。、"))
    return "".join(out)


def en_text(words):
    return " ".join(rng.choice(EN_WORDS) for _ in range(words))


def b64_word(text, charset):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode())


def docx(text):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        # Words split over runs, as Word does.
        runs = "".join("<w:r><w:t>%s</w:t></w:r>" % text[i:i + 3] for i in range(0, len(text), 3))
        z.writestr("word/document.xml",
                   "<w:document><w:body><w:p>%s</w:p></w:body></w:document>" % runs)
    return buf.getvalue()


def pdf(text):
    hexs = "".join("%04X" % ord(c) for c in text)
    content = ("BT /F1 12 Tf 72 700 Td <%s> Tj ET" % hexs).encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type0 /BaseFont /MSung-Light /Encoding /UniCNS-UCS2-H /DescendantFonts [6 0 R] >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /MSung-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (CNS1) /Supplement 0 >> /FontDescriptor 7 0 R >>",
            b"<< /Type /FontDescriptor /FontName /MSung-Light /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>"]
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
    return out


START = time.mktime((2022, 1, 1, 0, 0, 0, 0, 0, -1))
END = time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, -1))

# What the truth is computed from: per message, its fields' texts.
records = []
cur = os.path.join(OUT, "Maildir", "cur")
for d in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(OUT, "Maildir", d), exist_ok=True)

for i in range(N):
    chinese = i % 2 == 0
    when = rng.uniform(START, END)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0800", time.gmtime(when + 8 * 3600))
    dept = rng.choice(DEPTS)
    if chinese:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        subject = zh_text(rng.randint(2, 5))
        body = "\n".join(zh_text(rng.randint(8, 30)) for _ in range(rng.randint(1, 6)))
    else:
        name = "Officer %d" % rng.randint(1, 500)
        subject = en_text(rng.randint(2, 6))
        body = "\n".join(en_text(rng.randint(8, 20)) for _ in range(rng.randint(1, 6)))
    email = "u%d@%s.gov.tw" % (rng.randint(1, 3000), dept)
    to = rng.choice(["chief@%s.gov.tw" % dept, "staff@%s.gov.tw" % dept, "it@%s.gov.tw" % dept])
    mid = "bench%d.%d@%s.gov.tw" % (i, SEED, dept)
    attachment = None
    r = rng.random()
    if r < 0.03:
        attachment = ("報告%d.docx" % i, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", zh_text(20))
    elif r < 0.04:
        attachment = ("公告%d.pdf" % i, "application/pdf", zh_text(10))
    elif r < 0.06:
        attachment = ("notes%d.txt" % i, "text/plain", en_text(30) if not chinese else zh_text(20))

    style = i % 6 if chinese else 1
    headers = []
    if chinese and style == 0:
        # Raw 8-bit Big5, as old Outlook sent it.
        headers.append(b"From: " + name.encode("big5") + b" <" + email.encode() + b">")
        headers.append(b"Subject: " + subject.encode("big5"))
    elif chinese and style == 2:
        headers.append(("From: %s <%s>" % (b64_word(name, "big5"), email)).encode())
        headers.append(("Subject: %s" % b64_word(subject, "big5")).encode())
    else:
        headers.append(("From: %s <%s>" % (b64_word(name, "utf-8") if chinese else name, email)).encode())
        headers.append(("Subject: %s" % (b64_word(subject, "utf-8") if chinese else subject)).encode())
    headers += [("To: %s" % to).encode(), ("Date: %s" % date).encode(),
                ("Message-ID: <%s>" % mid).encode(), b"MIME-Version: 1.0"]
    if chinese and style == 0:
        charset, cte, payload = "big5", "8bit", body.encode("big5") + b"\n"
    elif chinese and style in (2, 4):
        charset, cte, payload = "utf-8", "quoted-printable", quopri.encodestring(body.encode("utf-8")) + b"\n"
    else:
        charset, cte, payload = "utf-8", "base64", base64.encodebytes(body.encode("utf-8"))
    part = (b"Content-Type: text/plain; charset=" + charset.encode() + b"\nContent-Transfer-Encoding: " +
            cte.encode() + b"\n\n" + payload)
    if attachment:
        fname, ctype, text = attachment
        data = docx(text) if fname.endswith(".docx") else pdf(text) if fname.endswith(".pdf") else text.encode("utf-8")
        fname_param = "filename*=UTF-8''" + "".join("%%%02X" % b for b in fname.encode("utf-8"))
        msg = b"\n".join(headers) + b'\nContent-Type: multipart/mixed; boundary="=b="\n\n--=b=\n' + part + \
            b"\n--=b=\nContent-Type: " + ctype.encode() + b"\nContent-Disposition: attachment; " + \
            fname_param.encode() + b"\nContent-Transfer-Encoding: base64\n\n" + \
            base64.encodebytes(data) + b"--=b=--\n"
    else:
        msg = b"\n".join(headers) + b"\n" + part
    with open(os.path.join(cur, "%d.bench:2,S" % i), "wb") as f:
        f.write(msg)
    records.append({"id": mid, "from": name + " " + email, "to": to, "subject": subject, "body": body,
                    "att_name": attachment[0] if attachment else "", "att_text": attachment[2] if attachment else "",
                    "date": when})


def words(text):
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def contains(text, term):
    if re.fullmatch(r"[A-Za-z0-9]+", term):
        return term.lower() in words(text)
    return term in text


def everywhere(r):
    return [r["from"], r["to"], r["subject"], r["body"], r["att_name"], r["att_text"]]


def day(s):
    y, m, d = map(int, s.split("-"))
    return time.mktime((y, m, d, 0, 0, 0, 0, 0, -1))


# (tessera query, notmuch query, predicate over a record)
QUERIES = [
    ("國稅局", "國稅局", lambda r: any(contains(t, "國稅局") for t in everywhere(r))),
    ('"郵件備份"', '"郵件備份"', lambda r: any(contains(t, "郵件備份") for t in everywhere(r))),
    ("from:鄭 after:2024-01-01", "from:鄭 date:2024-01-01..", lambda r: "鄭" in r["from"] and r["date"] >= day("2024-01-01")),
    ("財政部 預算", "財政部 AND 預算", lambda r: all(any(contains(t, w) for t in everywhere(r)) for w in ("財政部", "預算"))),
    ("資訊安全", "資訊安全", lambda r: any(contains(t, "資訊安全") for t in everywhere(r))),
    ("檔案保存年限", "檔案保存年限", lambda r: any(contains(t, "檔案保存年限") for t in everywhere(r))),
    ("局長室", "局長室", lambda r: any(contains(t, "局長室") for t in everywhere(r))),
    ("稽查 before:2023-01-01", "稽查 date:..2022-12-31", lambda r: any(contains(t, "稽查") for t in everywhere(r)) and r["date"] < day("2023-01-01")),
    ("attachment:報告", "attachment:報告", lambda r: "報告" in r["att_name"]),
    ("to:chief 退稅", "to:chief 退稅", lambda r: "chief" in words(r["to"]) and any(contains(t, "退稅") for t in everywhere(r))),
    ("backup drill", "backup AND drill", lambda r: all(any(contains(t, w) for t in everywhere(r)) for w in ("backup", "drill"))),
    ("離職", "離職", lambda r: any(contains(t, "離職") for t in everywhere(r))),
]
out = []
for tq, nq, pred in QUERIES:
    out.append({"tessera": tq, "notmuch": nq, "expected": sorted(r["id"] for r in records if pred(r))})
with open(os.path.join(OUT, "queries.json"), "w") as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
print("gen_mail: %d messages in %s/Maildir, %d queries" % (N, OUT, len(out)))
