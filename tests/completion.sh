#!/bin/bash
# completion.sh BUILD_DIR - rsctl's bash completion
# (deploy/completion/rsctl.bash), driven as bash drives it: COMP_LINE,
# COMP_POINT, and COMP_WORDS split at blanks and at the : and = of
# COMP_WORDBREAKS (tcp://127.0.0.1:7700 is five words), COMP_CWORD the last.
#  - it offers every verb and every option ctl/args.c accepts, after the
#    verbs that take it, and none it does not (read from the sources and
#    rsctl --help), and agrees on which options take a value;
#  - against a real rsd and two agents on ports the OS picked, named only
#    by -s EP --cred FILE on the line being completed: node names after
#    drain, undrain, node forget and --node (N1,N2 lists too), node labels
#    after --node-label, service labels after down, status and --batch,
#    instance ids after logs L --instance; nothing without those options
#    (no RS_CONTROL, RS_CRED or credential in HOME);
#  - files after apply and diff, --state values for status and nodes,
#    -o wide;
#  - with a fake rsctl: the exact arguments it gets (-s, --cred, --insecure
#    in their forms, not kill's -s), and that names rsd sends are
#    checked before compgen sees them (a label "$(touch F)" runs nothing);
#  - with rsd unreachable (tcp://127.0.0.1:1), it returns within 1 s and
#    prints nothing, nor when rsctl is not on PATH.
# Every process it starts is killed by pid on exit; every wait has a deadline.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
test_tmpdir compl
command -v python3 >/dev/null || fail "python3 missing"
RSCTL_BIN=$BUILD/ctl/rsctl

set +u      # completion functions run in the user's shell, without -u
. "$SRC/deploy/completion/rsctl.bash"
complete -p rsctl | grep -q -- '-F _rsctl' || fail "the file does not register _rsctl for rsctl"

