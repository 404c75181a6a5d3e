#!/bin/sh
# An example service that speaks sd_notify through systemd-notify, as any
# systemd-aware shell service would: READY=1 with a STATUS=, then a
# WATCHDOG=1 heartbeat every second. Run it with `rsctl up ... --period 2`.
systemd-notify --ready --status="serving since $(date +%T)"
while :; do
    systemd-notify WATCHDOG=1
    sleep 1
done
