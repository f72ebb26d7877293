#!/usr/bin/env bash
# host-local compat: identical ADD/DEL/CHECK sequences through Debian's reference
# /usr/lib/cni/host-local (1.1.1) and weft's, each on its own dataDir, comparing exit codes,
# stdout byte for byte and the network directory (file names and contents byte for byte; modes
# differ by design: 1.1.1 writes 0644, weft 0600 like upstream >= 1.4.0). Then mixed runs on one
# shared store (ADD by one binary, DEL by the other, alternating ADDs) compared with a
# reference-only run of the same sequence.
set -euo pipefail
export LC_ALL=C
WEFT_BIN=${WEFT_BIN:?}
REF_BIN=${REF_BIN:-/usr/lib/cni}
OURS=$WEFT_BIN/host-local
REF=$REF_BIN/host-local
[ -x "$OURS" ] || { echo "missing $OURS"; exit 1; }
[ -x "$REF" ] || { echo "reference $REF not installed (package containernetworking-plugins)"; exit 77; }
T=$(mktemp -d /tmp/weft-hl-compat.XXXXXX)
cleanup() { rm -rf "$T"; }
trap cleanup EXIT
NETNS=/var/run/netns/weft-hl-absent-$$
source "$(dirname "$0")/../checks.bash"

printf 'nameserver 192.0.2.3\nnameserver 192.0.2.4\ndomain ex.com\nsearch a.com b.com\noptions ndots:5 rotate\n' >"$T/resolv.conf"

