#!/bin/bash
# profile.sh BUILD_DIR - privilege profiles (issue 14, part 3), with real
# processes, real credentials and real mount namespaces:
#  - no_new_privileges: a setuid-root copy of id run by a service as
#    nobody keeps nobody's euid; with --new-privs the same program shows
#    euid 0 (what proves the check can fail);
#  - caps: a service as nobody with --cap net_bind_service has the bit in
#    its effective and ambient sets; without, none;
#  - read_only_root: writing a file in a test dir fails (read-only file
#    system) while the host's stays writable; private_tmp: a file written
#    to /tmp is not in the host's /tmp;
#  - nice and cpus in /proc/PID/stat and Cpus_allowed_list; rsctl edit
#    --nice/--cpus changes them on the same pid;
#  - a failed start says which step failed (its cwd);
#  - an agent without CAP_SYS_ADMIN and CAP_SYS_NICE (started under
#    setpriv with them out of its bounding set: it really lacks them)
#    says so in rsctl nodes; rsd does not place a profile there that
#    needs them (a clear error), and the agent itself refuses a capability
#    it does not hold and a CPU the node does not offer;
#  - describe and export show the profile.
# Skipped (77) when not root, without setpriv, or where the test dir is on
# a nosuid filesystem. Every wait has a deadline; every process is
# killed by pid.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: not root (profiles need an agent as root)"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: no setpriv (util-linux)"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }

test_tmpdir profile
chmod 755 "$TMP"
python3 -c 'import os, sys; sys.exit(1 if os.statvfs(sys.argv[1]).f_flag & os.ST_NOSUID else 0)' "$TMP" ||
    { echo "SKIP: $TMP is on a nosuid filesystem (a setuid program cannot gain there)"; exit 77; }
cp /usr/bin/id "$TMP/suid-id"
chown root:root "$TMP/suid-id"
chmod 4755 "$TMP/suid-id"
python3 -c 'import os, sys; sys.exit(1 if os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY else 0)' "$TMP" ||
    { echo "SKIP: $TMP is read-only"; exit 77; }

NODE=priv-$$
WEAK=privweak-$$
start_cluster "$NODE"
grep -q 'profiles: can apply profile,mount,nice,caps' "$TMP/$NODE.log" ||
    { echo "SKIP: the agent cannot apply every profile: $(grep 'profiles:' "$TMP/$NODE.log")"; exit 77; }
echo "agent: $(grep -o 'profiles: .*' "$TMP/$NODE.log")"

# the facts a service reports, in its log
cat >"$TMP/facts.sh" <<'SH'
#!/bin/sh
echo "euid=$("$T/suid-id" -u) uid=$(id -ru)"
sed -n 's/^\(Cap[A-Za-z]*\):[[:space:]]*/\1=/p' /proc/self/status | tr '\n' ' '; echo
if (echo x >"$T/written.$LABEL") 2>/dev/null; then echo "test-dir=writable"; else echo "test-dir=readonly"; fi
echo "facts-done"
exec sleep 1000
SH
chmod 755 "$TMP/facts.sh"

