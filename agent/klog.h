/*
 * klog.h - the keeper's capture of the services' output (docs/design.md,
 * "Logs"). Each process writes its stdout and stderr into a pipe whose
 * read end the keeper holds; the keeper cuts what it reads into lines,
 * stamps each (lib/logline.h: the time it read the line's first byte and
 * the writer's pid) and appends it to the instance's log. When the next
 * line would take the log past its bound, the keeper renames it to
 * LOG.1 (dropping the old LOG.1) and opens LOG anew: no copy, so no line
 * is lost between a copy and a truncate and neither file passes the
 * bound. The pipe lives in the keeper, so neither an engine restart nor
 * an upgrade of it loses a line.
 *
 * A line is written when its newline comes, when it reaches the line
 * limit (min(KLOG_LINE_MAX, bound / 4): the rest is the next line), or
 * when its process exits (then with a newline added). A process whose
 * pipe is full waits (the service is slowed by a keeper that cannot keep
 * up with the disk, never loses a line to it).
 *
 * Owns: the pipes' read ends, the log files' fds, the partial lines.
 * Must not: know instances, block on anything but a local file write.
 * libc only (rs-keeper links it).
 */
#ifndef RS_KLOG_H
#define RS_KLOG_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KLOG_LINE_MAX  (16u << 10)  /* a longer line is split */

struct klog_pipe;

/* A new pipe for a process whose output goes to the log at path
 * (absolute; opened or created 0640, appended to), rotated before it
 * passes max bytes. Several pipes may write one log (a live update's two
 * processes): they share its fd and its bound. *wfd gets the write end
 * (blocking, close-on-exec: the child dup2s it onto 1 and 2; the caller
 * closes it after the spawn). Returns the pipe, or NULL and errno. */
struct klog_pipe *klog_pipe_new(const char *path, uint64_t max, int *wfd);
/* The pid its lines are stamped with (set once the process exists). */
void klog_pipe_set_pid(struct klog_pipe *p, pid_t pid);
/* Its process has exited: writes what it left in the pipe and its last
 * partial line, then lets go of it (*p = NULL). A pipe another process
 * still holds open stays read until it is closed; p may point to NULL. */
void klog_pipe_release(struct klog_pipe **p);

/* Fills pf (cap entries) with the open pipes; returns how many. */
size_t klog_poll_fill(struct pollfd *pf, size_t cap);
/* Reads the pipes poll found ready (pf, n as klog_poll_fill left them
 * and poll filled them); each at most a fair share per call. */
void klog_poll_done(const struct pollfd *pf, size_t n);
/* How many pipes klog_poll_fill would fill. */
size_t klog_count(void);
/* Drains every pipe, writes every partial line, closes everything. */
void klog_close_all(void);

#endif
