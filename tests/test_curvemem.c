/*
 * test_curvemem.c - rsd's keep of libzmq's CURVE handshake buffers
 * (rsd/curvemem.c): what is reused, zeroed, bounded and still guarded,
 * that libzmq's handshakes really come to it, and that the rsd binary
 * exports it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <sodium.h>

#include "../rsd/curvemem.h"

static void fresh(void)
{
	cr_assert_geq(sodium_init(), 0);   /* as libzmq does first */
	curvemem_release_all();
}

TestSuite(curvemem, .init = fresh, .timeout = 30);

Test(curvemem, a_freed_block_is_zeroed_and_reused_for_its_size)
{
	curvemem_stats a, b;
	unsigned char *p, *q, *r;

	curvemem_stats_get(&a);
	p = sodium_allocarray(1, 100);
	cr_assert_not_null(p);
	memset(p, 0xab, 100);
	sodium_free(p);
	curvemem_stats_get(&b);
	cr_assert_eq(b.kept, 1);
	q = sodium_allocarray(1, 100);
	cr_assert_eq(q, p, "the kept block of the same size comes back");
	for (size_t i = 0; i < 100; i++)
		cr_assert_eq(q[i], 0, "byte %zu of a reused block is %#x", i, q[i]);
	r = sodium_allocarray(1, 101);
	cr_assert_not_null(r);
	cr_assert_neq(r, q, "no kept block of another size is handed out");
	curvemem_stats_get(&b);
	cr_assert_eq(b.reused - a.reused, 1);
	cr_assert_eq(b.mapped - a.mapped, 2);
	sodium_free(q);
	sodium_free(r);
	curvemem_stats_get(&b);
	cr_assert_eq(b.kept, 2);
}

Test(curvemem, sizes_are_count_times_size_and_overflow_is_refused)
{
	void *p = sodium_allocarray(4, 25), *q;

	cr_assert_not_null(p);
	sodium_free(p);
	q = sodium_allocarray(1, 100);
	cr_assert_eq(q, p, "4 x 25 and 1 x 100 are the same 100 bytes");
	sodium_free(q);
	errno = 0;
	cr_assert_null(sodium_allocarray(SIZE_MAX / 2, 3));
	cr_assert_eq(errno, ENOMEM);
	sodium_free(NULL);
}

Test(curvemem, the_keep_is_bounded_and_the_rest_goes_back)
{
	void *p[CURVEMEM_KEEP + 5];
	curvemem_stats a, b;

	curvemem_stats_get(&a);
	for (size_t i = 0; i < CURVEMEM_KEEP + 5; i++)
		cr_assert_not_null(p[i] = sodium_allocarray(1, 48));
	for (size_t i = 0; i < CURVEMEM_KEEP + 5; i++)
		sodium_free(p[i]);
	curvemem_stats_get(&b);
	cr_assert_eq(b.kept, CURVEMEM_KEEP);
	cr_assert_eq(b.released - a.released, 5);
}

Test(curvemem, a_block_from_elsewhere_goes_to_libsodium)
{
	curvemem_stats a, b;
	void *p = sodium_malloc(64);   /* libsodium's own: never tracked */

	cr_assert_not_null(p);
	curvemem_stats_get(&a);
	sodium_free(p);
	curvemem_stats_get(&b);
	cr_assert_eq(b.kept, a.kept);
	cr_assert_eq(b.released, a.released);
}

/* freeing a kept block again aborts (libsodium would crash on it too):
 * it must never be handed out twice */
Test(curvemem, a_double_free_aborts, .signal = SIGABRT)
{
	void *p = sodium_allocarray(1, 72);

	cr_assert_not_null(p);
	sodium_free(p);
	sodium_free(p);
}

/* The protection of the page holding addr, as /proc/self/maps' "rwxp". */
static void page_perms(const void *addr, char perms[5])
{
	uintptr_t a = (uintptr_t)addr, lo, hi;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	strcpy(perms, "?");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi)
			break;
		strcpy(perms, "?");
	}
	fclose(f);
}

/* the guard page after a block stays (no access: writing past its end
 * faults), kept and handed out again or not */
