/* Unit tests of lib/log.c: text lines and --log-format json lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Runs fn with stderr sent to a temp file; returns what it wrote. */
static char *capture(void (*fn)(void))
{
	static char buf[8192];
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t n;

	cr_assert_not_null(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void say_text(void)
{
	log_init("t", LOG_LVL_INFO);
	log_set_json(0);
	log_debug("hidden %d", 1);
	log_info("hello %s", "world");
	errno = ENOENT;
	log_warn("open %s", "x");
}

static void say_json(void)
{
	log_init("t", LOG_LVL_INFO);
	log_set_json(1);
	log_info("quote \" backslash \\ newline \n tab \t end");
	errno = EACCES;
	log_warn("open");
	log_set_json(0);
}

Test(log, text_lines, .timeout = 10)
{
	char *out = capture(say_text);

	cr_assert_null(strstr(out, "hidden"));
	cr_assert(strstr(out, " info t: hello world\n"), "%s", out);
	cr_assert(strstr(out, " warn t: open x: No such file or directory\n"), "%s", out);
}

Test(log, json_lines_parse, .timeout = 10)
{
	char *out = capture(say_json), *save = NULL;
	int lines = 0;

	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *j = json_loads(l, 0, &e);

		cr_assert_not_null(j, "not JSON: %s (%s)", l, e.text);
		cr_assert_str_eq(json_string_value(json_object_get(j, "prog")), "t");
		if (lines == 0)
			cr_assert_str_eq(json_string_value(json_object_get(j, "msg")),
					 "quote \" backslash \\ newline \n tab \t end");
		else
			cr_assert_str_eq(json_string_value(json_object_get(j, "error")),
					 "Permission denied");
		json_decref(j);
		lines++;
	}
	cr_assert_eq(lines, 2);
}
