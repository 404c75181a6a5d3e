#!/bin/bash
# package.sh BUILD_DIR - cpack -G DEB builds the rsd, rs-agent and rsctl
# packages with the right files and Debian dependencies, and they install
# into a fresh root with dpkg --root; the installed rsctl runs.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
BUILD_SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/rs-pkg.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "SKIP: no dpkg-deb"; exit 77; }
(cd "$TMP" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/out" >/dev/null) \
    || fail "cpack -G DEB"
for p in rsd rs-agent rsctl; do
    ls "$TMP"/out/${p}_*_*.deb >/dev/null 2>&1 || fail "no $p package"
done
contents() { dpkg-deb --contents "$TMP"/out/$1_*.deb | awk '{print $6}'; }
contents rsd | grep -qx './usr/sbin/rsd' || fail "rsd binary missing"
contents rsd | grep -qx './usr/lib/systemd/system/rsd.service' || fail "rsd unit missing"
contents rsd | grep -qx './usr/share/man/man8/rsd.8.gz' || fail "rsd(8) missing"
contents rs-agent | grep -qx './usr/sbin/rs-agent' || fail "rs-agent binary missing"
contents rs-agent | grep -qx './usr/sbin/rs-keeper' || fail "rs-keeper (started by rs-agent) missing"
contents rs-agent | grep -qx './usr/lib/systemd/system/rs-agent.service' || fail "rs-agent unit missing"
contents rsctl | grep -qx './usr/bin/rsctl' || fail "rsctl binary missing"
contents rsctl | grep -qx './usr/share/bash-completion/completions/rsctl' || fail "completion missing"
contents rsctl | grep -qx './usr/share/man/man1/rsctl.1.gz' || fail "rsctl(1) missing"
contents rsctl | grep -qx './usr/share/man/man5/rs-manifest.5.gz' || fail "rs-manifest(5) missing"
contents rs-agent | grep -qx './usr/share/man/man8/rs-agent.8.gz' || fail "rs-agent(8) missing"
contents rs-agent | grep -qx './usr/share/man/man8/rs-keeper.8.gz' || fail "rs-keeper(8) missing"
# every program the packages install has its man page in the same package
for p in rsd rs-agent rsctl; do
    for b in $(contents $p | sed -n 's|^\./usr/s\?bin/||p'); do
        contents $p | grep -q "^\./usr/share/man/man[18]/$b\.[18]\.gz\$" \
            || fail "$p: $b has no man page"
    done
done
# every man page renders without a groff warning
for m in "$BUILD_SRC"/deploy/man/*.[0-9]; do
    w=$(groff -man -ww -z "$m" 2>&1) || fail "groff $m"
    [ -z "$w" ] || fail "groff warns on $(basename "$m"): $w"
done
dpkg-deb --field "$TMP"/out/rsd_*.deb Depends | grep -q libzmq5 || fail "rsd does not depend on libzmq5"
dpkg-deb --field "$TMP"/out/rsd_*.deb Depends | grep -q libmicrohttpd12 || fail "rsd does not depend on libmicrohttpd12"
for p in rsd rs-agent rsctl; do
    contents $p | grep -qx "./usr/share/doc/$p/copyright" || fail "$p: no copyright file"
    contents $p | grep -qx "./usr/share/doc/$p/changelog.gz" || fail "$p: no changelog"
done
dpkg-deb --info "$TMP"/out/rsd_*.deb conffiles | grep -qx /etc/default/rsd \
    || fail "/etc/default/rsd is not a conffile"
# lintian: any error-level tag that deploy/debian/PKG/lintian-overrides
# does not override (with its reason) fails the test
command -v lintian >/dev/null || fail "lintian missing: run deploy/install-deps.sh"
t0=$SECONDS
lintian --no-cfg --fail-on error "$TMP"/out/*.deb >"$TMP/lintian.txt" 2>&1 \
    || { cat "$TMP/lintian.txt" >&2; fail "lintian reports errors"; }
# a program without its man page is only a warning to lintian; not to us
! grep -E 'no-manual-page|binary-without-manpage' "$TMP/lintian.txt" >&2 \
    || fail "lintian: a program without a man page"
echo "lintian: no unexplained error ($((SECONDS - t0)) s); its other findings:"
cat "$TMP/lintian.txt"
# install all three into an empty root
ROOT="$TMP/root"
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates"
touch "$ROOT/var/lib/dpkg/status"
dpkg --root="$ROOT" --force-depends --force-script-chrootless --log=/dev/null \
    -i "$TMP"/out/*.deb >/dev/null 2>&1 || fail "dpkg --root -i"
dpkg --root="$ROOT" -l | grep -qE '^ii +rsd ' || fail "rsd not installed"
[ -x "$ROOT/usr/sbin/rs-agent" ] || fail "rs-agent not installed"
"$ROOT/usr/bin/rsctl" --version | grep -q "0\." || fail "installed rsctl does not run"
w=$(man --warnings -l "$ROOT/usr/share/man/man5/rs-manifest.5.gz" 2>&1 >/dev/null) \
    || fail "man -l rs-manifest.5.gz"
[ -z "$w" ] || fail "installed rs-manifest(5) renders with warnings: $w"
echo "package.sh: 3 packages built, checked and installed into $ROOT"
