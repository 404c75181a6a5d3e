/*
 * sdnotify.h - rs's own daemons as sd_notify clients of *their* supervisor
 * (systemd Type=notify): READY=1, STATUS=, WATCHDOG=1.
 * Owns: nothing but one datagram send per call. Does nothing when
 * NOTIFY_SOCKET is unset.
 */
#ifndef RS_SDNOTIFY_H
#define RS_SDNOTIFY_H

#include <stdint.h>

/* Sends msg (e.g. "READY=1\nSTATUS=serving") to $NOTIFY_SOCKET.
 * Returns 1 if sent, 0 if there is no NOTIFY_SOCKET, negative errno. */
int sdnotify_send(const char *msg);
/* The watchdog interval the supervisor wants (WATCHDOG_USEC, for this
 * pid per WATCHDOG_PID), in ms; 0 if none. */
uint64_t sdnotify_watchdog_ms(void);

#endif