# logs LABEL: its log; fact LABEL KEY: KEY=VALUE's value in it
logs() { "${RSCTL[@]}" logs "$1" -n 20 2>/dev/null; }
has_facts() { grep -q facts-done <<<"$(logs "$1")"; }
fact() { logs "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -1; }   # the newest
# field LABEL KEY: KEY of LABEL's first instance in rsctl --json status
field() {
    "${RSCTL[@]}" --json status "$1" | python3 -c '
import json, sys
i = json.load(sys.stdin)["services"][0]["instances"][0]
print(i.get(sys.argv[1], ""))' "$2"
}
up() {
    local label=$1; shift
    "${RSCTL[@]}" up "$label" --node "$NODE" --notify simple --settle 0.2 \
        --env "T=$TMP" --env "LABEL=$label" "$@" -- "$TMP/facts.sh" >/dev/null ||
        fail "up $label $*"
    wait_for 10 has_facts "$label" || fail "$label reported nothing: $(logs "$label")"
}

# --- no_new_privileges: the setuid-root id does not make nobody root
up nnp --user nobody --no-new-privs
[ "$(fact nnp euid)" = 65534 ] || fail "with no_new_privileges the setuid id said euid $(fact nnp euid)"
[ "$(fact nnp uid)" = 65534 ] || fail "nnp runs as uid $(fact nnp uid)"
up newprivs --user nobody --new-privs
[ "$(fact newprivs euid)" = 0 ] || fail "with --new-privs the setuid id said euid $(fact newprivs euid), not 0"
echo "no_new_privileges: euid stays 65534 (with --new-privs the same program gets euid 0)"

# --- caps: net_bind_service kept as nobody, effective and ambient
hexbit() { python3 -c 'import sys; print(int(sys.argv[1], 16) >> int(sys.argv[2]) & 1)' "$1" "$2"; }
up capped --user nobody --cap net_bind_service
[ "$(hexbit "$(fact capped CapEff)" 10)" = 1 ] || fail "CapEff $(fact capped CapEff) lacks CAP_NET_BIND_SERVICE"
[ "$(hexbit "$(fact capped CapAmb)" 10)" = 1 ] || fail "CapAmb $(fact capped CapAmb) lacks CAP_NET_BIND_SERVICE"
[ "$(fact capped CapBnd)" = 0000000000000400 ] || fail "its bounding set is $(fact capped CapBnd), not net_bind_service alone"
[ "$(fact nnp CapEff)" = 0000000000000000 ] || fail "without caps a nobody service has CapEff $(fact nnp CapEff)"
echo "caps: CapEff=$(fact capped CapEff) CapAmb=$(fact capped CapAmb) (none without: $(fact nnp CapEff))"

# --- read_only_root and private_tmp
up ro --read-only-root
[ "$(fact ro test-dir)" = readonly ] || fail "read_only_root: the test dir was $(fact ro test-dir) for it"
[ ! -e "$TMP/written.ro" ] || fail "read_only_root: its file is in the test dir"
echo x >"$TMP/host-write" || fail "the host's test dir is no longer writable"
# private_tmp: the test dir is under the host's /tmp, hidden by its own
# tmpfs: this one runs a shell from /bin
MARK=rs-priv-$$
"${RSCTL[@]}" up tmp --node "$NODE" --notify simple --settle 0.2 --private-tmp --read-only-root \
    -- /bin/sh -c "echo x >/tmp/$MARK && echo tmp=writable; echo tmp-entries=\$(ls -A /tmp | wc -l); \
        if (echo x >/var/tmp/$MARK) 2>/dev/null; then echo var-tmp=writable; fi; \
        if (echo x >/etc/$MARK) 2>/dev/null; then echo etc=writable; else echo etc=readonly; fi; \
        echo facts-done; exec sleep 1000" >/dev/null || fail "up tmp"
wait_for 10 has_facts tmp || fail "tmp reported nothing: $(logs tmp)"
[ "$(fact tmp tmp)" = writable ] || fail "private_tmp: /tmp was not writable for it: $(logs tmp)"
[ "$(fact tmp tmp-entries)" = 1 ] || fail "private_tmp: its /tmp holds $(fact tmp tmp-entries) entries, not its own file alone"
[ "$(fact tmp var-tmp)" = writable ] || fail "private_tmp: /var/tmp was not writable for it"
[ "$(fact tmp etc)" = readonly ] || fail "read_only_root: /etc was writable for it"
[ ! -e "/tmp/$MARK" ] && [ ! -e "/var/tmp/$MARK" ] && [ ! -e "/etc/$MARK" ] ||
    fail "private_tmp: its file is in the host's /tmp, /var/tmp or /etc"
echo "read_only_root: EROFS in the test dir while the host writes it; private_tmp: its /tmp is its own"

# --- nice and cpus; edit changes them on the same pid
NCPU=$(nproc)
up sched --nice 5 --cpus 0
P=$(field sched pid)
nice_of() { awk '{ print $19 }' "/proc/$1/stat"; }
cpus_of() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status"; }
[ "$(nice_of "$P")" = 5 ] || fail "nice of pid $P is $(nice_of "$P"), not 5"
[ "$(cpus_of "$P")" = 0 ] || fail "cpus of pid $P are $(cpus_of "$P"), not 0"
last=$((NCPU - 1))
r=$("${RSCTL[@]}" edit sched --nice 7 --cpus "$last") || fail "edit sched: $r"
is_nice() { [ "$(nice_of "$1")" = "$2" ]; }
is_cpus() { [ "$(cpus_of "$1")" = "$2" ]; }
wait_for 5 is_nice "$P" 7 || fail "edit --nice 7: pid $P has nice $(nice_of "$P")"
wait_for 5 is_cpus "$P" "$last" || fail "edit --cpus $last: pid $P has $(cpus_of "$P")"
[ "$(field sched pid)" = "$P" ] || fail "edit restarted sched"
# back to the defaults: nice 0, every CPU the agent may use
r=$("${RSCTL[@]}" edit sched --nice 0 --cpus '') || fail "edit sched back: $r"
ALL=$(cpus_of $$)
wait_for 5 is_nice "$P" 0 || fail "edit --nice 0: pid $P has nice $(nice_of "$P")"
wait_for 5 is_cpus "$P" "$ALL" || fail "edit --cpus '': pid $P has $(cpus_of "$P"), not $ALL"
[ "$(field sched pid)" = "$P" ] || fail "edit restarted sched"
echo "nice 5, cpus 0 at the start; edit --nice 7 --cpus $last, then back to 0 and $ALL, on the same pid $P"

# every thread of the instance, a child process's too
"${RSCTL[@]}" up threads --node "$NODE" --notify simple --settle 0.2 --nice 2 -- python3 -c '
import subprocess, threading, time
subprocess.Popen(["sleep", "1000"])
threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
print("facts-done", flush=True)
time.sleep(1000)' >/dev/null || fail "up threads"
wait_for 10 has_facts threads || fail "threads reported nothing"
P=$(field threads pid)
# (its children only where the instance has a cgroup: without one, the
# keeper reaches the main process's threads)
CG=0; grep -q 'cgroups: a cgroup per instance' "$TMP/$NODE.log" && CG=1
tasks_nice() {   # the nice of every thread of P (and of its children), one a line
    local t c
    for t in /proc/"$1"/task/*/stat; do awk '{ print $19 }' "$t"; done
    [ $CG = 1 ] || return 0
    for c in $(cat /proc/"$1"/task/*/children); do awk '{ print $19 }' /proc/"$c"/stat; done
}
all_nice() { [ "$(tasks_nice "$1" | sort -u)" = "$2" ] && [ "$(tasks_nice "$1" | wc -l)" -ge $((2 + CG)) ]; }
wait_for 5 all_nice "$P" 2 || fail "threads: not every task at nice 2: $(tasks_nice "$P" | tr '\n' ' ')"
r=$("${RSCTL[@]}" edit threads --nice 4) || fail "edit threads: $r"
wait_for 5 all_nice "$P" 4 || fail "edit --nice 4: not every thread and child at 4: $(tasks_nice "$P" | tr '\n' ' ')"
echo "edit --nice 4: every thread and child process of pid $P ($(tasks_nice "$P" | wc -l) tasks)"

