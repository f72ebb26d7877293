#!/usr/bin/env bash
# e2e: lease renewal. weftd renews at TTL (24 h) - --subnet-lease-renew-margin; the largest margin
# flanneld allows (1439 min) puts the renewal 60 s after the lease was taken, so this test waits
# about a minute: the key must then hang on a fresh 24 h etcd lease with the same value, and the
# previous etcd lease must be gone (flanneld leaves it to expire a day later).
set -euo pipefail
source "$(dirname "$0")/overlay.bash"
ov_test_start || exit $?

ov_etcd; ov_config; ov_node 1
ov_weftd 1 --subnet-lease-renew-margin 1439
ov_wait_ready 1
key="$OV_PREFIX/subnets/$(ov_subnet 1 | sed 's|\.1/|.0-|')"
lease_of() {  # the etcd lease id of $key, hex (jq would round the 64-bit number)
  ov_etcdctl get -w json "$key" | python3 -c 'import json, sys; print("%x" % json.load(sys.stdin)["kvs"][0]["lease"])'
}
l1=$(lease_of); v1=$(ov_etcdctl get --print-value-only "$key")
ov_etcdctl lease timetolive "$l1" | gq "granted with TTL(86400s)" || fail "lease TTL: $(ov_etcdctl lease timetolive "$l1")"
pass "lease $key on etcd lease $l1 (TTL 86400 s)"
for _ in $(seq 900); do gq "renewed lease" "$OV_TMP/n1/weftd.log" && break; sleep 0.1; done
gq "renewed lease $(ov_subnet 1 | sed 's|\.1/|.0/|')" "$OV_TMP/n1/weftd.log" || fail "no renewal within 90 s: $(tail -3 "$OV_TMP/n1/weftd.log")"
l2=$(lease_of)
[ "$l2" != "$l1" ] || fail "the key still hangs on the first etcd lease"
[ "$(ov_etcdctl get --print-value-only "$key")" = "$v1" ] || fail "renewal changed the value"
ov_etcdctl lease timetolive "$l2" | gq "granted with TTL(86400s)" || fail "new lease TTL"
ov_etcdctl lease timetolive "$l1" | gq "already expired" || fail "the previous etcd lease was not revoked"
kill -0 "${OV_WEFTD[1]}" || fail "weftd exited"
pass "renewed onto etcd lease $l2 (TTL 86400 s), same value, previous lease revoked"
