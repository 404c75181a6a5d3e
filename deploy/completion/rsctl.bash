# bash completion for rsctl (installed as
# /usr/share/bash-completion/completions/rsctl).
#
# Completes the verbs, each verb's options and their values, labels and
# node names (asked of rsd), and file names after apply and diff. What it
# offers is what ctl/args.c accepts: tests/completion.sh checks it both
# ways. rsd is asked with the -s EP, --cred FILE and --insecure given on
# the line, with `rsctl --json`, and for at most RS_COMPLETION_TIMEOUT
# seconds (default 0.5, killed by coreutils' timeout); when it does not
# answer in time, completion offers nothing from it and prints nothing.

_rsctl_verbs="up down delete refresh restart reload kill shutdown edit update
undo history clone unclone lookup is-running status top describe nodes events logs
apply diff export drain undrain ping cred token upgrade-plan node help"

# _rsctl_options VERB: the options VERB takes besides the global ones.
_rsctl_options()
{
    local spec="--period --ready-timeout --env --cwd --user --keep-caps --restart
        --backoff-initial --backoff-factor --backoff-max --backoff-reset --no-backoff
        --stop-signal --stop-timeout --reload-signal --notify --settle --script
        --critical --listen --fence --liveness --readiness --startup --probe-period
        --probe-timeout --probe-failures --probe-delay --probe-status --probe-header
        --memory-max --memory-high --cpu-weight --cpu-max --pids-max
        --cap --no-new-privs --new-privs --read-only-root --private-tmp --nice --cpus"
    local handover="--maxtime --min-healthy --prepare-signal --no-rollback
        --max-unavailable --canary"
    case $1 in
        up) echo "--node --node-label --no-block --replicas $spec --";;
        edit) echo "$spec --restart-policy --no-keep-caps --no-caps --no-read-only-root
            --no-private-tmp --args --";;
        update) echo "--env $handover --to-revision --batch --args --";;
        undo) echo "$handover";;
        down) echo "--force";;
        delete) echo "--force --keep-events --no-block";;
        refresh|restart|shutdown|apply) echo "--no-block";;
        clone) echo "--node --no-block";;
        kill) echo "-s --signal --main";;
        logs) echo "-n --lines --instance --since -p --previous -f --follow -t --timestamps";;
        events) echo "-n --limit --since -f --follow";;
        status) echo "--node --state -o -w --watch --page-size";;
        top) echo "--node --sort -d -n";;
        nodes) echo "--state --page-size";;
        "cred create") echo "--role --labels";;
        "cred revoke") echo "--node";;
    esac
}

# _rsctl_takes_value OPT VERB: whether OPT takes a value (the next word)
# after VERB ("" before the verb).
_rsctl_takes_value()
{
    case $1 in
        --node) [ "$2" != "cred revoke" ];;
        -s|--cred|--timeout|--node-label|--period|--ready-timeout|--env|--cwd|\
        --user|--restart|--restart-policy|--backoff-initial|--backoff-factor|\
        --backoff-max|--backoff-reset|--stop-signal|--stop-timeout|--reload-signal|\
        --notify|--settle|--script|--replicas|--listen|--fence|--maxtime|\
        --min-healthy|--prepare-signal|--max-unavailable|--to-revision|--signal|\
        --liveness|--readiness|--startup|--probe-period|--probe-timeout|\
        --probe-failures|--probe-delay|--probe-status|--probe-header|\
        --memory-max|--memory-high|--cpu-weight|--cpu-max|--pids-max|\
        --cap|--nice|--cpus|\
        -n|--lines|--limit|--instance|--since|--role|--labels|--state|--page-size|-o|\
        --sort|-d)
            true;;
        *) false;;
    esac
}