Test(curvemem, a_reused_block_keeps_its_guard_page)
{
	unsigned char *p = sodium_allocarray(1, 96), *q;
	char perms[5];

	cr_assert_not_null(p);
	page_perms(p, perms);
	cr_assert_str_eq(perms, "rw-p");
	page_perms(p + 96, perms);
	cr_assert_str_eq(perms, "---p", "the page after a fresh block is %s", perms);
	sodium_free(p);
	q = sodium_allocarray(1, 96);
	cr_assert_eq(q, p);
	page_perms(q, perms);
	cr_assert_str_eq(perms, "rw-p");
	page_perms(q + 96, perms);
	cr_assert_str_eq(perms, "---p", "the page after a reused block is %s", perms);
	sodium_free(q);
}

/* A CURVE server and client in this process (which exports the two
 * functions, as rsd does): after the first handshake, the server's and
 * the client's plaintexts come from kept blocks. */
Test(curvemem, libzmq_handshakes_reuse_the_blocks)
{
	char spub[41], ssec[41], cpub[41], csec[41], ep[64];
	size_t eplen = sizeof ep;
	void *ctx = zmq_ctx_new();
	void *srv = zmq_socket(ctx, ZMQ_ROUTER);
	int one = 1, linger = 0, timeo = 5000;
	curvemem_stats a, b;

	cr_assert_eq(zmq_curve_keypair(spub, ssec), 0, "this libzmq has CURVE");
	cr_assert_eq(zmq_curve_keypair(cpub, csec), 0);
	zmq_setsockopt(srv, ZMQ_CURVE_SERVER, &one, sizeof one);
	zmq_setsockopt(srv, ZMQ_CURVE_SECRETKEY, ssec, 40);
	zmq_setsockopt(srv, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(srv, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
	cr_assert_eq(zmq_bind(srv, "tcp://127.0.0.1:*"), 0);
	zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen);
	curvemem_stats_get(&a);
	for (int i = 0; i < 10; i++) {
		void *cl = zmq_socket(ctx, ZMQ_DEALER);
		char buf[8];

		zmq_setsockopt(cl, ZMQ_CURVE_SERVERKEY, spub, 40);
		zmq_setsockopt(cl, ZMQ_CURVE_PUBLICKEY, cpub, 40);
		zmq_setsockopt(cl, ZMQ_CURVE_SECRETKEY, csec, 40);
		zmq_setsockopt(cl, ZMQ_LINGER, &linger, sizeof linger);
		cr_assert_eq(zmq_connect(cl, ep), 0);
		cr_assert_eq(zmq_send(cl, "hi", 2, 0), 2);
		/* routing id, then the message: the handshake is done */
		cr_assert_gt(zmq_recv(srv, buf, sizeof buf, 0), 0, "%s", zmq_strerror(errno));
		cr_assert_eq(zmq_recv(srv, buf, sizeof buf, 0), 2);
		zmq_close(cl);
	}
	curvemem_stats_get(&b);
	/* 6 of the server's and 5 of the client's blocks a handshake; all
	 * but the first handshake's (and a few of odd sizes) reused */
	cr_assert_geq(b.reused - a.reused, 9 * 6,
		      "%llu reused, %llu mapped in 10 handshakes",
		      (unsigned long long)(b.reused - a.reused),
		      (unsigned long long)(b.mapped - a.mapped));
	zmq_close(srv);
	zmq_ctx_term(ctx);
}

/* rsd itself exports both (a lost linker option would silently put the
 * cost back) */
Test(curvemem, rsd_exports_both_functions)
{
	const char *bin = getenv("RS_BIN_DIR");
	char cmd[4096], line[512];
	int seen = 0;
	FILE *f;

	cr_assert_not_null(bin, "RS_BIN_DIR is set by ctest");
	snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s/rsd/rsd'", bin);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, " T sodium_allocarray\n"))
			seen |= 1;
		if (strstr(line, " T sodium_free\n"))
			seen |= 2;
	}
	cr_assert_eq(pclose(f), 0, "%s failed", cmd);
	cr_assert_eq(seen, 3, "rsd exports %s%s", seen & 1 ? "sodium_allocarray" : "",
		     seen & 2 ? " sodium_free" : "");
}
