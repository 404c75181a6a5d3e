/*
 * rs-keeper - the keeper of one rs-agent state dir (keeper.h). rs-agent
 * starts it (fork + exec of this small program, which maps no ZeroMQ, no
 * protobuf, no HTTP library) when its state dir has none; it is not meant
 * to be run by hand.
 *
 *   rs-keeper --state-dir DIR [--node NAME] --ready-fd N
 *
 * --node: the node it keeps, whose host-wide name it binds (keeper.h);
 * without it (as rs-keeper 0.2.0) it binds none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keeper.h"

int main(int argc, char **argv)
{
	const char *dir = NULL, *node = NULL;
	int fd = -1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--state-dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--node"))
			node = argv[i + 1];
		else if (!strcmp(argv[i], "--ready-fd"))
			fd = atoi(argv[i + 1]);
	}
	if (!dir || fd < 0) {
		fputs("usage: rs-keeper --state-dir DIR [--node NAME] --ready-fd N "
		      "(started by rs-agent)\n", stderr);
		return 2;
	}
	keeper_main(dir, node, fd);
}
