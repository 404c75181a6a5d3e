/*
 * curvemem.c (bench) - what a CURVE handshake buffer costs: libsodium's
 * guarded block (sodium_allocarray + sodium_free as libzmq calls them),
 * the same through rsd's keep (rsd/curvemem.c, linked in here as in
 * rsd), and, as the yardstick measured in the same run, one curve25519
 * multiplication (crypto_box_beforenm: libzmq 4.3.4's server does six a
 * handshake, its short-term key pair's among them). Prints the median of --rounds rounds of --n each, in µs, and
 * the ratios. Pin it (taskset -c 0) to compare with rsd's core.
 *
 * Usage: rs-curvemem [--n 2000] [--rounds 9] [--size 96]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "../rsd/curvemem.h"

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* µs a pair of alloc(1, size), a write of it, free: the mean of n, or
 * a negative value if an allocation failed. */
static double pair_us(void *(*alloc)(size_t, size_t), void (*release)(void *),
		      int n, size_t size)
{
	double t = now_us();

	for (int i = 0; i < n; i++) {
		unsigned char *p = alloc(1, size);

		if (!p)
			return -1;
		memset(p, 1, size);
		release(p);
	}
	return (now_us() - t) / n;
}

int main(int argc, char **argv)
{
	void *(*lib_alloc)(size_t, size_t);
	void (*lib_free)(void *);
	int n = 2000, rounds = 9;
	size_t size = 96;   /* crypto_box_ZEROBYTES + 64: hello, cookie, vouch */
	unsigned char pk[32], sk[32], k[32];
	double lib[64], kept[64], mult[64];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--n"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--size"))
			size = (size_t)atol(argv[i + 1]);
	}
	if (n < 1 || rounds < 1 || rounds > 64 || size < 1) {
		fprintf(stderr, "usage: rs-curvemem [--n N] [--rounds 1-64] [--size BYTES]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	lib_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "sodium_allocarray");
	lib_free = (void (*)(void *))dlsym(RTLD_NEXT, "sodium_free");
	if (!lib_alloc || !lib_free) {
		fprintf(stderr, "rs-curvemem: libsodium's functions not found\n");
		return 1;
	}
	crypto_box_keypair(pk, sk);
	for (int r = 0; r < rounds; r++) {
		double t;

		lib[r] = pair_us(lib_alloc, lib_free, n, size);
		kept[r] = pair_us(sodium_allocarray, sodium_free, n, size);   /* rsd's keep */
		if (lib[r] < 0 || kept[r] < 0)
			return 1;
		t = now_us();
		for (int i = 0; i < n / 10 + 1; i++)
			if (crypto_box_beforenm(k, pk, sk) != 0)
				return 1;
		mult[r] = (now_us() - t) / (n / 10 + 1);
	}
	double l = median(lib, rounds), kp = median(kept, rounds), m = median(mult, rounds);

	printf("a %zu-byte handshake buffer, median of %d rounds:\n", size, rounds);
	printf("  libsodium's guarded block (alloc + free)  %8.2f us\n", l);
	printf("  through rsd's keep (rsd/curvemem.c)       %8.2f us\n", kp);
	printf("  one curve25519 multiplication (baseline)  %8.2f us\n", m);
	printf("ratios: guarded block / multiplication %.2f, kept / guarded %.4f\n",
	       l / m, kp / l);
	printf("a handshake on rsd's side: 6 blocks + 6 multiplications = %.0f us, "
	       "with the keep %.0f us\n", 6 * l + 6 * m, 6 * kp + 6 * m);
	return 0;
}