# _rsctl_split: the caller's words and cword from COMP_WORDS and
# COMP_LINE up to the cursor, with what bash split at COMP_WORDBREAKS
# (the colons of tcp://HOST:PORT, the = of --opt=VALUE) joined again
# where no blank separated it.
_rsctl_split()
{
    local line=${COMP_LINE:0:COMP_POINT} i w n=-1 blank
    words=() cword=0
    if [ -z "${COMP_LINE-}" ]; then
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
        return
    fi
    for ((i = 0; i <= COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        blank=${line%%[![:space:]]*}
        line=${line#"$blank"}
        ((i == COMP_CWORD)) && w=$line          # up to the cursor
        if [[ $line != "$w"* ]]; then             # lost track: bash's words
            words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
            return
        fi
        line=${line#"$w"}
        if ((n < 0)) || [ -n "$blank" ] || [ -z "$w" ]; then
            words[++n]=$w
        else
            words[n]+=$w
        fi
    done
    cword=$n
}

# _rsctl_unquote WORD: WORD with one pair of surrounding quotes and a
# leading ~/ resolved (nothing else on the line is expanded).
_rsctl_unquote()
{
    local w=$1
    case $w in
        \'*\'|\"*\") w=${w:1:${#w}-2};;
    esac
    case $w in
        "~/"*) w=$HOME/${w#"~/"};;
    esac
    printf '%s' "$w"
}

# _rsctl_ask ARG...: the output of rsctl --json ARG... from the rsd the
# line names (the caller's cmd and conn), or nothing once
# RS_COMPLETION_TIMEOUT seconds have passed.
_rsctl_ask()
{
    local t=${RS_COMPLETION_TIMEOUT:-0.5} bound=()
    type -P timeout >/dev/null 2>&1 && bound=(timeout -k 0.2 "$t")
    "${bound[@]}" "$cmd" "${conn[@]}" --timeout "$t" --json "$@" </dev/null 2>/dev/null
}

# _rsctl_names KEY ARG...: the string values of "KEY" in _rsctl_ask ARG...,
# only those that are valid names (compgen -W expands its words).
_rsctl_names()
{
    local key=$1; shift
    _rsctl_ask "$@" | grep -o "\"$key\":\"[^\"]*\"" | cut -d'"' -f4 |
        grep -xE '[A-Za-z0-9._-]{1,63}'
}

_rsctl_labels() { _rsctl_names label status; }
_rsctl_nodes() { _rsctl_names name nodes; }

# _rsctl_node_labels: the labels of the nodes (rs-agent --label).
_rsctl_node_labels()
{
    _rsctl_ask nodes | grep -o '"labels":\[[^]]*\]' | grep -o '"[^"]*"' |
        tr -d '"' | grep -v '^labels$' | grep -xE '[A-Za-z0-9._-]{1,63}' | sort -u
}

# _rsctl_instances LABEL: the ids of LABEL's instances.
_rsctl_instances()
{
    _rsctl_ask status "$1" | grep -o '"id":[0-9]*' | cut -d: -f2
}

# _rsctl_words LIST CUR: COMPREPLY from LIST's words that start with CUR.
_rsctl_words()
{
    local IFS=$' \t\n'
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2")
}

# _rsctl_files CUR [-d]: COMPREPLY from file (or directory) names.
_rsctl_files()
{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen "${2:--f}" -- "$(_rsctl_unquote "$1")")
}

# _rsctl_value OPT VERB CUR LABEL: COMPREPLY from the values of OPT after
# VERB (LABEL: the verb's first argument). Returns 1 if it takes none.
_rsctl_value()
{
    local opt=$1 verb=$2 cur=$3 signals="HUP INT QUIT ABRT KILL USR1 USR2 PIPE
        ALRM TERM CONT STOP TSTP TTIN TTOU WINCH"
    case $opt in
        -s) if [ "$verb" = kill ]; then _rsctl_words "$signals" "$cur"; else COMPREPLY=(); fi;;
        --signal|--stop-signal|--reload-signal|--prepare-signal)
            _rsctl_words "$signals" "$cur";;
        --state)
            if [ "$verb" = nodes ]; then
                _rsctl_words "unknown up suspect lost fenced" "$cur"
            else
                _rsctl_words "pending starting running stopping exited backoff down failed lost" "$cur"
            fi;;
        -o) _rsctl_words "wide" "$cur";;
        --sort) _rsctl_words "cpu mem tasks" "$cur";;
        --restart|--restart-policy) _rsctl_words "always on-failure never" "$cur";;
        --notify) _rsctl_words "auto notify simple" "$cur";;
        --fence) _rsctl_words "none stop" "$cur";;
        --memory-max|--memory-high|--cpu-weight|--pids-max) _rsctl_words "none" "$cur";;
        --cpu-max) _rsctl_words "50% 100% 200% none" "$cur";;
        --cap) _rsctl_words "net_bind_service net_raw net_admin chown dac_override
            fowner kill setuid setgid sys_nice sys_ptrace sys_time ipc_lock" "$cur";;
        --nice) _rsctl_words "-5 0 5 10 19" "$cur";;
        --role) _rsctl_words "viewer operator admin" "$cur";;
        --node)
            [ "$verb" = "cred revoke" ] && return 1
            if [[ $verb != status && $verb != top && $cur == *,* ]]; then   # N1,N2,...
                mapfile -t COMPREPLY < <(compgen -P "${cur%,*}," -W "$(_rsctl_nodes)" -- "${cur##*,}")
            else
                _rsctl_words "$(_rsctl_nodes)" "$cur"
            fi;;
        --node-label) _rsctl_words "$(_rsctl_node_labels)" "$cur";;
        --batch) _rsctl_words "$(_rsctl_labels)" "$cur";;
        --instance) [ -n "$4" ] && _rsctl_words "$(_rsctl_instances "$4")" "$cur";;
        --cred|--script) _rsctl_files "$cur";;
        --cwd) _rsctl_files "$cur" -d;;
        --user) mapfile -t COMPREPLY < <(compgen -u -- "$cur");;
        *) _rsctl_takes_value "$opt" "$verb" || return 1
           COMPREPLY=();;                 # a number, a time, K=V...: free text
    esac
    return 0
}

