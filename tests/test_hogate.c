/*
 * test_hogate.c - lib/hogate: every state x event pair against an
 * expected table, and that the two end states are final.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "hogate.h"

#define NONE (-1)   /* not accepted: -EINVAL, nothing changes */

enum { PR = HG_PREPARING, WA = HG_WAIT, HE = HG_HEALTHY, CO = HG_COMMITTED,
       RB = HG_ROLLED_BACK };

struct want {
	int      to;
	unsigned fx;
};

#define AR HG_FX_ARM
#define CM HG_FX_COMMIT
#define RO HG_FX_ROLLBACK
#define ST HG_FX_START
#define NO { NONE, 0 }

static const struct want table[HG__NR][HG_EV__NR] = {
	/*        PREPARED    PREP_TIMEOUT READY       UNREADY     DUE         NEW_GONE    OLD_GONE */
	[PR] = { { WA, ST },  { RB, RO },  NO,         NO,         NO,         NO,         { RB, RO } },
	[WA] = { NO,          NO,          { HE, AR }, { WA, 0 },  NO,         { RB, RO }, { RB, RO } },
	[HE] = { NO,          NO,          NO,         { RB, RO }, { CO, CM }, { RB, RO }, { RB, RO } },
	[CO] = { NO,          NO,          NO,         NO,         NO,         NO,         NO },
	[RB] = { NO,          NO,          NO,         NO,         NO,         NO,         NO },
};

Test(hogate, every_state_and_event)
{
	for (int s = 0; s < HG__NR; s++)
		for (int e = 0; e < HG_EV__NR; e++) {
			const struct want *w = &table[s][e];
			hogate g = { .state = (hogate_state)s };
			unsigned fx = 0xdead;
			int r = hogate_step(&g, (hogate_event)e, &fx);

			if (w->to == NONE) {
				cr_assert_eq(r, -EINVAL, "%s in %s: accepted",
					     hogate_event_to_string((hogate_event)e),
					     hogate_state_to_string((hogate_state)s));
				cr_assert_eq(fx, 0);
				cr_assert_eq(g.state, s);
				cr_assert(!hogate_accepts((hogate_state)s, (hogate_event)e));
				continue;
			}
			cr_assert_eq(r, 0, "%s in %s: refused",
				     hogate_event_to_string((hogate_event)e),
				     hogate_state_to_string((hogate_state)s));
			cr_assert_eq(g.state, w->to, "%s in %s: went to %s",
				     hogate_event_to_string((hogate_event)e),
				     hogate_state_to_string((hogate_state)s),
				     hogate_state_to_string(g.state));
			cr_assert_eq(fx, w->fx, "%s in %s: effects %#x, want %#x",
				     hogate_event_to_string((hogate_event)e),
				     hogate_state_to_string((hogate_state)s), fx, w->fx);
			cr_assert(hogate_allowed((hogate_state)s, g.state));
		}
}

/* the paths the agent takes: a readiness that holds commits; one that
 * fails within min-healthy rolls back, and a late timer changes nothing */
Test(hogate, paths)
{
	hogate g;
	unsigned fx;

	hogate_init(&g);
	cr_assert_eq(g.state, HG_PREPARING);
	cr_assert_eq(hogate_step(&g, HG_EV_READY, &fx), -EINVAL);
	cr_assert_eq(hogate_step(&g, HG_EV_PREPARED, &fx), 0);
	cr_assert_eq(fx, HG_FX_START);
	cr_assert_eq(hogate_step(&g, HG_EV_PREP_TIMEOUT, &fx), -EINVAL);
	cr_assert_eq(hogate_step(&g, HG_EV_UNREADY, &fx), 0);
	cr_assert_eq(g.state, HG_WAIT);
	cr_assert_eq(fx, 0);
	cr_assert_eq(hogate_step(&g, HG_EV_READY, &fx), 0);
	cr_assert_eq(fx, HG_FX_ARM);
	cr_assert_eq(hogate_step(&g, HG_EV_DUE, &fx), 0);
	cr_assert_eq(fx, HG_FX_COMMIT);

	hogate_init(&g);
	cr_assert_eq(hogate_step(&g, HG_EV_PREPARED, &fx), 0);
	cr_assert_eq(hogate_step(&g, HG_EV_READY, &fx), 0);
	cr_assert_eq(hogate_step(&g, HG_EV_UNREADY, &fx), 0);
	cr_assert_eq(fx, HG_FX_ROLLBACK);
	cr_assert_eq(hogate_step(&g, HG_EV_DUE, &fx), -EINVAL);
	cr_assert_eq(fx, 0);
	cr_assert_eq(g.state, HG_ROLLED_BACK);

	/* not prepared in time: rolled back, a late X_RS_PREPARED=1 starts
	 * nothing */
	hogate_init(&g);
	cr_assert_eq(hogate_step(&g, HG_EV_PREP_TIMEOUT, &fx), 0);
	cr_assert_eq(fx, HG_FX_ROLLBACK);
	cr_assert_eq(hogate_step(&g, HG_EV_PREPARED, &fx), -EINVAL);
	cr_assert_eq(fx, 0);
}

Test(hogate, names)
{
	cr_assert_str_eq(hogate_state_to_string(HG_ROLLED_BACK), "rolled-back");
	cr_assert_str_eq(hogate_state_to_string((hogate_state)99), "invalid");
	cr_assert_str_eq(hogate_event_to_string(HG_EV_NEW_GONE), "new-gone");
	cr_assert(!hogate_allowed(HG_COMMITTED, HG_WAIT));
}
