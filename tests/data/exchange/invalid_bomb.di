<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd" [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<函>
  <發文機關><全銜>臺南市政府</全銜><機關代碼>376570000A</機關代碼></發文機關>
  <函類別 代碼="函"/>
  <地址>708201臺南市安平區永華路2段6號</地址>
  <聯絡方式>承辦人：蘇建勳</聯絡方式>
  <受文者><全銜>臺南市政府教育局</全銜><機關代碼>376570100A</機關代碼></受文者>
  <發文日期><年月日>中華民國110年6月3日</年月日></發文日期>
  <發文字號><文字>府研智字第1100681935號</文字></發文字號>
  <主旨><文字>&lol9;</文字></主旨>
  <正本><全銜>臺南市政府教育局</全銜></正本>
</函>
