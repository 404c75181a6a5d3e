/*
 * minisup - the floor for restart latency: fork + execv + waitpid, forever,
 * no throttle, no bookkeeping. SIGTERM/SIGINT: kill the child, reap, exit 0.
 *
 *   minisup PROGRAM [ARGS...]        (gcc -O2 -o minisup minisup.c)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term }; /* no SA_RESTART */
	pid_t child;

	if (argc < 2) {
		fprintf(stderr, "usage: minisup PROGRAM [ARGS...]\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		child = fork();
		if (child < 0) {
			perror("minisup: fork");
			sleep(1);
			continue;
		}
		if (child == 0) {
			execv(argv[1], argv + 1);
			perror("minisup: execv");
			_exit(127);
		}
		if (stop)
			kill(child, SIGTERM);
		while (waitpid(child, NULL, 0) < 0)
			if (errno == EINTR && stop)
				kill(child, SIGTERM);   /* then reap it and leave */
	}
	return 0;
}