# _rsctl_complete: COMPREPLY for words[cword] (the caller's words).
_rsctl_complete()
{
    local cur=${words[cword]} prev=${words[cword-1]} i w v verb="" vi=0
    local verbs=${_rsctl_verbs//$'\n'/ }

    # the verb: the first word that is no global option nor its value
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
            -s|--cred|--timeout) ((i++));;
            -*) ;;
            *) verb=$w vi=$i; break;;
        esac
    done
    # the rsd to ask: -s, --cred, --insecure anywhere on the line (after
    # kill, -s is the signal), before a command's --
    for ((i = 1; i < ${#words[@]}; i++)); do
        ((i == cword)) && continue
        w=${words[i]} v=""
        [ "$w" = -- ] && ((vi && i > vi)) && break
        case $w in
            -s|--cred) ((i + 1 != cword)) && v=$(_rsctl_unquote "${words[i+1]-}"); ((i++));;
            -s?*|--cred=*) v=${w#--cred=}; v=${v#-s}; v=$(_rsctl_unquote "${v#=}");;
            --insecure) conn+=(--insecure); continue;;
            *) if ((vi && i > vi)) && _rsctl_takes_value "$w" "$verb"; then ((i++)); fi
               continue;;
        esac
        [ "$verb" = kill ] && ((i > vi)) && [[ $w == -s* ]] && continue
        [ -n "$v" ] || continue
        case $w in -s*) conn+=(-s "$v");; *) conn+=(--cred "$v");; esac
    done

    if [ -z "$verb" ]; then
        case $prev in
            -s|--timeout) COMPREPLY=(); return;;
            --cred) _rsctl_files "$cur"; return;;
        esac
        case $cur in
            --cred=*) _rsctl_files "${cur#--cred=}"; COMPREPLY=("${COMPREPLY[@]/#/--cred=}");;
            -*) _rsctl_words "-s --cred --insecure --json --timeout -h --help --version" "$cur";;
            *) _rsctl_words "$verbs" "$cur";;
        esac
        return
    fi
    case " $verbs " in *" $verb "*) ;; *) return;; esac

    # two-word verbs and help
    local first=$((vi + 1)) sub=""
    case $verb in
        cred|token|node|help)
            case $verb in
                cred) sub="create list revoke";; token) sub="rotate";;
                node) sub="forget";; help) sub=${verbs/ help/};;
            esac
            if ((cword == vi + 1)); then _rsctl_words "$sub" "$cur"; return; fi
            if [ "$verb" = help ]; then
                case ${words[vi+1]} in
                    cred|token|node) ((cword == vi + 2)) &&
                        verb=${words[vi+1]} && _rsctl_complete_sub;;
                esac
                return
            fi
            verb="$verb ${words[vi+1]}" first=$((vi + 2));;
    esac

    # what comes before cur after the verb: arguments, a command after --
    local args=() cmdat=0 nodeflag=""
    for ((i = first; i < cword; i++)); do
        w=${words[i]}
        case $w in
            --|--args)
                case $verb in
                    up|edit|update) [ "$w" = -- ] && cmdat=$i || cmdat=-1; break;;
                esac
                [ "$w" = -- ] && { for ((i++; i < cword; i++)); do args+=("${words[i]}"); done; break; };;
            -?*)
                [ "$verb" = "cred revoke" ] && [ "$w" = --node ] && nodeflag=1
                [[ $w != *=* && ! ( $w == -[snod]?* ) ]] &&
                    _rsctl_takes_value "$w" "$verb" && ((i++));;
            *) args+=("$w");;
        esac
    done
    if ((cmdat > 0 && cword == cmdat + 1)); then
        mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u); return
    elif ((cmdat)); then
        _rsctl_files "$cur"; return
    fi

    # an option's value: after it, or after --opt=
    if ((cword - 1 >= first)) && [[ $prev == -?* ]] && _rsctl_value "$prev" "$verb" "$cur" "${args[0]-}"; then
        return
    fi
    if [[ $cur == --*=* ]] && _rsctl_value "${cur%%=*}" "$verb" "${cur#*=}" "${args[0]-}"; then
        COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
        return
    fi
    local globals="--cred --insecure --json --timeout -h --help"
    [ "$verb" = kill ] || globals="-s $globals"
    if [[ $cur == -* ]]; then
        _rsctl_words "$(_rsctl_options "$verb") $globals" "$cur"
        return
    fi

    # arguments
    case $verb in
        up|"cred create"|"cred list"|"token rotate"|upgrade-plan|ping|shutdown|nodes) COMPREPLY=();;
        apply|diff) ((${#args[@]} == 0)) && _rsctl_files "$cur";;
        drain|undrain|"node forget") ((${#args[@]} == 0)) && _rsctl_words "$(_rsctl_nodes)" "$cur";;
        "cred revoke") ((${#args[@]} == 0)) && [ -n "$nodeflag" ] && _rsctl_words "$(_rsctl_nodes)" "$cur";;
        status|top|export|update) _rsctl_words "$(_rsctl_labels)" "$cur";;
        *) ((${#args[@]} == 0)) && _rsctl_words "$(_rsctl_labels)" "$cur";;
    esac
}

# _rsctl_complete_sub: help cred|token|node SUB.
_rsctl_complete_sub()
{
    case $verb in
        cred) _rsctl_words "create list revoke" "$cur";;
        token) _rsctl_words "rotate" "$cur";;
        node) _rsctl_words "forget" "$cur";;
    esac
}

_rsctl()
{
    local words cword cmd conn=() rl prefix i
    _rsctl_split
    cmd=${COMP_WORDS[0]}
    [[ $cmd == */* && -x $cmd ]] || cmd=rsctl
    COMPREPLY=()
    _rsctl_complete
    # readline replaces only the text after the last : or = that bash
    # splits at: drop what comes before it from each candidate
    rl=${words[cword]}
    [[ $COMP_WORDBREAKS == *:* ]] && rl=${rl##*:}
    [[ $COMP_WORDBREAKS == *=* ]] && rl=${rl##*=}
    prefix=${words[cword]%"$rl"}
    if [ -n "$prefix" ]; then
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$prefix"}
        done
    fi
    return 0
}
complete -F _rsctl rsctl
