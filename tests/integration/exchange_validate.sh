#!/usr/bin/env bash
# `tessera exchange validate | show` through the real program, on the DI/SW files of
# tests/data/exchange: a 函 with its two attachments is valid (exit 0) and says its kind,
# number, subject, recipients and attachments; a missing, undeclared or duplicated
# attachment and a missing SW fail (exit 1) naming the file; --no-attachments checks the DI
# alone; a 一文多發 函 goes to the three agencies of its SW; a 簽 and a Big5 函 of DTD
# version 99 are valid; every invalid file fails with its line; an XXE attempt never shows
# what it pointed at; `show` prints the letter's layout, and with --html an escaped page.
# Usage: exchange_validate.sh PATH/TO/tessera
set -euo pipefail
TESSERA=$(realpath "${1:?usage: exchange_validate.sh PATH/TO/tessera}")
DATA=$(cd "$(dirname "$0")/../data/exchange" && pwd)
# shellcheck source=tests/integration/scenario.sh
. "$(dirname "$0")/scenario.sh"
scenario_begin exchange-validate
X() { "$TESSERA" exchange "$@"; }
# json_field EXPR: EXPR (e.g. '["recipients"]') applied to the last command's JSON output.
json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }

cp "$DATA"/*.di "$DATA"/*.sw .
mkdir att
printf '%%PDF-1.4\n' > att/0681935A00_ATTCH4.pdf
printf 'odt' > att/0681935A00_ATTCH2.odt
printf '%%PDF-1.4\n' > att/1140001234_ATTCH1.pdf

# --- a 函 to one agency with two attachments
expect_rc "a 函 with both its attachments is valid" 0 \
  X validate letter.di --attach att/0681935A00_ATTCH4.pdf --attach att/0681935A00_ATTCH2.odt
in_log "it says it is a 函" "letter.di: valid 函"
in_log "it shows the number" "府研智字第1100681935號"
in_log "it shows the subject" "函轉有關啟動居家辦公期間進行公文電子交換作業相關事宜"
in_log "it shows the recipient's agency code" "recipients:  376570100A"
in_log "it lists the attachments" "0681935A00_ATTCH4.pdf (ATTCH1), 0681935A00_ATTCH2.odt (ATTCH2)"
expect_rc "the same in JSON" 0 X --json validate letter.di \
  --attach att/0681935A00_ATTCH4.pdf --attach att/0681935A00_ATTCH2.odt
if [ "$(json_field '["recipients"]')" = "['376570100A']" ] &&
  [ "$(json_field '["attachments"][1]["file"]')" = "0681935A00_ATTCH2.odt" ] &&
  [ "$(json_field '["archive_fields"]["發文字號"]')" = "府研智字第1100681935號" ]; then
  ok "JSON has the recipients, attachments and archive fields"
else
  bad "JSON fields"
  sed 's/^/    /' "$WORK/last.log"
fi

expect_rc "an attachment not given fails" 1 X validate letter.di --attach att/0681935A00_ATTCH4.pdf
in_log "it names the missing one" "ATTCH2 (0681935A00_ATTCH2.odt) is declared but not given"
expect_rc "no attachment given at all fails" 1 X validate letter.di
in_log "it says how to check the DI alone" "--no-attachments"
expect_rc "--no-attachments checks the DI alone" 0 X validate letter.di --no-attachments
in_log "it says the attachments were not checked" "not checked: --no-attachments"
printf 'MZ' > att/virus.exe
expect_rc "an attachment the DI does not declare fails" 1 X validate letter.di \
  --attach att/0681935A00_ATTCH4.pdf --attach att/0681935A00_ATTCH2.odt --attach att/virus.exe
in_log "it names the undeclared file" "virus.exe is given but the document does not declare it"
expect_rc "an attachment given twice fails" 1 X validate letter.di \
  --attach att/0681935A00_ATTCH4.pdf --attach att/0681935A00_ATTCH2.odt --attach att/0681935A00_ATTCH2.odt
in_log "it says so" "0681935A00_ATTCH2.odt is given twice"
expect_rc "an --attach file that does not exist fails" 1 X validate letter.di \
  --attach att/0681935A00_ATTCH4.pdf --attach att/nothing.odt
in_log "it names the file" "att/nothing.odt: no such file"
expect_rc "--attach with --no-attachments is a usage error" 2 X validate letter.di \
  --no-attachments --attach att/0681935A00_ATTCH4.pdf
expect_rc "a DI that is not there" 1 X validate missing.di --no-attachments

# --- 一文多發: 受文者 is the 交換表 of an SW listing three agencies
expect_rc "a 函 to the agencies of its SW is valid" 0 X validate roster_letter.di \
  --sw 1140001234.sw --attach att/1140001234_ATTCH1.pdf
in_log "it says it is a 書函" "valid 函 (書函)"
in_log "it goes to the three agencies of the SW" "A15060000H, 379000000A, A09000000E (roster 1140001234.sw)"
expect_rc "the same in JSON" 0 X --json validate roster_letter.di --sw 1140001234.sw \
  --attach att/1140001234_ATTCH1.pdf
if [ "$(json_field '["recipients"]')" = "['A15060000H', '379000000A', 'A09000000E']" ] &&
  [ "$(json_field '["roster"]["entries"][2]["with_attachments"]')" = "False" ]; then
  ok "JSON has the roster's agencies and which take the attachments"
else
  bad "JSON roster"
  sed 's/^/    /' "$WORK/last.log"
fi
expect_rc "without its SW it fails" 1 X validate roster_letter.di --attach att/1140001234_ATTCH1.pdf
in_log "it asks for --sw" "give that SW file with --sw"
cp 1140001234.sw other.sw
expect_rc "an SW under another name than the DI declares fails" 1 X validate roster_letter.di \
  --sw other.sw --attach att/1140001234_ATTCH1.pdf
in_log "it names both" "the roster 1140001234.sw (SW file, 受文者 交換表) is not given"
expect_rc "an SW given for a DI without a roster fails" 1 X validate letter.di --no-attachments \
  --sw 1140001234.sw
in_log "it says the DI does not declare it" "1140001234.sw is given but the document does not declare it"
expect_rc "a DI given as the SW fails" 1 X validate roster_letter.di --sw letter.di \
  --attach att/1140001234_ATTCH1.pdf
in_log "it says what it is" "a 函 (DI), where a 交換表單 (SW) was expected"

# --- a 簽, and an old Big5 函 (DTD version 99)
expect_rc "a 簽 is valid" 0 X validate memo.di
in_log "it says it is a 簽" "memo.di: valid 簽"
in_log "its number" "number:      1140005678"
expect_rc "a Big5 函 of DTD version 99 is valid" 0 X validate letter_big5.di
in_log "its subject, as UTF-8" "函送本府公文電子交換系統憑證更新時程，請查照。"

# --- invalid files: exit 1, the line named
for case in "invalid_order.di line 3: Element 函 content does not follow the DTD" \
  "invalid_unknown.di line 12: No declaration for element 備考" \
  "invalid_missing_entity.di line 16: ENTITIES attribute 附件名 reference an unknown entity \"ATTCH2\"" \
  "invalid_xxe.di line 3: the DOCTYPE declares the parsed entity \"x\"" \
  "invalid_bomb.di line 3: the DOCTYPE declares the parsed entity \"lol\"" \
  "invalid_path.di: its DOCTYPE declares ATTCH1 as \"../../etc/cron.d/job\""; do
  file=${case%%[ :]*}
  expect_rc "$file is refused" 1 X validate "$file" --no-attachments
  in_log "$file: the message names what and where" "$case"
done
if grep -q 'root:' "$WORK/last.log"; then bad "nothing of /etc/passwd is shown"; else ok "nothing of /etc/passwd is shown"; fi
expect_rc "an XXE attempt in JSON mode" 1 X --json validate invalid_xxe.di --no-attachments
if grep -q 'root:' "$WORK/last.log"; then bad "nothing of /etc/passwd in JSON"; else ok "nothing of /etc/passwd in JSON"; fi
in_log "JSON says InvalidArgument" '"code": "InvalidArgument"'

# --- show
expect_rc "show prints the letter" 0 X show letter.di
in_log "the title" "臺南市政府 函"
in_log "the address" "地址：708201臺南市安平區永華路2段6號"
in_log "the 受文者" "受文者：臺南市政府教育局"
in_log "the 附件" "(0681935A00_ATTCH4.pdf、0681935A00_ATTCH2.odt)"
in_log "the numbered 說明" "  (六)防疫期間"
in_log "the 副本" "副本：臺南市政府智慧發展中心(含附件)、紹文資訊有限公司(含附件)"
expect_rc "show --html prints a page" 0 X show letter.di --html
in_log "in Traditional Chinese" '<html lang="zh-Hant">'
in_log "that loads nothing" "default-src 'none'"
sed 's|<文字>檢送本會|<文字>\&lt;script\&gt;alert(1)\&lt;/script\&gt;檢送本會|' roster_letter.di > script.di
expect_rc "show --html of a subject with a script" 0 X show script.di --html
in_log "the script is escaped" "&lt;script&gt;alert(1)&lt;/script&gt;檢送本會"
if grep -q '<script' "$WORK/last.log"; then bad "no <script> in the page"; else ok "no <script> in the page"; fi
expect_rc "show of an invalid file fails with its line" 1 X show invalid_order.di
in_log "the line" "invalid_order.di line 3"

finish
