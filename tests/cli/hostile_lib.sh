# Sourced by tests/*/test_hostile*.sh: the payload file and the byte checks.
# POSIX sh + od/grep only.
#
# hostile_jsonl FILE   writes SelectTool JSONL rows whose message (and
#                      exampleId, tags) carry the escape/control/bidi corpus
#                      as JSON \u escapes and raw UTF-8 (so the rows parse).
# assert_terminal_safe FILE WHAT   fails when FILE holds a raw ESC (1b), BEL
#                      (07), 0x9B, another C0 control except \n and \t, DEL,
#                      a C1 control in UTF-8 (c2 80..c2 9f), or a bidi /
#                      invisible format character (U+00AD, U+061C, U+180E,
#                      U+200B-F with U+200D, U+2028-E, U+2060-4, U+2066-F,
#                      U+FEFF, U+E0001 and the other tags).

# JSON string bodies (inside "..."), one payload per line.  \u escapes
# decode to the dangerous characters; the raw UTF-8 ones are bidi marks.
hostile_payloads() {
  cat <<'P'
csi-2J \u001b[2J
csi-H \u001b[H
csi-21t \u001b[21t
sgr \u001b[31mred\u001b[0m
osc0 \u001b]0;pwned\u0007
osc2 \u001b]2;pwned\u001b\\
osc8 \u001b]8;;http://evil.example/\u001b\\click\u001b]8;;\u001b\\
osc50 \u001b]50;?\u0007
osc52 \u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007
dcs-q \u001bP$qm\u001b\\
c1-csi \u009b2J
c1-osc \u009d0;t\u0007
c1-nel a\u0085b
bel ding\u0007
bs ok\b\bNO
cr approve\rDENY
crlf line\r\nnext
tab col1\tcol2
newline row1\nrow2
lone-esc tail\u001b
osc-split-a \u001b]0;spl
osc-split-b it\u0007rest
del a\u007fb
vt-ff a\u000bb\u000cc
so-si \u000eabc\u000f
lre a\u202ab
rle a\u202bb
pdf a\u202cb
lro a\u202db
rlo evil\u202egpj.exe
lri a\u2066b
rli a\u2067b
fsi a\u2068b
pdi a\u2069b
lrm a\u200eb
rlm a\u200fb
alm a\u061cb
zwsp a\u200bb
bom \ufeffbom
lsep a\u2028b
psep a\u2029b
wj a\u2060b
zwj a\u200db
zwnj a\u200cb
invisible-plus a\u2064b
mvs a\u180eb
shy a\u00adb
tag a\udb40\udc01b
cjk 漢字幅
combining e\u0301\u0302\u0303
emoji-zwj \ud83d\udc68\u200d\ud83d\udc69
sql '); DROP TABLE dseExamples; --
fmt %s%s%n%x
P
}

hostile_jsonl() {
  hostile_payloads | while IFS=' ' read -r name payload; do
    printf '{"exampleId":"hostile.%s.\\u001b[2J\\u202e","inputJson":{"message":"%s","blueprintHint":{"userHandle":"%s","agentName":"Autopilot"}},"expectedJson":{"action":"none"},"split":"train","tags":["%s"]}\n' \
      "$name" "$payload" "$payload" "$payload"
  done >"$1"
}

assert_terminal_safe() {
  f=$1; what=$2
  # single bytes: C0 except \t (09) and \n (0a), DEL, 0x9B
  bad=$(od -An -tx1 -v "$f" | tr -s ' ' '\n' | grep -E '^(0[0-8]|0[b-f]|1[0-9a-f]|7f|9b)$' | sort -u | tr '\n' ' ')
  if [ -n "$bad" ]; then
    echo "FAIL: $what: raw control bytes in output: $bad" >&2
    LC_ALL=C grep -n "$(printf '\033')" "$f" | head -3 | od -c | head -8 >&2
    return 1
  fi
  # multi-byte sequences: C1 controls in UTF-8 and bidi / invisible marks
  for seq in '\302\200' '\302\205' '\302\220' '\302\233' '\302\234' '\302\235' '\302\237' \
             '\330\234' '\342\200\213' '\342\200\214' '\342\200\216' '\342\200\217' \
             '\342\200\250' '\342\200\251' '\342\200\252' '\342\200\253' '\342\200\254' \
             '\342\200\255' '\342\200\256' '\342\201\240' '\342\201\246' '\342\201\247' \
             '\342\201\250' '\342\201\251' '\357\273\277' '\342\200\215' '\342\200\214' \
             '\342\201\244' '\341\240\216' '\302\255' '\363\240\200\201'; do
    if LC_ALL=C grep -qF "$(printf "$seq")" "$f"; then
      echo "FAIL: $what: output holds the raw sequence $seq" >&2
      return 1
    fi
  done
  return 0
}
