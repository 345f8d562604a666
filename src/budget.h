/* budget: a day's cloud spend, counted against daily caps.
 *
 * The gateway may spend up to a cap per day in total, and up to a cap per
 * day for each client key (a default for every key, and caps for named
 * keys).  budget_check() says whether a client may spend more now;
 * budget_charge() adds a finished request's cost.  Spend is a double in the
 * unit of the backends' prices; a cap of 0 lets nothing through.
 *
 * Days.  A day is a calendar day at a fixed offset from UTC (0 = UTC), so a
 * fleet in one country resets at its local midnight with no time-zone data
 * on the device.  The day only moves forward: a clock set back (a car whose
 * clock reads 1970 until it finds the network) keeps counting into the day
 * already begun instead of reopening a spent one; the first charge or check
 * at a later day starts that day at zero.
 *
 * Blocked.  budget_block() makes every check fail for the rest of the day:
 * the day's spend is unknown (its file is damaged) and the safe guess is
 * that it is spent.  The next day's spend is known (it starts at zero), so
 * the block ends with the day, or when a good state is decoded.
 *
 * The state file.  budget_encode() and budget_decode() are the file's bytes
 * and nothing else (budgetstore.h writes and reads them):
 *
 *     tiergate-budget <version> <length> <crc32, 8 hex digits>\n
 *     {"day":"2026-11-22","total":1.25,"keys":{"kiosk-7":0.5}}\n
 *
 * The header line gives the length and CRC-32 of the rest, so a file cut
 * short at any byte, or with any byte changed, is refused; so is anything
 * but exactly this shape.  The body is JSON so that an operator can read it;
 * numbers are printed so that they read back to the same double.
 *
 * The module is pure: time is an argument (seconds since the epoch), nothing
 * is logged, nothing read or written. */
#ifndef TIERGATE_BUDGET_H
#define TIERGATE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDGET_NO_CAP (-1.0)
#define BUDGET_VERSION 1
/* Keys counted separately; spend of further names still counts in the total. */
#define BUDGET_MAX_KEYS 4096
#define BUDGET_MAX_FILE (1u << 20)

typedef struct budget_key_cap {
    const char *name;
    double cap;                  /* >= 0 */
} budget_key_cap;

typedef struct budget_limits {
    double daily;                /* the total per day, or BUDGET_NO_CAP */
    double per_key_daily;        /* per key per day, or BUDGET_NO_CAP */
    const budget_key_cap *keys;  /* caps for named keys, in place of per_key_daily */
    size_t nkeys;
    int utc_offset_min;          /* where days begin, -720..840 */
} budget_limits;

typedef enum {
    BUDGET_OK = 0,
    BUDGET_TOTAL_SPENT = 1,      /* the day's total cap is reached */
    BUDGET_KEY_SPENT = 2,        /* the client's own cap is reached */
    BUDGET_BLOCKED = 3,          /* budget_block(): today's spend is unknown */
} budget_verdict;

typedef struct budget budget;

/* Copies what it keeps of l.  NULL on out of memory. */
budget *budget_new(const budget_limits *l);
void budget_free(budget *b);
/* New caps (a reloaded configuration); the day's spend is kept.  The UTC
 * offset stays the one budget_new got: moved in mid-day it would start a new
 * day at once (and hand the budget out again) or stretch this one to 36
 * hours.  Returns -1 on out of memory, with the old caps still in force. */
int budget_set_limits(budget *b, const budget_limits *l);

/* Whether client (a key name, or "" without client keys) may spend at now. */
budget_verdict budget_check(const budget *b, const char *client, int64_t now);
const char *budget_verdict_name(budget_verdict v);
/* Adds amount (>= 0) to the total and to client's spend.  Returns -1 when
 * client could not be counted on its own (BUDGET_MAX_KEYS names, or out of
 * memory); the total has it either way. */
int budget_charge(budget *b, const char *client, double amount, int64_t now);
/* The day's spend in total, or of client when it is not NULL. */
double budget_spent(const budget *b, const char *client, int64_t now);
/* The cap that applies to client (NULL: the total), or BUDGET_NO_CAP. */
double budget_cap(const budget *b, const char *client);
/* Blocks the day of now (blocked), or lifts a block. */
void budget_block(budget *b, bool blocked, int64_t now);
/* Whether a block is in force at now. */
bool budget_blocked(const budget *b, int64_t now);

/* The current day as "YYYY-MM-DD" (out has at least 11 bytes). */
void budget_day_label(const budget *b, int64_t now, char *out, size_t cap);
/* Seconds from now until the current day ends (>= 1). */
int64_t budget_seconds_left(const budget *b, int64_t now);
/* True when the last state set (charged or decoded) belongs to a later day
 * than now's clock says: the clock was set back. */
bool budget_clock_behind(const budget *b, int64_t now);
/* Counts every change of the spend or its day, so an owner knows when the
 * state is worth saving. */
uint64_t budget_generation(const budget *b);

/* The state file's bytes for the current day (malloc'd, and NUL-terminated
 * past *len); NULL on out of memory. */
char *budget_encode(const budget *b, int64_t now, size_t *len);
/* Replaces the spend with the state in data.  Returns -1 with err saying what
 * is wrong ("truncated: ...", "CRC mismatch", ...), b unchanged. */
int budget_decode(budget *b, const char *data, size_t len, char *err, size_t errlen);

#endif
