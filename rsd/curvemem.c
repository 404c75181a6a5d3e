/*
 * curvemem.c - libzmq's CURVE handshake buffers, kept for reuse (see
 * curvemem.h).
 */
#include "curvemem.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sodium.h>

struct block {
	void *p;
	size_t size;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *(*real_alloc)(size_t, size_t);
static void (*real_free)(void *);
static struct block kept[CURVEMEM_KEEP];
static unsigned nkept;
static struct block out[CURVEMEM_OUT];   /* p == NULL: a free slot */
static curvemem_stats st;

static void find_real(void)
{
	real_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "sodium_allocarray");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "sodium_free");
}

/* Notes p (size bytes) as handed out; untracked if the table is full,
 * so its sodium_free goes straight to libsodium. Called locked. */
static void track(void *p, size_t size)
{
	for (size_t i = 0; i < CURVEMEM_OUT; i++) {
		if (!out[i].p) {
			out[i] = (struct block){ p, size };
			return;
		}
	}
}

/* libzmq's secure_allocator_t asks sizeof(T) x n. As libsodium's: NULL
 * and ENOMEM when the product overflows. */
void *sodium_allocarray(size_t count, size_t size)
{
	void *p = NULL;
	size_t n;

	pthread_once(&once, find_real);
	if (count > 0 && size >= SIZE_MAX / count) {
		errno = ENOMEM;
		return NULL;
	}
	n = count * size;
	pthread_mutex_lock(&mu);
	for (unsigned i = nkept; i-- > 0;) {
		if (kept[i].size == n) {
			p = kept[i].p;
			kept[i] = kept[--nkept];
			st.reused++;
			track(p, n);
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	if (p)
		return p;
	if (!real_alloc) {
		errno = ENOSYS;
		return NULL;
	}
	p = real_alloc(count, size);
	if (!p)
		return NULL;
	pthread_mutex_lock(&mu);
	st.mapped++;
	track(p, n);
	pthread_mutex_unlock(&mu);
	return p;
}

/* A block handed out above is zeroed and kept while there is room;
 * anything else (untracked, or the keep full) goes to libsodium, which
 * checks its canary, zeroes and unmaps it. A kept block freed again (a
 * double free) aborts, as libsodium's own check would. */
void sodium_free(void *ptr)
{
	size_t size = 0;
	bool found = false, keep = false;

	if (!ptr)
		return;
	pthread_once(&once, find_real);
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < CURVEMEM_OUT; i++) {
		if (out[i].p == ptr) {
			size = out[i].size;
			out[i].p = NULL;
			found = true;
			break;
		}
	}
	if (!found) {
		/* a block kept here freed again: libsodium would crash on
		 * its unmapped canary; handing it out twice would be worse */
		for (unsigned i = 0; i < nkept; i++)
			if (kept[i].p == ptr)
				abort();
	}
	if (found && nkept < CURVEMEM_KEEP) {
		/* zeroed under the lock: the block must not be handed out
		 * again before it is clean */
		sodium_memzero(ptr, size);
		kept[nkept++] = (struct block){ ptr, size };
		keep = true;
	} else if (found) {
		st.released++;
	}
	pthread_mutex_unlock(&mu);
	if (!keep && real_free)
		real_free(ptr);
}

void curvemem_stats_get(curvemem_stats *outp)
{
	pthread_mutex_lock(&mu);
	*outp = st;
	outp->kept = nkept;
	pthread_mutex_unlock(&mu);
}

void curvemem_release_all(void)
{
	struct block b[CURVEMEM_KEEP];
	unsigned n;

	pthread_once(&once, find_real);
	pthread_mutex_lock(&mu);
	n = nkept;
	for (unsigned i = 0; i < n; i++)
		b[i] = kept[i];
	nkept = 0;
	st.released += n;
	pthread_mutex_unlock(&mu);
	for (unsigned i = 0; i < n; i++)
		if (real_free)
			real_free(b[i].p);
}
