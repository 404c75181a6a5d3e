#!/bin/sh
# An example service that speaks sd_notify through systemd-notify, as any
# systemd-aware shell service would: READY=1 with a STATUS=, then a
# WATCHDOG=1 heartbeat every second. Run it with `rsctl up ... --period 2`.
echo "hello: starting (pid $$)"
systemd-notify --ready --status="serving since $(date +%T)"
i=0
while :; do
    systemd-notify WATCHDOG=1
    i=$((i + 1))
    [ $((i % 10)) -eq 0 ] && echo "hello: $i heartbeats"
    sleep 1
done
