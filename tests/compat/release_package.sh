#!/usr/bin/env bash
# The Debian package scripts/release writes with CPack (dist/weft_<version>_amd64.deb) and
# `cmake --install` of the same build, into scratch roots only: dpkg -x gives exactly the expected
# file list (the release's plugins in /opt/cni/bin, byte-identical to the tarball's, weftd and
# cnitool in /usr/bin, the shipped configuration and the installer in /usr/share/weft); the
# control fields name the version, and the dependencies dpkg-shlibdeps found (weftd's libcurl,
# no libiptc: the plugins are static); `dpkg --root` installs and registers it in an empty dpkg
# database; DESTDIR=... cmake --install lays out the same files.
set -euo pipefail
export LC_ALL=C
WEFT_SRC=${WEFT_SRC:?} WEFT_BUILD=${WEFT_BUILD:?}
for c in dpkg dpkg-deb cmake; do command -v $c >/dev/null || { echo "skip: needs $c"; exit 77; }; done
T=$(mktemp -d /tmp/wr-package.XXXXXX)
trap 'rm -rf "$T"' EXIT
source "$(dirname "$0")/../checks.bash"

source "$WEFT_SRC/tests/netns/release_helpers.bash"
release_tarball
DEB=$RELEASE_DIST/weft_${RELEASE_VERSION}_amd64.deb
[ -f "$DEB" ] || { echo "FAIL: no $DEB"; exit 1; }
echo "package: $DEB ($(stat -c %s "$DEB") bytes)"
mapfile -t PLUGINS < <(tar -tzf "$TARBALL" | sort)
X=$T/tarball && mkdir -p "$X" && tar -C "$X" -xzf "$TARBALL"

want=$( {
  for p in "${PLUGINS[@]}"; do echo "opt/cni/bin/$p"; done
  printf '%s\n' usr/bin/cnitool usr/bin/weftd usr/share/weft/10-flannel.conflist usr/share/weft/kube-flannel.yml \
    usr/share/weft/net-conf.json usr/share/weft/weft-install
} | sort)

# --- dpkg -x: the file list and the files
R=$T/x
dpkg -x "$DEB" "$R"
expect_eq "$(cd "$R" && find . -type f | sed 's|^\./||' | sort)" "$want" "dpkg -x file list"
for p in "${PLUGINS[@]}"; do
  cmp -s "$X/$p" "$R/opt/cni/bin/$p" && ok || bad "$p in the package differs from the tarball's"
  expect_eq "$(stat -c %a "$R/opt/cni/bin/$p")" 755 "$p mode"
done
cmp -s "$WEFT_SRC/conf/10-flannel.conflist" "$R/usr/share/weft/10-flannel.conflist" && ok || bad "conflist"
expect_eq "$("$R/usr/bin/weftd" --version 2>&1)" "$RELEASE_VERSION" "packaged weftd --version"
expect_has "$("$R/usr/bin/cnitool" --help 2>&1 || true)" "cnitool" "packaged cnitool runs"

# --- control fields
expect_eq "$(dpkg-deb -f "$DEB" Package)" weft "Package"
expect_eq "$(dpkg-deb -f "$DEB" Version)" "$RELEASE_VERSION" "Version"
expect_eq "$(dpkg-deb -f "$DEB" Architecture)" amd64 "Architecture"
deps=$(dpkg-deb -f "$DEB" Depends)
expect_has "$deps" "libcurl4" "Depends names weftd's libcurl"
[[ $deps != *libip4tc* && $deps != *libnftables* ]] && ok || bad "Depends names firewall libraries the static plugins do not load: $deps"

# --- dpkg --root: installs into an empty database and lists the same files
D=$T/root
mkdir -p "$D/var/lib/dpkg/info" "$D/var/lib/dpkg/updates" "$D/var/lib/dpkg/triggers"
touch "$D/var/lib/dpkg/status" "$D/var/lib/dpkg/available"
if dpkg --root="$D" --force-depends --force-not-root --log=/dev/null -i "$DEB" >"$T/dpkg.log" 2>&1; then ok; else bad "dpkg --root -i: $(tail -5 "$T/dpkg.log")"; fi
expect_eq "$(dpkg --root="$D" -s weft 2>&1 | sed -n 's/^Status: //p')" "install ok installed" "dpkg status"
listed=$(dpkg --root="$D" -L weft | sed 's|^/||' | while read -r f; do [ -f "$D/$f" ] && echo "$f"; done | sort)
expect_eq "$listed" "$want" "dpkg -L file list"

# --- cmake --install of the same build tree
DESTDIR=$T/dest cmake --install "$RELEASE_BUILD" --prefix /usr >/dev/null
expect_eq "$(cd "$T/dest" && find . -type f | sed 's|^\./||' | sort)" "$want" "cmake --install file list"

echo "$((checks - fails)) passed, $fails failed"
((fails == 0))