# --- describe and export show it
"${RSCTL[@]}" describe capped | grep -q 'Profile.*caps=net_bind_service' ||
    fail "describe does not show the profile: $("${RSCTL[@]}" describe capped)"
"${RSCTL[@]}" export | grep -q 'CAP_NET_BIND_SERVICE' || fail "export does not show the caps"

# --- edit of what needs a new process: stored, said, applied at the next start
P=$(field capped pid)
r=$("${RSCTL[@]}" edit capped --no-caps) || fail "edit capped --no-caps: $r"
next_start() { grep -q "the profile's caps, no_new_privileges, read_only_root and private_tmp apply at the next start" <<<"$("${RSCTL[@]}" events capped)"; }
wait_for 5 next_start || fail "the edit's event does not say the caps apply at the next start: $("${RSCTL[@]}" events capped | tail -2)"
[ "$(field capped pid)" = "$P" ] || fail "edit --no-caps restarted capped"
"${RSCTL[@]}" describe capped | grep -q 'Profile: *none' || fail "describe after --no-caps: $("${RSCTL[@]}" describe capped | grep Profile)"
"${RSCTL[@]}" refresh capped >/dev/null || fail "refresh capped"
no_caps() { [ "$(field capped pid)" != "$P" ] && has_facts capped && [ "$(fact capped CapEff)" = 0000000000000000 ]; }
wait_for 10 no_caps || fail "after refresh capped still has CapEff $(fact capped CapEff)"
echo "edit --no-caps: the event says next start; after refresh CapEff $(fact capped CapEff)"

