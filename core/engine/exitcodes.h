/*
 * core/engine/exitcodes.h - pgmove's exit codes, one place. Documented in
 * pgmove(1) under EXIT STATUS and in the README.
 */
#ifndef PGMOVE_CORE_EXITCODES_H
#define PGMOVE_CORE_EXITCODES_H

enum pgmove_exit {
	PGMOVE_EXIT_COMPLETED = 0,   /* the run (or command) completed               */
	PGMOVE_EXIT_FAILED = 1,      /* a step failed and the run stopped             */
	PGMOVE_EXIT_USAGE = 2,       /* bad command line or parameters                */
	PGMOVE_EXIT_PAUSED = 3,      /* waiting: approval, resolve, breaker, signal   */
	PGMOVE_EXIT_GATE_FAILED = 4, /* a gate failed and halted the run              */
	PGMOVE_EXIT_ROLLED_BACK = 5, /* the run was rolled back                        */
	PGMOVE_EXIT_RUNBOOK = 6,     /* the runbook is invalid or changed             */
	PGMOVE_EXIT_BUSY = 7,        /* another pgmove process holds the run           */
	PGMOVE_EXIT_INTERNAL = 8     /* environment error: state dir, journal, memory  */
};

#endif
