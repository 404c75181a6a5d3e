#!/bin/bash
# options.sh BUILD_DIR - every option rsd and rs-agent accept (the long
# names of their getopt_long table, the letters of its short-option string)
# is in their --help and their man page, and --help lists no option they do
# not accept; rs-keeper's options (keeper_main.c) are in rs-keeper(8) and
# in its usage line. Reads the sources, runs the built binaries; starts no
# daemon.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"

# long_opts FILE: the names of the `struct option opts[]` table in FILE
long_opts() {
    sed -n '/struct option opts\[\] = {/,/};/p' "$1" |
        sed -n 's/^[[:space:]]*{ "\([a-z0-9-]*\)",.*/\1/p'
}
# short_opts FILE: the letters of getopt_long's short-option string
short_opts() {
    sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$1" | tr -d ':' | fold -w1
}
# man_has PAGE OPT: the page names OPT (groff escapes every '-' as \-)
man_has() { grep -qF -- "${2//-/\\-}" "$1"; }
# help_has TEXT OPT: OPT is a word of TEXT
help_has() { grep -qE -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)" <<<"$1"; }

# check PROG SOURCE MANPAGE
check() {
    local prog=$1 src=$SRC/$2 man=$SRC/$3 help o n=0
    help=$("$BUILD/$prog" --help) || fail "$prog --help exits non-zero"
    [ "$(long_opts "$src" | wc -l)" -gt 5 ] || fail "no option table found in $2"
    for o in $(long_opts "$src"); do
        help_has "$help" "--$o" || fail "$prog --help does not list --$o"
        man_has "$man" "--$o" || fail "$3 does not list --$o"
        n=$((n + 1))
    done
    for o in $(short_opts "$src"); do
        help_has "$help" "-$o" || fail "$prog --help does not list -$o"
        man_has "$man" "-$o" || fail "$3 does not list -$o"
        n=$((n + 1))
    done
    # and nothing it does not accept, in the option lines ("  -x, --name")
    for o in $(grep -E '^ {2,6}-' <<<"$help" | grep -oE -- '(^| )--?[a-z][a-z0-9-]*' | tr -d ' '); do
        case $o in
            --*) long_opts "$src" | grep -qx -- "${o#--}" ;;
            *) short_opts "$src" | grep -qx -- "${o#-}" ;;
        esac || fail "$prog --help lists $o, which it does not accept"
    done
    echo "$prog: $n options, all in --help and $3"
}
check rsd/rsd rsd/main.c deploy/man/rsd.8
check agent/rs-agent agent/main.c deploy/man/rs-agent.8

# rs-keeper parses its own few options (it is started by rs-agent only)
usage=$("$BUILD/agent/rs-keeper" 2>&1 >/dev/null) && fail "rs-keeper without options exits 0"
n=0
for o in $(sed -n 's/.*strcmp(argv\[i\], "\(--[a-z-]*\)").*/\1/p' "$SRC/agent/keeper_main.c"); do
    help_has "$usage" "$o" || fail "rs-keeper's usage does not list $o"
    man_has "$SRC/deploy/man/rs-keeper.8" "$o" || fail "rs-keeper.8 does not list $o"
    n=$((n + 1))
done
[ $n -ge 3 ] || fail "found $n rs-keeper options in keeper_main.c"
echo "rs-keeper: $n options, all in its usage and deploy/man/rs-keeper.8"
