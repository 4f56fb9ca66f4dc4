# shellcheck shell=bash
# Shared by the exchange scenarios (source it after scenario_begin): JSON fields of the
# last command's output, free ports, the servers a scenario starts (PIDS), stopped on
# exit, and the 函 they send.

json_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$1)" "$WORK/last.log"; }

PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
}
trap 'stop_all; rm -rf "$WORK"' EXIT

# write_letter FILE SERIAL SUBJECT [ATTACHMENT...]: a 函 from 臺南市政府 ($A) to its 教育局 ($B),
# 發文字號 府研智 115 SERIAL, declaring each ATTACHMENT (a file name) as ATTCH1, ATTCH2, ...
write_letter() {
  local file=$1 serial=$2 subject=$3
  shift 3
  local entities="" names="" n=0 a attachments=""
  for a in "$@"; do
    n=$((n + 1))
    entities+="<!ENTITY ATTCH$n SYSTEM \"$a\" NDATA _X>"$'\n'
    names+="${names:+ }ATTCH$n"
  done
  local doctype='<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd">'
  if [ "$n" -gt 0 ]; then
    doctype=$'<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd" [\n'"$entities"$'<!NOTATION _X SYSTEM "">\n]>'
    attachments="<附件><文字>說明資料</文字><附件檔名 附件名=\"$names\"/></附件>"
  fi
  cat > "$file" << XML
<?xml version="1.0" encoding="UTF-8"?>
$doctype
<函>
<發文機關><全銜>臺南市政府</全銜><機關代碼>$A</機關代碼></發文機關>
<函類別 代碼="函"/>
<地址>708201臺南市安平區永華路2段6號</地址>
<聯絡方式>承辦人：蘇建勳</聯絡方式>
<聯絡方式>電話：06-2991111轉1182</聯絡方式>
<受文者><全銜>臺南市政府教育局</全銜><機關代碼>$B</機關代碼></受文者>
<發文日期><年月日>中華民國115年12月3日</年月日></發文日期>
<發文字號><字>府研智</字><文號><年度>115</年度><流水號>$serial</流水號></文號></發文字號>
<速別 代碼="普通件"/>
$attachments
<主旨><文字>$subject</文字></主旨>
<段落 段名="說明："><條列 序號="一、"><文字>依檔管局110年5月27日檔資字第1100022201號函辦理。</文字></條列></段落>
<正本><全銜>臺南市政府教育局</全銜></正本>
<署名>市長 黃偉哲</署名>
</函>
XML
}