# exec1 BIN DATADIR CMD ID IFNAME CONF-TEMPLATE [CNI_ARGS] -> OUT, RC (@DATA@ in the template
# is replaced by DATADIR)
exec1() {
  local conf=${6//@DATA@/$2}
  set +e
  OUT=$(printf '%s' "$conf" | env -i CNI_COMMAND="$3" CNI_CONTAINERID="$4" CNI_NETNS="$NETNS" CNI_IFNAME="$5" \
    CNI_PATH="$(dirname "$1")" CNI_ARGS="${7:-}" "$1" 2>/dev/null)
  RC=$?
  set -e
}

# Compares the network directories (names and bytes, modes excluded).
same_dir() { # same_dir DIR_A DIR_B WHAT
  local a b
  a=$(cd "$1" 2>/dev/null && ls -A | sort | tr '\n' ' ' || true)
  b=$(cd "$2" 2>/dev/null && ls -A | sort | tr '\n' ' ' || true)
  if [ "$a" != "$b" ]; then bad "$3: files differ: ref [$a] weft [$b]"; return; fi
  local f
  for f in $a; do
    [ "$f" = lock ] && continue
    cmp -s "$1/$f" "$2/$f" || { bad "$3: content of $f differs"; return; }
  done
  ok
}

# both CMD ID IFNAME CONF [CNI_ARGS]: runs the reference on $T/ref, weft on $T/weft, compares.
both() {
  exec1 "$REF" "$T/ref" "$@"
  local rout=$OUT rrc=$RC
  exec1 "$OURS" "$T/weft" "$@"
  if [ "$rrc" != "$RC" ] || [ "$rout" != "$OUT" ]; then
    bad "$1 $2 $3 ${5:-}: output differs"
    echo "--- reference (rc $rrc)"; echo "$rout"; echo "--- weft (rc $RC)"; echo "$OUT"
  else
    ok
  fi
  local net
  net=$(sed -n 's/.*"name":"\([^"]*\)".*/\1/p' <<<"$4" | head -1)
  same_dir "$T/ref/$net" "$T/weft/$net" "$1 $2 $3 ${5:-}"
}

tmpl() { # tmpl VERSION NAME IPAM-BODY [TOP-LEVEL-EXTRA]
  printf '{"cniVersion":"%s","name":"%s","type":"bridge"%s,"ipam":{"type":"host-local","dataDir":"@DATA@",%s}}' \
    "$1" "$2" "${4:-}" "$3"
}

# 1. The worked example: window .2-.5 with the gateway .3 inside it.
W=$(tmpl 1.0.0 worked '"subnet":"10.198.0.0/29","rangeStart":"10.198.0.2","rangeEnd":"10.198.0.5","gateway":"10.198.0.3","routes":[{"dst":"192.168.0.0/16","gw":"10.198.0.4"},{"dst":"0.0.0.0/0"}],"resolvConf":"'"$T"'/resolv.conf"')
for c in c1 c2 c3 c4; do both ADD $c eth0 "$W"; done
both DEL c2 eth0 "$W"
both ADD c5 eth0 "$W"
both CHECK c3 eth0 "$W"
both CHECK c3 eth1 "$W"
both CHECK nope eth0 "$W"
both DEL c1 eth0 "$W"
both DEL c1 eth0 "$W"
both DEL nope eth0 "$W"
both ADD c6 eth0 "$W"

# 2. Dual stack with several ranges, routes, resolvConf, every result version.
for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0; do
  D=$(tmpl $v dual '"ranges":[[{"subnet":"10.1.2.0/24"},{"subnet":"10.2.2.0/24"}],[{"subnet":"2001:db8:1::/64"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"},{"dst":"192.168.0.0/16","gw":"1.1.1.1"},{"dst":"2001:db8:2::/64","gw":"2001:db8:3::1"}],"resolvConf":"'"$T"'/resolv.conf"')
  both ADD "d$v" eth0 "$D"
  both ADD "d$v" eth1 "$D"
done
both DEL d0.3.0 eth0 "$D"
both CHECK d0.3.0 eth1 "$D"
both DEL d0.3.0 eth1 "$D"

# 3. Wrap-around across the ranges of one set, exhaustion, release, reuse.
R=$(tmpl 0.4.0 wrap '"ranges":[[{"subnet":"10.3.0.0/30"},{"subnet":"10.3.1.0/30"}]]')
for i in 1 2 3; do both ADD w$i eth0 "$R"; done
both DEL w1 eth0 "$R"
both ADD w4 eth0 "$R"
both ADD w5 eth0 "$R"
V6=$(tmpl 1.0.0 six '"ranges":[[{"subnet":"fd97::/126"}]]')
for i in 1 2 3; do both ADD s$i eth0 "$V6"; done

# 4. Requested addresses: CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips, ipRanges capability.
Q=$(tmpl 1.0.0 req '"ranges":[[{"subnet":"10.4.0.0/24"}],[{"subnet":"2001:db8:4::/64"}]]')
both ADD q1 eth0 "$Q" "IP=10.4.0.88"
both ADD q2 eth0 "$Q" "IP=10.4.0.88"
both ADD q3 eth0 "$Q" "IP=10.4.0.1"
both ADD q4 eth0 "$Q" "IgnoreUnknown=1;MAC=02:00:00:00:00:01;IP=10.4.0.99/8"
both ADD q5 eth0 "$Q" "MAC=02:00:00:00:00:01"
both ADD q6 eth0 "$Q" "IP=bogus"
both ADD q7 eth0 "$Q" "IP=10.9.9.9"
both ADD q8 eth0 "$(tmpl 1.0.0 req '"ranges":[[{"subnet":"10.4.0.0/24"}],[{"subnet":"2001:db8:4::/64"}]]' ',"args":{"cni":{"ips":["10.4.0.50","2001:db8:4::999"]}}')"
both ADD q9 eth0 "$(tmpl 1.0.0 req '"ranges":[[{"subnet":"10.4.0.0/24"}],[{"subnet":"2001:db8:4::/64"}]]' ',"runtimeConfig":{"ips":["10.4.0.60/24"]}')"
# Two requests for one set would make the reference pick by Go map order (random); one
# request outside every set keeps the outcome deterministic.
# Two requests for one set would make the reference pick by Go map order (random); a request
# outside every set keeps the outcome deterministic.
both ADD q10 eth0 "$(tmpl 1.0.0 req '"ranges":[[{"subnet":"10.4.0.0/24"}],[{"subnet":"2001:db8:4::/64"}]]' ',"args":{"cni":{"ips":["10.4.0.70","10.99.0.71"]}}')"
both ADD q11 eth0 "$(tmpl 1.0.0 req '"ranges":[[{"subnet":"10.4.0.0/24"}]]' ',"runtimeConfig":{"ipRanges":[[{"subnet":"10.44.0.0/24","rangeStart":"10.44.0.10"}]]}')"
both DEL q8 eth0 "$Q"
both DEL q11 eth0 "$Q"

# 5. Configuration errors.
for body in \
  '"subnet":"10.5.0.0/31"' '"subnet":"10.5.0.1/24"' '"subnet":"2001:db8::1/64"' '"subnet":"bogus"' \
  '"subnet":"10.5.0.0/24","rangeStart":"10.6.0.1"' '"subnet":"10.5.0.0/24","rangeEnd":"10.6.0.1"' \
  '"subnet":"10.5.0.0/24","rangeStart":"10.5.0.50","rangeEnd":"10.5.0.40"' '"subnet":"10.5.0.0/24","gateway":"x"' \
  '"subnet":"010.5.0.0/24"' '"ranges":[]' '"ranges":[[]]' '"ranges":[[{}]]' \
  '"ranges":[[{"subnet":"10.5.0.0/24"}],[{"subnet":"10.5.0.0/25"}]]' \
  '"ranges":[[{"subnet":"10.5.0.0/22"},{"subnet":"10.5.2.0/24"}]]' \
  '"ranges":[[{"subnet":"10.5.0.0/24"},{"subnet":"fd00::/64"}]]' \
  '"dataDir":5,"subnet":"10.5.0.0/24"' '"subnet":"10.5.0.0/24","resolvConf":"/nonexistent"' \
  '"subnet":"10.5.0.0/24","args":{"cni":{"ips":["zz"]}}'; do
  both ADD e1 eth0 "$(tmpl 1.0.0 errs "$body")"
done
both ADD e2 eth0 "$(tmpl 0.2.0 errs '"ranges":[[{"subnet":"10.5.0.0/24"}],[{"subnet":"10.6.0.0/24"}]]')"
both ADD e3 eth0 '{"cniVersion":"1.0.0","name":"errs"}'
both DEL e3 eth0 "$(tmpl 1.0.0 errs '"subnet":"10.5.0.0/31"')"

# 6. Legacy (id-only) files and files with surrounding white space are matched and released.
L=$(tmpl 1.0.0 legacy '"subnet":"10.7.0.0/24"')
both ADD l1 eth0 "$L"
for d in ref weft; do printf 'l1' >"$T/$d/legacy/10.7.0.2"; printf ' l2 \n' >"$T/$d/legacy/10.7.0.9"; done
both ADD l1 eth1 "$L"
both CHECK l2 eth5 "$L"
both DEL l1 eth0 "$L"
both DEL l2 eth0 "$L"

# 7. Mixed: one shared store, binaries alternate; compared with the same sequence run by the
# reference alone.
M=$(tmpl 1.0.0 mixed '"ranges":[[{"subnet":"10.8.0.0/29"}],[{"subnet":"fd08::/125"}]]')
seq_steps=(ADD:m1:0 ADD:m2:1 ADD:m3:0 DEL:m1:1 ADD:m4:1 DEL:m2:0 ADD:m5:0 CHECK:m3:1 CHECK:m4:0 DEL:m3:1 ADD:m6:1 ADD:m7:0 DEL:m4:0 DEL:m5:1 ADD:m8:0)
for step in "${seq_steps[@]}"; do
  IFS=: read -r cmd id who <<<"$step"
  bin=$OURS; [ "$who" = 1 ] && bin=$REF
  exec1 "$bin" "$T/mixed" "$cmd" "$id" eth0 "$M"
  mout=$OUT mrc=$RC
  exec1 "$REF" "$T/refonly" "$cmd" "$id" eth0 "$M"
  if [ "$mout" == "$OUT" ] && [ "$mrc" == "$RC" ]; then ok; else
    bad "mixed $step: output differs"; echo "--- mixed ($mrc)"; echo "$mout"; echo "--- reference only ($RC)"; echo "$OUT"
  fi
  same_dir "$T/refonly/mixed" "$T/mixed/mixed" "mixed $step"
done
for id in m6 m7 m8; do exec1 "$REF" "$T/mixed" DEL $id eth0 "$M"; done
if [ "$(ls -A "$T/mixed/mixed" | tr '\n' ' ')" = "last_reserved_ip.0 last_reserved_ip.1 lock " ]; then ok; else
  bad "mixed store not clean after DELs: $(ls -A "$T/mixed/mixed" | tr '\n' ' ')"; fi

# 8. Both binaries at once on one store: 32 ADDs each in parallel share the flock, so all 64
# addresses are distinct; then each binary DELs the other's containers.
P=$(tmpl 1.0.0 par '"ranges":[[{"subnet":"10.9.0.0/24"}],[{"subnet":"fd09::/120"}]]')
for i in $(seq 1 64); do
  bin=$OURS; [ $((i % 2)) = 0 ] && bin=$REF
  (exec1 "$bin" "$T/par" ADD "p$i" eth0 "$P"; printf '%s' "$OUT" >"$T/par.$i.out"; echo "$RC" >"$T/par.$i.rc") &
done
wait
if [ "$(cat "$T"/par.*.rc | sort -u | tr '\n' ' ')" = "0 " ]; then ok; else bad "parallel mixed ADDs failed"; fi
n=$(cat "$T"/par.*.out | grep '"address"' | sort -u | wc -l)
if [ "$n" = 128 ]; then ok; else bad "parallel mixed ADDs: $n distinct addresses, want 128"; fi
for i in $(seq 1 64); do
  bin=$REF; [ $((i % 2)) = 0 ] && bin=$OURS
  (exec1 "$bin" "$T/par" DEL "p$i" eth0 "$P"; echo "$RC" >"$T/pdel.$i.rc") &
done
wait
if [ "$(cat "$T"/pdel.*.rc | sort -u | tr '\n' ' ')" = "0 " ]; then ok; else bad "parallel mixed DELs failed"; fi
if [ "$(ls -A "$T/par/par" | tr '\n' ' ')" = "last_reserved_ip.0 last_reserved_ip.1 lock " ]; then ok; else
  bad "parallel mixed store not clean: $(ls -A "$T/par/par" | tr '\n' ' ')"; fi

# 9. A seeded pseudo-random sequence of ADD/DEL/CHECK over a small multi-range store, so
# exhaustion, wrap-around, duplicates and reuse interleave; every step is compared.
F=$(tmpl 1.0.0 fuzz '"ranges":[[{"subnet":"10.20.0.0/29"},{"subnet":"10.20.1.0/30"}],[{"subnet":"fd20::/126"}]]')
RANDOM=4242
for step in $(seq 1 240); do
  id=f$((RANDOM % 9)); ifn=eth$((RANDOM % 2))
  case $((RANDOM % 5)) in 0|1|2) cmd=ADD ;; 3) cmd=DEL ;; *) cmd=CHECK ;; esac
  both $cmd $id $ifn "$F"
done

# 10. weft's files are 0600 (the 1.1.1 reference's are 0644).
modes=$(find "$T/weft" -path '*/.weft-host-local' -prune -o -type f ! -name lock -printf '%m\n' | sort -u | tr '\n' ' ')
if [ "$modes" = "600 " ]; then ok; else bad "weft file modes: $modes"; fi

echo "host-local compat: $checks checks, $fails failures"
[ "$fails" -eq 0 ]
