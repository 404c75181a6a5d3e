# bash completion for rsctl
_rsctl()
{
    local cur prev verbs
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    verbs="up down delete refresh reload kill restart shutdown edit update undo history clone unclone status describe lookup is-running nodes events logs apply diff export drain undrain node ping cred token help"
    local i verb=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case " $verbs " in *" ${COMP_WORDS[i]} "*) verb=${COMP_WORDS[i]}; break;; esac
    done
    if [ -z "$verb" ]; then
        COMPREPLY=($(compgen -W "$verbs -s --cred --insecure --json --timeout --help --version" -- "$cur"))
        return
    fi
    # after kill, -s is the signal (before any verb, the endpoint)
    if [ "$verb" = kill ] && [ "$prev" = -s ]; then
        COMPREPLY=($(compgen -W "TERM INT HUP QUIT USR1 USR2 KILL" -- "$cur")); return
    fi
    case $prev in
        --restart|--restart-policy) COMPREPLY=($(compgen -W "always on-failure never" -- "$cur")); return;;
        --notify) COMPREPLY=($(compgen -W "auto notify simple" -- "$cur")); return;;
        --role) COMPREPLY=($(compgen -W "viewer operator admin" -- "$cur")); return;;
        --script|--cwd|--cred) COMPREPLY=($(compgen -f -- "$cur")); return;;
        --stop-signal|--prepare-signal|--reload-signal|--signal) COMPREPLY=($(compgen -W "TERM INT HUP QUIT USR1 USR2 KILL" -- "$cur")); return;;
        --listen|--maxtime|--min-healthy|--max-unavailable) COMPREPLY=(); return;;
    esac
    case $verb in
        up|edit) COMPREPLY=($(compgen -W "--node --period --ready-timeout --no-block --env --cwd --restart --backoff-initial --backoff-factor --backoff-max --backoff-reset --no-backoff --stop-signal --stop-timeout --reload-signal --notify --settle --script --critical --replicas --listen --node-label --user --keep-caps --fence --" -- "$cur"));;
        update) COMPREPLY=($(compgen -W "--args --env --maxtime --min-healthy --prepare-signal --no-rollback --max-unavailable --canary --batch --to-revision --" -- "$cur"));;
        undo) COMPREPLY=($(compgen -W "--maxtime --min-healthy --prepare-signal --no-rollback --max-unavailable --canary" -- "$cur"));;
        history) COMPREPLY=($(compgen -W "--json" -- "$cur"));;
        down) COMPREPLY=($(compgen -W "--force" -- "$cur"));;
        delete) COMPREPLY=($(compgen -W "--keep-events --force --no-block" -- "$cur"));;
        export) COMPREPLY=($(compgen -W "--json" -- "$cur"));;
        kill) COMPREPLY=($(compgen -W "-s --signal --main" -- "$cur"));;
        cred) COMPREPLY=($(compgen -W "create list revoke --role --labels --node" -- "$cur")); return;;
        token) COMPREPLY=($(compgen -W "rotate" -- "$cur")); return;;
        node) COMPREPLY=($(compgen -W "forget" -- "$cur")); return;;
        logs) COMPREPLY=($(compgen -W "--instance -n -f --timestamps --since --previous --json" -- "$cur"));;
        events) COMPREPLY=($(compgen -W "-n -f --since --json" -- "$cur"));;
        describe) COMPREPLY=($(compgen -W "--json" -- "$cur"));;
        status) COMPREPLY=($(compgen -W "--node --state -o --watch -w --page-size --json" -- "$cur"));;
        *) COMPREPLY=();;
    esac
    # labels from rsd, when it answers quickly
    if [[ $cur != -* ]] && [ "$verb" != up ]; then
        COMPREPLY+=($(compgen -W "$(rsctl --timeout 1 --json status 2>/dev/null | grep -o '"label":"[^"]*"' | cut -d'"' -f4)" -- "$cur"))
    fi
}
complete -F _rsctl rsctl
