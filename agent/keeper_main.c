/*
 * rs-keeper - the keeper of one rs-agent state dir (keeper.h). rs-agent
 * starts it (fork + exec of this small program, which maps no ZeroMQ, no
 * protobuf, no HTTP library) when its state dir has none; it is not meant
 * to be run by hand.
 *
 *   rs-keeper --state-dir DIR [--node NAME] [--cgroups on|off] --ready-fd N
 *
 * --cgroups off: run services in no cgroup of their own (process groups
 * only, as rs-keeper 0.2.0); so does RS_TEST_NO_CGROUPS=1 in the
 * environment. The default, on: a cgroup per instance if the host has a
 * writable cgroup2 hierarchy (kcgroup.h).
 * --node: the node it keeps, whose host-wide name it binds (keeper.h);
 * without it (as rs-keeper 0.2.0) it binds none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper.h"

int main(int argc, char **argv)
{
	const char *dir = NULL, *node = NULL, *cg_off = NULL;
	int fd = -1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--state-dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--node"))
			node = argv[i + 1];
		else if (!strcmp(argv[i], "--ready-fd"))
			fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--cgroups"))
			cg_off = !strcmp(argv[i + 1], "off") ? "--cgroups=off" : NULL;
	}
	if (!cg_off && getenv("RS_TEST_NO_CGROUPS") &&
	    !strcmp(getenv("RS_TEST_NO_CGROUPS"), "1"))
		cg_off = "RS_TEST_NO_CGROUPS=1";
	if (!dir || fd < 0) {
		fputs("usage: rs-keeper --state-dir DIR [--node NAME] [--cgroups on|off] "
		      "--ready-fd N (started by rs-agent)\n", stderr);
		return 2;
	}
	keeper_main(dir, node, fd, cg_off);
}
