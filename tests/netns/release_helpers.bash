# Shared by the release tests (tests/netns/release_portable.sh, tests/e2e/release_image.sh,
# tests/compat/release_package.sh): where the released artifacts are.
#
# release_tarball: sets TARBALL to the plugin tarball of this tree. $WEFT_RELEASE_DIST (a dist
# dir that scripts/release already filled) is used when set; otherwise scripts/release builds it
# under $WEFT_BUILD (build tree release/, dist dir dist/), a no-op when nothing changed.
release_tarball() {
  local version dist
  version=$("$WEFT_SRC/scripts/release" --print-version)
  RELEASE_VERSION=$version
  if [ -n "${WEFT_RELEASE_DIST:-}" ]; then
    dist=$WEFT_RELEASE_DIST
  else
    dist=${WEFT_BUILD:?}/dist
    "$WEFT_SRC/scripts/release" --build-dir "$WEFT_BUILD/release" --dist-dir "$dist" >"${T:?}/release.log" 2>&1 ||
      { tail -20 "$T/release.log"; echo "FAIL: scripts/release"; exit 1; }
  fi
  RELEASE_DIST=$dist
  RELEASE_BUILD=${WEFT_RELEASE_BUILD:-${WEFT_BUILD:-}/release}
  TARBALL=$dist/weft-cni-plugins-linux-amd64-v$version.tgz
  [ -f "$TARBALL" ] || { echo "FAIL: no $TARBALL"; exit 1; }
  (cd "$dist" && sha256sum -c --quiet "$(basename "$TARBALL").sha256") || { echo "FAIL: checksum of $TARBALL"; exit 1; }
}
