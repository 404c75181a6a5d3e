/*
 * cred.c - key files (cred.h).
 */
#include "cred.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

#define CRED_FILE_MAX 4096

int cred_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= RS_CRED_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

void cred_curve(const rs_cred *c, net_curve *out)
{
	memset(out, 0, sizeof *out);
	strcpy(out->server, c->server);
	strcpy(out->pub, c->pub);
	strcpy(out->sec, c->sec);
}

/* Copies value into out (size n) if it fits. */
static int set_field(char *out, size_t n, const char *value)
{
	if (strlen(value) >= n)
		return -1;
	strcpy(out, value);
	return 0;
}

int cred_parse(const char *text, rs_cred *c, char *err, size_t errsz)
{
	char line[512];
	const char *p = text;
	int lineno = 0;

	memset(c, 0, sizeof *c);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *k, *v, *e;
		int bad = 0;

		lineno++;
		if (len >= sizeof line) {
			snprintf(err, errsz, "line %d: too long", lineno);
			return -EINVAL;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		for (k = line; isspace((unsigned char)*k); k++)
			;
		if (!*k || *k == '#')
			continue;
		v = strchr(k, '=');
		if (!v) {
			snprintf(err, errsz, "line %d: expected KEY = VALUE", lineno);
			return -EINVAL;
		}
		for (e = v; e > k && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		for (v++; isspace((unsigned char)*v); v++)
			;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (strcmp(k, "kind") == 0)
			bad = set_field(c->kind, sizeof c->kind, v);
		else if (strcmp(k, "name") == 0)
			bad = set_field(c->name, sizeof c->name, v);
		else if (strcmp(k, "role") == 0)
			bad = set_field(c->role, sizeof c->role, v);
		else if (strcmp(k, "labels") == 0)
			bad = set_field(c->labels, sizeof c->labels, v);
		else if (strcmp(k, "server-key") == 0)
			bad = !net_key_valid(v) || set_field(c->server, sizeof c->server, v);
		else if (strcmp(k, "public-key") == 0)
			bad = !net_key_valid(v) || set_field(c->pub, sizeof c->pub, v);
		else if (strcmp(k, "secret-key") == 0)
			bad = !net_key_valid(v) || set_field(c->sec, sizeof c->sec, v);
		else {
			snprintf(err, errsz, "line %d: unknown key '%s'", lineno, k);
			return -EINVAL;
		}
		if (bad) {
			snprintf(err, errsz, "line %d: bad value for '%s'%s", lineno, k,
				 strstr(k, "key") ? " (want 40 characters of Z85)" : "");
			return -EINVAL;
		}
	}
	if (c->sec[0]) {
		char pub[NET_KEY_LEN + 1];

		if (net_public_of(c->sec, pub) < 0) {
			snprintf(err, errsz, "secret-key is not a CURVE key");
			return -EINVAL;
		}
		if (c->pub[0] && strcmp(pub, c->pub) != 0) {
			snprintf(err, errsz, "public-key does not belong to secret-key");
			return -EINVAL;
		}
		strcpy(c->pub, pub);
	}
	if (!c->kind[0]) {
		snprintf(err, errsz, "no 'kind' line");
		return -EINVAL;
	}
	return 0;
}

int cred_read(const char *path, rs_cred *c, char *err, size_t errsz)
{
	char buf[CRED_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errsz, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errsz, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 0077) {
		close(fd);
		snprintf(err, errsz, "%s: readable by others (mode %03o); it holds "
			 "a secret key: chmod 600 it", path, st.st_mode & 0777);
		return -EPERM;
	}
	n = read(fd, buf, CRED_FILE_MAX + 1);
	close(fd);
	if (n < 0 || n > CRED_FILE_MAX) {
		snprintf(err, errsz, "%s: %s", path, n < 0 ? strerror(errno) : "too large");
		return n < 0 ? -errno : -EFBIG;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n)) {
		snprintf(err, errsz, "%s: not a text file", path);
		return -EINVAL;
	}
	r = cred_parse(buf, c, err, errsz);
	if (r < 0) {
		char why[256];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errsz, "%s: %s", path, why);
	}
	return r;
}

int cred_format(const rs_cred *c, char *buf, size_t n)
{
	int w = snprintf(buf, n,
			 "# rs %s key file: it holds a secret key, keep it mode 0600\n"
			 "kind = %s\n"
			 "%s%s%s"
			 "%s%s%s"
			 "%s%s%s"
			 "%s%s%s"
			 "%s%s%s"
			 "%s%s%s",
			 c->kind, c->kind,
			 c->name[0] ? "name = " : "", c->name, c->name[0] ? "\n" : "",
			 c->role[0] ? "role = " : "", c->role, c->role[0] ? "\n" : "",
			 c->labels[0] ? "labels = " : "", c->labels, c->labels[0] ? "\n" : "",
			 c->server[0] ? "server-key = " : "", c->server, c->server[0] ? "\n" : "",
			 c->pub[0] ? "public-key = " : "", c->pub, c->pub[0] ? "\n" : "",
			 c->sec[0] ? "secret-key = " : "", c->sec, c->sec[0] ? "\n" : "");

	if (w < 0 || (size_t)w >= n)
		return -ENOSPC;
	return w;
}

int cred_write(const char *path, const rs_cred *c, int excl)
{
	char buf[CRED_FILE_MAX], tmp[4096];
	int fd, r, len;

	len = cred_format(c, buf, sizeof buf);
	if (len < 0)
		return len;
	if (excl && access(path, F_OK) == 0)
		return -EEXIST;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || write(fd, buf, (size_t)len) != len ||
	    fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return r;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}
