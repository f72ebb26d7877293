#!/usr/bin/env bash
# host-local exec tests: runs the built plugin binary with crafted env and stdin against a
# throw-away dataDir. host-local touches no kernel state, so no namespace is needed (CNI_NETNS
# names a path that does not exist, which skel accepts for an IPAM plugin). Covers ADD/DEL/CHECK,
# GC, STATUS, error codes, idempotent DEL, 64 concurrent ADDs/DELs, kill -9 at random points
# and symlink safety.
set -euo pipefail
export LC_ALL=C
WEFT_BIN=${WEFT_BIN:?}
PLUGIN=$WEFT_BIN/host-local
[ -x "$PLUGIN" ] || { echo "missing $PLUGIN"; exit 1; }
T=$(mktemp -d /tmp/weft-hl-exec.XXXXXX)
cleanup() { rm -rf "$T"; }
trap cleanup EXIT
NETNS=/var/run/netns/weft-hl-absent-$$
source "$(dirname "$0")/../checks.bash"

# run CMD ID IFNAME CONF [CNI_ARGS]  -> sets OUT and RC
run() {
  set +e
  OUT=$(printf '%s' "$4" | env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="$NETNS" \
    CNI_IFNAME="$3" CNI_PATH="$WEFT_BIN" CNI_ARGS="${5:-}" "$PLUGIN" 2>"$T/stderr")
  RC=$?
  set -e
}
ip_of() { sed -n 's/.*"address": "\([^/"]*\)\/.*/\1/p' <<<"$1" | head -1; }

D=$T/data
conf() { # conf VERSION IPAM-BODY
  printf '{"cniVersion":"%s","name":"hlnet","type":"bridge","ipam":{"type":"host-local","dataDir":"%s",%s}}' "$1" "$D" "$2"
}

# --- ADD/DEL/CHECK round trip, file format and modes
C=$(conf 1.0.0 '"ranges":[[{"subnet":"10.5.0.0/24"}],[{"subnet":"fd05::/64"}]],"routes":[{"dst":"0.0.0.0/0"}]')
run ADD c1 eth0 "$C"
expect_eq "$RC" 0 "ADD rc"
expect_eq "$OUT" '{
    "cniVersion": "1.0.0",
    "ips": [
        {
            "address": "10.5.0.2/24",
            "gateway": "10.5.0.1"
        },
        {
            "address": "fd05::2/64",
            "gateway": "fd05::1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        }
    ],
    "dns": {}
}' "ADD result"
expect_eq "$(od -An -c "$D/hlnet/10.5.0.2" | tr -s ' ')" " c 1 \r \n e t h 0" "v4 file content"
expect_eq "$(cat "$D/hlnet/fd05::2")" $'c1\r\neth0' "v6 file content"
expect_eq "$(cat "$D/hlnet/last_reserved_ip.0")" "10.5.0.2" "last_reserved_ip.0"
expect_eq "$(cat "$D/hlnet/last_reserved_ip.1")" "fd05::2" "last_reserved_ip.1"
expect_eq "$(stat -c %a "$D/hlnet/10.5.0.2")" 600 "reservation mode"
expect_eq "$(stat -c %a "$D/hlnet/last_reserved_ip.0")" 600 "last_reserved_ip mode"
expect_eq "$(stat -c %a "$D/hlnet")" 755 "network dir mode"
run ADD c1 eth0 "$C"
expect_eq "$RC" 1 "duplicate ADD rc"
expect_has "$OUT" '"msg": "failed to allocate for range 0: 10.5.0.2 has been allocated to c1, duplicate allocation is not allowed"' "duplicate ADD"
run CHECK c1 eth0 "$C"
expect_eq "$RC:$OUT" "0:" "CHECK existing"
run CHECK c1 eth1 "$C"
expect_has "$OUT" "host-local: Failed to find address added by container c1" "CHECK other ifname"
run DEL c1 eth0 "$C"
expect_eq "$RC:$OUT" "0:" "DEL"
run DEL c1 eth0 "$C"
expect_eq "$RC:$OUT" "0:" "second DEL"
run DEL never eth0 "$C"
expect_eq "$RC:$OUT" "0:" "DEL unknown id"
expect_eq "$(ls "$D/hlnet" | tr '\n' ' ')" "last_reserved_ip.0 last_reserved_ip.1 lock " "store clean after DEL"
run ADD c2 eth0 "$C"
expect_eq "$(ip_of "$OUT")" "10.5.0.3" "round robin continues after DEL"
run DEL c2 eth0 "$C"

