/*
 * test_opsm.c - lib/opsm: every state x event against an expected table,
 * the update's roll-back at an rsd restart, and every running verb x
 * incoming verb.
 */
#include <criterion/criterion.h>
#include <errno.h>

#include "opsm.h"

#define NO (-1)

/* expect[state][event]: the state it goes to, or NO (refused). */
static const int expect[OP__NR][OP_EV__NR] = {
	/*              RECORDED    SUCCEED   FAIL       TIMEOUT       CANCEL        ROLLBACK        RSD_RESTART */
	[OP_NEW]     = { OP_RUNNING, NO,       NO,        NO,           NO,           NO,             NO },
	[OP_RUNNING] = { NO,         OP_DONE,  OP_FAILED, OP_TIMED_OUT, OP_CANCELLED, OP_ROLLED_BACK, OP_FAILED },
	[OP_DONE]        = { NO, NO, NO, NO, NO, NO, NO },
	[OP_FAILED]      = { NO, NO, NO, NO, NO, NO, NO },
	[OP_TIMED_OUT]   = { NO, NO, NO, NO, NO, NO, NO },
	[OP_CANCELLED]   = { NO, NO, NO, NO, NO, NO, NO },
	[OP_ROLLED_BACK] = { NO, NO, NO, NO, NO, NO, NO },
};

Test(opsm, every_state_and_event, .timeout = 10)
{
	for (int s = 0; s < OP__NR; s++)
		for (int e = 0; e < OP_EV__NR; e++) {
			opsm_state st = (opsm_state)s;
			int r = opsm_step(&st, (opsm_event)e, false);

			if (expect[s][e] == NO) {
				cr_assert_eq(r, -EINVAL, "%s in %s accepted",
					     opsm_event_to_string((opsm_event)e),
					     opsm_state_to_string((opsm_state)s, false));
				cr_assert_eq(st, (opsm_state)s);
				cr_assert(!opsm_accepts((opsm_state)s, (opsm_event)e));
				continue;
			}
			cr_assert_eq(r, 0, "%s in %s refused",
				     opsm_event_to_string((opsm_event)e),
				     opsm_state_to_string((opsm_state)s, false));
			cr_assert_eq((int)st, expect[s][e], "%s in %s went to %s",
				     opsm_event_to_string((opsm_event)e),
				     opsm_state_to_string((opsm_state)s, false),
				     opsm_state_to_string(st, false));
			cr_assert(opsm_allowed((opsm_state)s, st));
		}
}

Test(opsm, open_and_terminal, .timeout = 10)
{
	for (int s = 0; s < OP__NR; s++) {
		bool open = s == OP_RUNNING;

		cr_assert_eq(opsm_open((opsm_state)s), open);
		/* every open operation ends: some event takes it to a
		 * terminal state; a terminal one goes nowhere */
		for (int t = 0; t < OP__NR; t++)
			if (!open && s != OP_NEW)
				cr_assert(!opsm_allowed((opsm_state)s, (opsm_state)t));
		if (open) {
			opsm_state st = (opsm_state)s;
			cr_assert_eq(opsm_step(&st, OP_EV_TIMEOUT, false), 0);
			cr_assert(!opsm_open(st));
		}
	}
	cr_assert(!opsm_open(OP__NR));
	cr_assert(!opsm_accepts(OP__NR, OP_EV_FAIL));
	cr_assert(!opsm_accepts(OP_RUNNING, OP_EV__NR));
}

Test(opsm, update_rolls_back_at_a_restart, .timeout = 10)
{
	opsm_state s = OP_RUNNING;

	cr_assert_eq(opsm_step(&s, OP_EV_RSD_RESTART, true), 0);
	cr_assert_eq(s, OP_ROLLED_BACK);
	cr_assert_str_eq(opsm_state_to_string(OP_DONE, true), "committed");
	cr_assert_str_eq(opsm_state_to_string(OP_DONE, false), "done");
	cr_assert_str_eq(opsm_state_to_string(OP_RUNNING, false), "running");
	cr_assert_str_eq(opsm_state_to_string(OP_TIMED_OUT, false), "timed-out");
	cr_assert_str_eq(opsm_state_to_string(OP__NR, false), "unknown");
	cr_assert_str_eq(opsm_event_to_string(OP_EV_RSD_RESTART), "rsd-restart");
	cr_assert_str_eq(opsm_event_to_string(OP_EV__NR), "unknown");
}

/* Every verb running x every verb arriving on the same label. */
Test(opsm, admit_every_verb_pair, .timeout = 10)
{
	for (int run = 0; run < RS_V__NR; run++)
		for (int in = 0; in < RS_V__NR; in++) {
			opsm_verdict v = opsm_admit((rs_verb)run, (rs_verb)in);
			bool mutates = in == RS_V_UP || in == RS_V_DOWN || in == RS_V_REFRESH ||
				       in == RS_V_RESTART || in == RS_V_EDIT || in == RS_V_CLONE ||
				       in == RS_V_UNCLONE || in == RS_V_UPDATE ||
				       in == RS_V_DELETE;

			cr_assert_eq(opsm_mutates((rs_verb)in), mutates);
			if (!mutates)
				cr_assert_eq(v, OPSM_ADMIT, "%s while %s", rs_verb_to_string((rs_verb)in),
					     rs_verb_to_string((rs_verb)run));
			else if (run == RS_V_UP && in == RS_V_DOWN)
				cr_assert_eq(v, OPSM_CANCELS, "a down cancels a start");
			else
				cr_assert_eq(v, OPSM_BUSY, "%s while %s", rs_verb_to_string((rs_verb)in),
					     rs_verb_to_string((rs_verb)run));
		}
	/* what cli.md promises during an update: busy */
	cr_assert_eq(opsm_admit(RS_V_UPDATE, RS_V_DOWN), OPSM_BUSY);
	cr_assert_eq(opsm_admit(RS_V_UPDATE, RS_V_REFRESH), OPSM_BUSY);
	cr_assert_eq(opsm_admit(RS_V_UPDATE, RS_V_EDIT), OPSM_BUSY);
	cr_assert_eq(opsm_admit(RS_V_UPDATE, RS_V_CLONE), OPSM_BUSY);
	cr_assert_eq(opsm_admit(RS_V_UPDATE, RS_V_UPDATE), OPSM_BUSY);
	/* delete waits for everything, a start too (down cancels that) */
	cr_assert_eq(opsm_admit(RS_V_UP, RS_V_DELETE), OPSM_BUSY);
	cr_assert_eq(opsm_admit(RS_V_DELETE, RS_V_DOWN), OPSM_BUSY);
	cr_assert_eq(opsm_admit(RS_V_DELETE, RS_V_STATUS), OPSM_ADMIT);
}