# comp LINE: _rsctl as bash runs it with the cursor at the end of LINE;
# COMPREPLY is left set.
comp() {
    local line=$1 tok rest w
    COMP_LINE=$line COMP_POINT=${#line} COMP_WORDS=()
    for tok in $line; do
        rest=$tok
        while [ -n "$rest" ]; do
            [[ $rest =~ ^[:=]+ ]] || [[ $rest =~ ^[^:=]+ ]]
            w=${BASH_REMATCH[0]}
            COMP_WORDS+=("$w")
            rest=${rest#"$w"}
        done
    done
    if [[ $line == *[[:space:]] ]]; then COMP_WORDS+=(""); fi
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _rsctl
}
# member WORD LIST...: WORD is one of LIST
member() {
    local w=$1; shift
    local x
    for x; do [ "$x" = "$w" ] && return 0; done
    return 1
}
# offers WORD...: COMPREPLY holds every WORD; lacks WORD...: none of them
offers() {
    local w
    for w; do member "$w" "${COMPREPLY[@]}" || return 1; done
}
lacks() {
    local w
    for w; do ! member "$w" "${COMPREPLY[@]}" || return 1; done
}
# expect LINE WORD...: completing LINE offers every WORD
expect() {
    local line=$1; shift
    comp "$line" 2>"$TMP/err" || fail "[$line]: _rsctl failed"
    offers "$@" || fail "[$line] offers '${COMPREPLY[*]}', not all of: $*"
    [ ! -s "$TMP/err" ] || fail "[$line] printed: $(cat "$TMP/err")"
}
# expect_none LINE: completing LINE offers nothing
expect_none() {
    comp "$1" 2>"$TMP/err" || fail "[$1]: _rsctl failed"
    [ ${#COMPREPLY[@]} -eq 0 ] || fail "[$1] offers '${COMPREPLY[*]}', expected nothing"
    [ ! -s "$TMP/err" ] || fail "[$1] printed: $(cat "$TMP/err")"
}

# ---- verbs and options against ctl/args.c and rsctl --help -------------

# VERB|OPTION|VALUE lines (VALUE 1: takes a value, 0: a flag, -: not
# known from a table); "VERB||" for a verb; VERB "" for before the verb
python3 - "$SRC/ctl/args.c" >"$TMP/accepted" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
def body(start):
    i = src.index(start)
    return src[i:src.index("\n}", i)]
tables = {}
for m in re.finditer(r'static const opt_def (\w+)\[\] = \{(.*?)\n\};', src, re.S):
    tables[m.group(1)] = re.findall(
        r'\{\s*"([^"]+)",\s*(true|false),\s*\w+,.*?,\s*(\w+)\s*\}', m.group(2))
verbs = re.findall(r'\{\s*"([^"]+)",\s*(RS_V_\w+),\s*LABEL_\w+,\s*(true|false),\s*(\w+),',
                   body("static const verb_def verbs[]"))
assert len(verbs) > 25 and len(tables) > 10, "cannot read the tables of ctl/args.c"
out = set()
glob = [(n, v) for n, v in re.findall(r'opt_match\("([^"]+)", (true|false)', body("static int global_opt("))]
assert len(glob) >= 5
for name, enum, command, opts in verbs:
    out.add((name, "", ""))
    acc = [] if opts == "NULL" else [(n, v) for n, v, _ in tables[opts]]
    if name == "edit":   # verb_opt(): up's options that edit a stored setting
        acc += [(n, v) for n, v, e in tables["up_opts"] if e not in ("0", "RS_EDIT_NODE")]
    if command == "true":
        acc.append(("--", "-"))
    acc += glob + [("-h", "false"), ("--help", "false")]
    for n, v in acc:
        out.add((name, n, "1" if v == "true" else "0" if v == "false" else "-"))
# verb_args(): options matched inline, for the verb the RS_V_ name names
# (or for the verb is_verb() names: status and top share RS_V_STATUS)
for cond in re.findall(r'if \((.*?)\)\s*\{', body("static int verb_args("), re.S):
    enums = re.findall(r'RS_V_(\w+)', cond)
    names = [e.lower().replace("_", "-") for e in enums]
    names += re.findall(r'is_verb\(s, "([^"]+)"\)', cond)
    for o in re.findall(r'strcmp\(a, "(-[^"]+)"\)', cond):
        for name in names:
            assert name in [v[0] for v in verbs], name
            out.add((name, o, "-"))
# top_opt(): top's own options
for n, v in re.findall(r'opt_match\("([^"]+)", (true|false)', body("static int top_opt(")):
    out.add(("top", n, "1" if v == "true" else "0"))
for n, v in glob + [("-h", "false"), ("--help", "false"), ("--version", "false")]:
    out.add(("", n, "1" if v == "true" else "0"))
for t in sorted(out):
    print("|".join(t))
EOF
[ "$(grep -c . "$TMP/accepted")" -gt 150 ] || fail "read too few options: $(wc -l <"$TMP/accepted")"

# the verbs: every one of the table and of rsctl --help at the top, the
# second word of cred/token/node after the first, nothing else
comp "rsctl "
top=("${COMPREPLY[@]}")
in_top() { member "$1" "${top[@]}"; }
while read -r v; do
    in_top "${v%% *}" || fail "'rsctl <TAB>' lacks verb '${v%% *}'"
    if [[ $v == *" "* ]]; then
        expect "rsctl ${v%% *} " "${v#* }"
        expect "rsctl help ${v%% *} " "${v#* }"
    fi
done < <(cut -d'|' -f1 "$TMP/accepted" | grep . | sort -u; echo help)
for v in $("$RSCTL_BIN" --help | sed -n '/^Verbs:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p'); do
    in_top "$v" || fail "rsctl --help lists verb '$v', the completion does not"
done
for v in "${top[@]}"; do
    grep -q "^$v[ |]" "$TMP/accepted" || [ "$v" = help ] ||
        fail "the completion offers verb '$v', which rsctl does not accept"
done
nv=${#top[@]}

# the options of each verb, both ways, and which take a value
no=0
for v in "" $(cut -d'|' -f1 "$TMP/accepted" | sort -u | tr ' ' '+'); do
    v=${v//+/ }
    comp "rsctl ${v:+$v }-"
    for o in $(grep "^$v|-" "$TMP/accepted" | cut -d'|' -f2); do
        offers "$o" || fail "'rsctl $v -<TAB>' lacks $o"
        no=$((no + 1))
    done
    mapfile -t acc < <(grep "^$v|" "$TMP/accepted" | cut -d'|' -f2)
    for o in "${COMPREPLY[@]}"; do
        member "$o" "${acc[@]}" ||
            fail "'rsctl $v -<TAB>' offers $o, which rsctl $v does not accept"
    done
    while IFS='|' read -r _ o val; do
        case $val in
            1) _rsctl_takes_value "$o" "$v" || fail "the completion takes $o of '$v' for a flag";;
            0) ! _rsctl_takes_value "$o" "$v" || fail "the completion takes flag $o of '$v' for an option with a value";;
        esac
    done < <(grep "^$v|-" "$TMP/accepted")
done
echo "completion: $nv verbs, $no verb options, as ctl/args.c accepts them"

# ---- option values and files, without rsd ------------------------------

expect "rsctl status --state " pending starting running stopping exited backoff down failed lost
comp "rsctl status --state "; lacks unknown fenced || fail "status --state offers a node state"
expect "rsctl nodes --state " unknown up suspect lost fenced
expect "rsctl nodes --state=su" suspect
expect "rsctl status -o " wide
expect "rsctl top --sort " cpu mem tasks
comp "rsctl top -"; lacks -o -w --state || fail "top offers status's -o, -w or --state"
expect "rsctl up web --restart " always on-failure never
expect "rsctl edit web --restart-policy=on" on-failure
expect "rsctl up web --notify " auto notify simple
expect "rsctl up web --fence " none stop
expect "rsctl edit web --cpu-max " 50% 200% none
expect "rsctl up web --memory-max " none
expect "rsctl up web --cap net_b" net_bind_service
expect "rsctl edit web --no-r" --no-read-only-root
expect "rsctl up web --read" --read-only-root --readiness
expect "rsctl kill web -s " TERM KILL USR1 HUP
expect "rsctl up web --stop-signal " TERM
expect "rsctl cred create alice --role " viewer operator admin
expect_none "rsctl up "
expect_none "rsctl -s "

mkdir -p "$TMP/files/sub"
touch "$TMP/files/site.yaml" "$TMP/files/site2.yml" "$TMP/files/notes.txt"
expect "rsctl apply $TMP/files/s" "$TMP/files/site.yaml" "$TMP/files/site2.yml" "$TMP/files/sub"
lacks "$TMP/files/notes.txt" || fail "apply $TMP/files/s offers notes.txt"
(cd "$TMP/files" && expect "rsctl diff " site.yaml site2.yml notes.txt sub) || exit 1
(cd "$TMP/files" && expect "rsctl --cred " site.yaml) || exit 1
(cd "$TMP/files" && expect "rsctl --cred=si" site.yaml site2.yml) || exit 1
expect_none "rsctl apply $TMP/files/site.yaml "
echo "completion: option values and file names"

# ---- what rsctl is asked, with a fake rsctl -----------------------------

mkdir "$TMP/bin"
cat >"$TMP/bin/rsctl" <<EOF
#!/bin/bash
printf '%s\n' "\$@" >"$TMP/argv"
case " \$* " in
    *" nodes "*) echo '{"nodes":[{"name":"fake1","labels":["zz"]},{"name":"\$(touch $TMP/pwned)","labels":["\`touch $TMP/pwned\`"]}]}';;
    *" status "*) echo '{"services":[{"label":"fl","instances":[{"id":41}]},{"label":"\$(touch $TMP/pwned)"}]}';;
esac
EOF
chmod +x "$TMP/bin/rsctl"
FAKE=$TMP/bin/rsctl
# asked ARG...: the fake was called with exactly ARG...
asked() {
    [ "$(cat "$TMP/argv")" = "$(printf '%s\n' "$@")" ] ||
        fail "rsctl was called with: $(tr '\n' ' ' <"$TMP/argv"), expected: $*"
}
expect "$FAKE -s tcp://h:1 --cred /c drain " fake1
asked -s tcp://h:1 --cred /c --timeout 0.5 --json nodes
expect "$FAKE -stcp://h:2 --cred=/d --insecure down " fl
asked -s tcp://h:2 --cred /d --insecure --timeout 0.5 --json status
expect "$FAKE kill -s KILL --cred '~/x' -s=tcp://h:3 f" fl
asked --cred "$HOME/x" --timeout 0.5 --json status
expect "$FAKE -s tcp://h:4 kill -s KILL --main --cred /e " fl
asked -s tcp://h:4 --cred /e --timeout 0.5 --json status
expect "$FAKE up web --node-label " zz
expect "$FAKE logs fl --instance " 41
asked --timeout 0.5 --json status fl
[ ! -e "$TMP/pwned" ] || fail "a name from rsd was expanded"
comp "$FAKE down "; [ ${#COMPREPLY[@]} -eq 1 ] || fail "down offers '${COMPREPLY[*]}', not only fl"
echo "completion: rsctl gets -s, --cred and --insecure from the line; rsd's names are checked"

# ---- a real cluster, named only on the line -----------------------------

unset RS_CONTROL RS_CRED RS_INSECURE
export HOME=$TMP/home     # no ~/.config/rs/cred
mkdir -p "$HOME"
start_rsd
unset RS_CRED
CRED=$TMP/admin.cred
RSCTL=("$RSCTL_BIN" -s "$CONTROL" --cred "$CRED")
start_agent cn1 --label zone-a
start_agent cn2 --label zone-b
wait_for 20 node_up cn1 || fail "agent cn1 did not register"
wait_for 20 node_up cn2 || fail "agent cn2 did not register"
"${RSCTL[@]}" up comp-web -- sleep 1000 >/dev/null || fail "up comp-web"
"${RSCTL[@]}" up comp-db -- sleep 1000 >/dev/null || fail "up comp-db"
id=$("${RSCTL[@]}" --json lookup comp-web | sed 's/.*"instance":\([0-9]*\).*/\1/')

export RS_COMPLETION_TIMEOUT=5     # the answers, even on a loaded machine
ON="$RSCTL_BIN -s $CONTROL --cred $CRED"
expect "$ON drain " cn1 cn2
expect "$ON undrain c" cn1 cn2
expect "$ON node forget " cn1 cn2
expect "$ON status --node " cn1 cn2
expect "$ON up x --node cn1," cn1,cn2
expect "$ON clone comp-web --node=cn" cn1 cn2
expect "$ON cred revoke --node " cn1 cn2
expect "$ON up x --node-label " zone-a zone-b
expect "$ON down " comp-web comp-db
expect "$ON down comp-w" comp-web
comp "$ON down comp-w"; lacks comp-db || fail "down comp-w offers comp-db"
expect "$ON status comp-web " comp-db
expect "$ON update comp-web --batch " comp-db
expect "$ON logs comp-web --instance " "$id"
expect "$RSCTL_BIN --cred $CRED describe --json -s $CONTROL " comp-web
expect_none "$ON drain cn1 "
# without the endpoint or the credential on the line: the default
# endpoint, no credential; nothing of this cluster
for line in "$RSCTL_BIN down " "$RSCTL_BIN --cred $CRED down " \
            "$RSCTL_BIN -s $CONTROL down " "$RSCTL_BIN -s $CONTROL drain "; do
    comp "$line" 2>"$TMP/err"
    lacks comp-web comp-db cn1 cn2 || fail "[$line] offers '${COMPREPLY[*]}'"
    [ ! -s "$TMP/err" ] || fail "[$line] printed: $(cat "$TMP/err")"
done
# from the environment, as rsctl takes it
RS_CONTROL=$CONTROL RS_CRED=$CRED expect "$RSCTL_BIN down " comp-web comp-db
echo "completion: node names, node labels, labels and ids from the rsd named on the line"

# ---- rsd unreachable: bounded, silent ------------------------------------

unset RS_COMPLETION_TIMEOUT
for line in "$RSCTL_BIN -s tcp://127.0.0.1:1 --cred $CRED down " \
            "$RSCTL_BIN -s tcp://127.0.0.1:1 --cred $CRED drain " \
            "$RSCTL_BIN -s tcp://127.0.0.1:1 --cred $CRED up x --node cn1,"; do
    t0=$(date +%s%N)
    comp "$line" 2>"$TMP/err"
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ ${#COMPREPLY[@]} -eq 0 ] || fail "[$line] offers '${COMPREPLY[*]}'"
    [ ! -s "$TMP/err" ] || fail "[$line] printed: $(cat "$TMP/err")"
    [ $ms -lt 1000 ] || fail "[$line] took $ms ms"
    echo "completion: unreachable rsd, '${line##* --cred $CRED }': $ms ms, nothing printed"
done
# rsctl not on PATH
mkdir "$TMP/nobin"
if ! PATH=$TMP/nobin:/usr/bin:/bin command -v rsctl >/dev/null; then
    PATH=$TMP/nobin:/usr/bin:/bin expect_none "rsctl -s $CONTROL --cred $CRED down "
fi
echo "completion: ok"
