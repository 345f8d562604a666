/* budgetstore: the spend budget as the running gateway keeps it, in a file
 * that survives a restart and a power cut.
 *
 * It owns a budget (budget.h) and its state file, reads the wall clock, and
 * logs what happens to either.  main owns it across configuration reloads.
 *
 * Writing.  A charge marks the state dirty and a timer saves it within a
 * second; the last save happens when the store is freed (an orderly stop).
 * A power cut or SIGKILL therefore loses at most the spend of the last
 * second.  Saving writes <file>.tmp, fsyncs it, renames <file> to
 * <file>.prev, renames <file>.tmp to <file> and fsyncs the directory, so
 * <file> is always a whole state, and <file>.prev the one before it.
 * Saving costs a few milliseconds of the loop's time (fsync), at most once
 * a second and only while money is being spent.
 *
 * Reading, at start:
 *   <file> good                        its state (origin "loaded")
 *   neither file exists                zero spend, logged ("fresh")
 *   <file> missing, <file>.prev good   the previous copy ("from_prev": a
 *                                      stop between the two renames)
 *   <file> damaged, <file>.prev good   the previous copy, logged as an error;
 *                                      the damaged file is kept as
 *                                      <file>.corrupt-<time> ("recovered")
 *   no good copy                       logged as an error and shown by
 *                                      /readyz; the budget is BLOCKED for the
 *                                      rest of the day (every priced request
 *                                      is treated as over its cap) and
 *                                      nothing is written, until an operator
 *                                      repairs or removes the files and
 *                                      reloads or restarts ("corrupt").  The
 *                                      next day starts at zero as any day
 *                                      does; its first save moves the damaged
 *                                      file aside
 * A damaged file is never silently taken for zero spend. */
#ifndef TIERGATE_BUDGETSTORE_H
#define TIERGATE_BUDGETSTORE_H

#include <stdint.h>

#include "budget.h"
#include "config.h"

struct cJSON;
struct evloop;

typedef struct budgetstore budgetstore;

/* Reads the state (logging what it found), makes sure it can be written
 * (a first save, unless corrupt) and starts saving on loop's timer.  clock
 * gives the seconds since the epoch (NULL: the wall clock; tests pass their
 * own).  NULL with err filled, naming budget.state_file, when the file
 * cannot be written or on out of memory. */
budgetstore *budgetstore_open(const config_budget *cfg, struct evloop *loop, int64_t (*clock)(void), char *err,
                              size_t errlen);
/* Saves what is not saved yet, then frees. */
void budgetstore_free(budgetstore *s);
/* New caps from a reloaded configuration; the spend is kept, and so is the
 * state file (another one takes a restart).  A store that is corrupt reads
 * its file again, so that an operator's repair takes effect.  -1 on out of
 * memory, with the old caps in force. */
int budgetstore_reconfigure(budgetstore *s, const config_budget *cfg);

/* For --check: reads the state file without changing anything and writes a
 * line about it to msg.  Returns -1 when there is no good copy, or the
 * damaged file has a good previous copy (an operator should look). */
int budgetstore_check(const config_budget *cfg, char *msg, size_t msglen);

/* Whether client ("" without client keys) may spend now. */
budget_verdict budgetstore_verdict(const budgetstore *s, const char *client);
/* Seconds until the current budget day ends. */
int64_t budgetstore_seconds_left(const budgetstore *s);
/* Counts a finished request's cost (>= 0; 0 does nothing). */
void budgetstore_charge(budgetstore *s, const char *client, double amount);

/* {"state","day","spent","daily","exhausted"[,"error"]} for /readyz; NULL on
 * out of memory. */
struct cJSON *budgetstore_status(const budgetstore *s);

#endif