# --- old versions and error codes
run ADD c3 eth0 "$(conf 0.2.0 '"subnet":"10.6.0.0/30"')"
expect_eq "$OUT" '{
    "cniVersion": "0.2.0",
    "ip4": {
        "ip": "10.6.0.2/30",
        "gateway": "10.6.0.1"
    },
    "dns": {}
}' "0.2.0 result"
run ADD c4 eth0 "$(conf 0.4.0 '"subnet":"10.6.0.0/30"')"
expect_has "$OUT" '"msg": "failed to allocate for range 0: no IP addresses available in range set: 10.6.0.1-10.6.0.2"' "exhausted"
run ADD c4 eth0 "$(conf 1.0.0 '"subnet":"10.7.0.0/31"')"
expect_has "$OUT" '"msg": "invalid range set 0: Network 10.7.0.0/31 too small to allocate from"' "/31"
expect_has "$OUT" '"code": 999' "config error code"
run ADD c4 eth0 '{"cniVersion":"1.0.0","name":"hlnet"}'
expect_has "$OUT" "IPAM config missing 'ipam' key" "missing ipam"
run ADD c4 eth0 "$(conf 1.0.0 '"subnet":"10.8.0.0/24","resolvConf":"/nonexistent/resolv"')"
expect_has "$OUT" "open /nonexistent/resolv: no such file or directory" "resolvConf missing"
[ ! -e "$D/hlnet/10.8.0.2" ] && ok || bad "resolvConf error must come before any reservation"

# --- requested IPs
run ADD r1 eth0 "$(conf 1.0.0 '"subnet":"10.9.0.0/24"')" "IP=10.9.0.77"
expect_eq "$(ip_of "$OUT")" "10.9.0.77" "CNI_ARGS IP"
run ADD r2 eth0 "$(conf 1.0.0 '"subnet":"10.9.0.0/24"')" "IP=10.9.0.77"
expect_has "$OUT" "requested IP address 10.9.0.77 is not available in range set 10.9.0.1-10.9.0.254" "requested taken"
run ADD r3 eth0 "$(conf 1.0.0 '"subnet":"10.9.0.0/24"')" "IP=10.9.0.1"
expect_has "$OUT" "requested ip 10.9.0.1 is subnet's gateway" "requested gateway"
run ADD r4 eth0 "$(conf 1.0.0 '"subnet":"10.9.0.0/24"')" "IP=10.99.0.5"
expect_has "$OUT" "failed to allocate all requested IPs: 10.99.0.5" "requested outside"
[ ! -e "$D/hlnet/10.9.0.78" ] && ok || bad "failed ADD must release what it reserved"

# --- STATUS and GC (spec 1.1.0)
run STATUS "" "" "$(conf 1.1.0 '"subnet":"10.6.0.0/30"')"
expect_eq "$RC" 1 "STATUS exhausted rc"
expect_has "$OUT" '"code": 50' "STATUS exhausted code"
expect_has "$OUT" "no IP addresses available in range set: 10.6.0.1-10.6.0.2" "STATUS exhausted msg"
run STATUS "" "" "$(conf 1.1.0 '"subnet":"10.9.0.0/24"')"
expect_eq "$RC:$OUT" "0:" "STATUS ok"
run STATUS "" "" "$(conf 1.0.0 '"subnet":"10.9.0.0/24"')"
expect_has "$OUT" "config version does not allow STATUS" "STATUS old version"
G=$T/gc
gconf() { printf '{"cniVersion":"1.1.0","name":"gcnet","ipam":{"type":"host-local","dataDir":"%s","ranges":[[{"subnet":"10.10.0.0/24"}],[{"subnet":"fd10::/64"}]]}%s}' "$G" "$1"; }
for id in g1 g2 g3; do run ADD $id eth0 "$(gconf '')"; done
run ADD g1 net1 "$(gconf '')"
printf 'g2' > "$G/gcnet/10.10.0.200"   # a legacy (id-only) reservation of a valid container
printf 'gone' > "$G/gcnet/10.10.0.201" # a legacy reservation of a stale one
run GC "" "" "$(gconf ',"cni.dev/valid-attachments":[{"containerID":"g1","ifname":"eth0"},{"containerID":"g2","ifname":"eth0"}]')"
expect_eq "$RC:$OUT" "0:" "GC"
expect_eq "$(cd "$G/gcnet" && grep -l . 10.* fd10* 2>/dev/null | sort | tr '\n' ' ')" \
  "10.10.0.2 10.10.0.200 10.10.0.3 fd10::2 fd10::3 " "GC keeps valid attachments only"
run GC "" "" "$(gconf ',"cni.dev/attachments":[{"containerID":"g1","ifname":"eth0"}]')"
expect_eq "$(cd "$G/gcnet" && ls | grep -v -e lock -e last_reserved | sort | tr '\n' ' ')" "10.10.0.2 fd10::2 " "GC with the older key"
run GC "" "" "$(gconf '')"
expect_eq "$(cd "$G/gcnet" && ls | sort | tr '\n' ' ')" "last_reserved_ip.0 last_reserved_ip.1 lock " "GC without a list releases all"

