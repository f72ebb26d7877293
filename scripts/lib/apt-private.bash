# Sourced by the scripts that fetch Debian packages or source packages for the tests
# (scripts/kube-bin, scripts/cri-api-proto) without touching the machine's apt configuration: apt
# is pointed at a private sources file derived from the machine's own
# /etc/apt/sources.list.d/debian.sources, and at private list and cache dirs, so the machine's apt
# state is neither changed nor refreshed. Never name a mirror here: the machine's file does.
#
# apt_private DIR [TYPES]: APT_PRIVATE = the apt-get options for private state under DIR, whose
# sources carry TYPES (default "deb deb-src"); fetches the package lists.
apt_private() {
  local dir=$1 types=${2:-deb deb-src} sources=/etc/apt/sources.list.d/debian.sources
  [ -r "$sources" ] || { echo "$sources not found: cannot derive a deb-src entry" >&2; return 1; }
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  sed "s/^Types:.*/Types: $types/" "$sources" >"$dir/weft.sources"
  APT_PRIVATE=(-o "Dir::Etc::SourceList=$dir/weft.sources" -o Dir::Etc::SourceParts=/nonexistent
               -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
               -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${APT_PRIVATE[@]}" -qq update >&2
}