# --- a failed start says which step failed
"${RSCTL[@]}" up badcwd --node "$NODE" --cwd /nonexistent-$$ --restart never \
    -- /bin/true >/dev/null 2>&1 || true
step_said() { grep -q 'changing to its working directory failed' <<<"$("${RSCTL[@]}" events badcwd)"; }
wait_for 10 step_said || fail "the failed start does not name its step: $("${RSCTL[@]}" events badcwd | tail -3)"
echo "a failed start names its step: $("${RSCTL[@]}" events badcwd | grep -o 'cannot start.*' | head -1)"

# --- an agent without CAP_SYS_ADMIN and CAP_SYS_NICE
bg setpriv --bounding-set=-sys_admin,-sys_nice --inh-caps=-all -- \
    "$BUILD/agent/rs-agent" --node "$WEAK" --rsd "$AGENTS" --state-dir "$TMP/$WEAK" \
    --token-file "$TMP/join.token" --label weak --ready-fd 3 3>"$TMP/$WEAK.ready" 2>"$TMP/$WEAK.log"
wait_for 10 node_up "$WEAK" || fail "agent $WEAK did not register"
grep -q 'profiles: can apply profile,caps (without CAP_SYS_ADMIN' "$TMP/$WEAK.log" ||
    fail "the weak agent's log: $(grep profiles: "$TMP/$WEAK.log")"
grep -q "^$WEAK .*profile,caps *$" <<<"$("${RSCTL[@]}" nodes)" || fail "rsctl nodes: $("${RSCTL[@]}" nodes)"
grep -q "^$NODE .*profile,mount,nice,caps *$" <<<"$("${RSCTL[@]}" nodes)" || fail "rsctl nodes: $("${RSCTL[@]}" nodes)"
out=$("${RSCTL[@]}" up weakro --node "$WEAK" --read-only-root -- /bin/sleep 100 2>&1) &&
    fail "a read-only root was placed on $WEAK: $out"
grep -q "cannot apply the profile of weakro: it needs profile,mount" <<<"$out" || fail "the refusal: $out"
out=$("${RSCTL[@]}" up weaknice --node-label weak --nice -5 -- /bin/sleep 100 2>&1) &&
    fail "a nice below 0 was placed by label on $WEAK: $out"
grep -q "no connected node that matches its placement can apply the profile" <<<"$out" ||
    fail "placement by label: $out"
echo "rsd: $out"
out=$("${RSCTL[@]}" up weakcap --node "$WEAK" --cap sys_admin --no-block -- /bin/sleep 100 2>&1) ||
    fail "up weakcap: $out"
refused() { grep -q "$2" <<<"$("${RSCTL[@]}" events "$1")"; }
wait_for 10 refused weakcap "does not hold CAP_SYS_ADMIN" ||
    fail "the agent did not refuse a capability it lacks: $("${RSCTL[@]}" events weakcap | tail -3)"
out=$("${RSCTL[@]}" up weakcpu --node "$WEAK" --cpus 1000 --no-block -- /bin/sleep 100 2>&1) ||
    fail "up weakcpu: $out"
wait_for 10 refused weakcpu "names CPU 1000, which the node does not offer" ||
    fail "the agent did not refuse a CPU it lacks: $("${RSCTL[@]}" events weakcpu | tail -3)"
echo "agent: $("${RSCTL[@]}" events weakcap | grep -o 'cannot apply.*' | head -1)"

# --- a bad profile: in a manifest names its line and key; nothing applied
cat >"$TMP/bad.yaml" <<EOF
services:
  - label: fine
    command: [/bin/sleep, "100"]
  - label: badprof
    command: [/bin/sleep, "100"]
    profile:
      caps: [net_bind_service, cap_nosuch]
EOF
out=$("${RSCTL[@]}" apply "$TMP/bad.yaml" 2>&1) && fail "a bad profile was applied: $out"
grep -q ":7:.*'cap_nosuch' is not a capability" <<<"$out" || fail "the manifest error: $out"
"${RSCTL[@]}" status fine >/dev/null 2>&1 && fail "a manifest with an error applied its good service"
echo "manifest: $out"
echo "PASS"