# --- 64 concurrent ADDs get distinct addresses; 64 concurrent DELs leave the store clean
P=$T/par
pconf=$(printf '{"cniVersion":"1.0.0","name":"par","ipam":{"type":"host-local","dataDir":"%s","ranges":[[{"subnet":"10.11.0.0/24"}],[{"subnet":"fd11::/120"}]]}}' "$P")
par64() {  # par64 CMD OUT: CMD of $pconf for containers p1..p64 at once; output $T/OUT.<i>, status $T/OUT.<i>.rc
  for i in $(seq 1 64); do
    (printf '%s' "$pconf" | env -i CNI_COMMAND="$1" CNI_CONTAINERID=p$i CNI_NETNS=$NETNS CNI_IFNAME=eth0 \
       CNI_PATH="$WEFT_BIN" "$PLUGIN" >"$T/$2.$i" 2>&1; echo $? >"$T/$2.$i.rc") &
  done
  wait
}
par64 ADD par
expect_eq "$(cat "$T"/par.*.rc | sort -u | tr '\n' ' ')" "0 " "64 parallel ADDs succeed"
expect_eq "$(cat "$T"/par.[0-9]* | grep -c '"address": "10.11')" 64 "64 v4 results"
expect_eq "$(cat "$T"/par.[0-9]* | grep '"address"' | sort -u | wc -l)" 128 "128 distinct addresses"
expect_eq "$(ls "$P/par" | grep -c '^10\.11')" 64 "64 v4 files"
par64 DEL pdel
expect_eq "$(cat "$T"/pdel.*.rc | sort -u | tr '\n' ' ')" "0 " "64 parallel DELs succeed"
expect_eq "$(ls -A "$P/par" | tr '\n' ' ')" "last_reserved_ip.0 last_reserved_ip.1 lock " "only lock and last_reserved_ip.* remain"

# --- kill -9 at random points never leaves an empty or partial reservation
K=$T/kill
kconf=$(printf '{"cniVersion":"1.0.0","name":"kill","ipam":{"type":"host-local","dataDir":"%s","subnet":"10.12.0.0/16"}}' "$K")
killed=0
# Delays spread over twice the time of one uninterrupted ADD (slower in a sanitizer build or on a
# busy machine), so some calls are killed and some finish.
t0=$(date +%s%N)
printf '%s' "$kconf" | env -i CNI_COMMAND=ADD CNI_CONTAINERID=k0 CNI_NETNS=$NETNS CNI_IFNAME=eth0 \
  CNI_PATH="$WEFT_BIN" "$PLUGIN" >/dev/null
span=$(( ($(date +%s%N) - t0) / 50000 + 1 ))  # 2 x the ADD time, in units of 0.1 ms
for i in $(seq 1 150); do
  d=$((RANDOM % span + 1))
  delay=$(printf '%d.%04d' $((d / 10000)) $((d % 10000)))
  rc=0
  { printf '%s' "$kconf" | env -i CNI_COMMAND=ADD CNI_CONTAINERID=k$i CNI_NETNS=$NETNS CNI_IFNAME=eth0 \
      CNI_PATH="$WEFT_BIN" timeout -s KILL "$delay" "$PLUGIN" >/dev/null 2>&1; } 2>/dev/null || rc=$?
  [ "$rc" -eq 137 ] && killed=$((killed + 1))
done
echo "kill -9 test: $killed of 150 ADDs killed in flight"
[ "$killed" -gt 0 ] && [ "$killed" -lt 150 ] && ok || bad "kill test must kill some ADDs and let others finish ($killed killed)"
bad_files=0
re=$'^k[0-9]+\r\neth0$'
for f in "$K"/kill/10.12.*; do
  [ -e "$f" ] || continue
  [[ "$(cat "$f")" =~ $re ]] || { bad_files=$((bad_files + 1)); echo "bad reservation $f"; }
done
expect_eq "$bad_files" 0 "no empty or partial reservation after kill -9"
run ADD after eth0 "$kconf"
expect_eq "$RC" 0 "ADD after kills"
expect_eq "$(ls -A "$K/kill" | grep -c '^\.weft-tmp')" 0 "stale temp files cleaned by the next run"
for f in "$K"/kill/10.12.*; do
  id=$(head -c 20 "$f" | tr -d '\r' | head -1)
  run DEL "$id" eth0 "$kconf"
done
expect_eq "$(ls -A "$K/kill" | tr '\n' ' ')" "last_reserved_ip.0 lock " "all kill-test reservations released"

# --- state files are never followed through symlinks
S=$T/sym
sconf=$(printf '{"cniVersion":"1.0.0","name":"sym","ipam":{"type":"host-local","dataDir":"%s","subnet":"10.13.0.0/24"}}' "$S")
mkdir -p "$S/sym"
printf 'precious' > "$T/precious"
ln -s "$T/precious" "$S/sym/last_reserved_ip.0"
ln -s "$T/precious" "$S/sym/10.13.0.2"
run ADD s1 eth0 "$sconf"
expect_eq "$(ip_of "$OUT")" "10.13.0.3" "a symlinked address is never handed out"
expect_eq "$(cat "$T/precious")" "precious" "symlink target untouched"
[ -f "$S/sym/last_reserved_ip.0" ] && [ ! -L "$S/sym/last_reserved_ip.0" ] && ok || bad "last_reserved_ip replaced, not followed"
rm "$S/sym/lock"; ln -s "$T/precious" "$S/sym/lock"
run ADD s2 eth0 "$sconf"
expect_eq "$RC" 1 "symlinked lock refused"

echo "host-local exec: $checks checks, $fails failures"
[ "$fails" -eq 0 ]
