/* test_budgetstore: the state file on a real file system.  A first start
 * writes it, spend is saved by the timer within a second and at the end,
 * and read back; a damaged file with a good previous copy is moved aside
 * and the copy used; no good copy blocks spending and writes nothing until
 * a repair and a reload or the day's end, which moves the damaged file
 * aside at the first save; a missing file with a previous copy uses the copy;
 * a file that cannot be written stops the start, and a save that fails
 * later is retried and reported; --check's verdicts; new caps keep spend. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budgetstore.h"
#include "evloop.h"
#include "testlib.h"

static char dir[64], path[128], prev[160], tmp[160];

static void fresh_dir(void) {
    tl_make_dir(dir, sizeof dir, "budgetstore");
    snprintf(path, sizeof path, "%s/budget.state", dir);
    snprintf(prev, sizeof prev, "%s.prev", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
}

static config_budget cfg_of(double daily) {
    return (config_budget){.enabled = true, .daily = daily, .per_key_daily = BUDGET_NO_CAP, .state_file = path};
}

static char *slurp(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    *len = fread(s, 1, (1 << 16) - 1, f);
    fclose(f);
    return s;
}

static void spit(const char *p, const char *data, size_t len) {
    FILE *f = fopen(p, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
}

static bool exists(const char *p) { return access(p, F_OK) == 0; }

/* The status's "state" and "spent" ("" and -1 when absent). */
static void status_of(budgetstore *s, char *state, size_t cap, double *spent, char *error, size_t ecap) {
    cJSON *o = budgetstore_status(s);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state"), *sp = cJSON_GetObjectItemCaseSensitive(o, "spent");
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(o, "error");
    snprintf(state, cap, "%s", cJSON_IsString(st) ? st->valuestring : "");
    *spent = cJSON_IsNumber(sp) ? sp->valuedouble : -1;
    if (error) snprintf(error, ecap, "%s", cJSON_IsString(er) ? er->valuestring : "");
    cJSON_Delete(o);
}

typedef struct stopper {
    evloop *l;
    evloop_timer t;
} stopper;

static void on_stop(void *ud) { evloop_stop(((stopper *)ud)->l); }

/* Runs the loop for ms. */
static void run_for(evloop *l, uint64_t ms) {
    stopper st = {.l = l};
    evloop_timer_init(&st.t, on_stop, &st);
    evloop_timer_start(l, &st.t, ms);
    evloop_run(l);
}

static void test_first_start_and_saves(void) {
    fresh_dir();
    evloop *l = evloop_new();
    config_budget c = cfg_of(1.0);
    char err[512] = "", state[32];
    double spent;
    budgetstore *s = budgetstore_open(&c, l, NULL, err, sizeof err);
    CHECK(s != NULL);
    /* The first start writes the file, proving it can. */
    CHECK(exists(path));
    status_of(s, state, sizeof state, &spent, NULL, 0);
    CHECK_STR(state, "fresh");
    CHECK(spent == 0);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_OK);
    CHECK(budgetstore_seconds_left(s) >= 1 && budgetstore_seconds_left(s) <= 86400);

    /* A charge is on disk within a second, without an orderly stop. */
    budgetstore_charge(s, "", 0.75);
    budgetstore_charge(s, "", 0);
    size_t len;
    char *before = slurp(path, &len);
    CHECK(before && strstr(before, "\"total\":0,") != NULL);
    free(before);
    run_for(l, 1300);
    char *after = slurp(path, &len);
    CHECK(after && strstr(after, "\"total\":0.75") != NULL);
    free(after);
    CHECK(exists(prev));
    CHECK(!exists(tmp));

    /* The last charge is saved when the store is freed. */
    budgetstore_charge(s, "", 0.25);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_TOTAL_SPENT);
    budgetstore_free(s);
    s = budgetstore_open(&c, l, NULL, err, sizeof err);
    status_of(s, state, sizeof state, &spent, NULL, 0);
    CHECK_STR(state, "loaded");
    CHECK(spent == 1.0);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_TOTAL_SPENT);

    /* New caps keep the spend; another file takes a restart. */
    c.daily = 2.0;
    config_budget other = c;
    other.state_file = prev;
    CHECK_INT(budgetstore_reconfigure(s, &other), 0);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_OK);
    budgetstore_charge(s, "", 0.5);
    budgetstore_free(s);
    s = budgetstore_open(&c, l, NULL, err, sizeof err);
    status_of(s, state, sizeof state, &spent, NULL, 0);
    CHECK(spent == 1.5);
    budgetstore_free(s);

    char msg[512];
    CHECK_INT(budgetstore_check(&c, msg, sizeof msg), 0);
    CHECK(strstr(msg, "loaded") != NULL && strstr(msg, "spent 1.5") != NULL);
    evloop_free(l);
    tl_remove_dir(dir);
}

static void test_damaged_with_prev(void) {
    fresh_dir();
    evloop *l = evloop_new();
    config_budget c = cfg_of(1.0);
    char err[512] = "", state[32], error[256], msg[512];
    double spent;
    budgetstore *s = budgetstore_open(&c, l, NULL, err, sizeof err);
    budgetstore_charge(s, "", 0.5);
    budgetstore_free(s);     /* .prev: 0, file: 0.5 */
    s = budgetstore_open(&c, l, NULL, err, sizeof err);
    budgetstore_charge(s, "", 0.25);
    budgetstore_free(s);     /* .prev: 0.5, file: 0.75 */

    /* A torn file: cut in its body. */
    size_t len;
    char *data = slurp(path, &len);
    spit(path, data, len - 5);
    free(data);
    CHECK_INT(budgetstore_check(&c, msg, sizeof msg), -1);
    CHECK(strstr(msg, "truncated") != NULL && strstr(msg, "previous copy is good") != NULL);

    s = budgetstore_open(&c, l, NULL, err, sizeof err);
    CHECK(s != NULL);
    status_of(s, state, sizeof state, &spent, error, sizeof error);
    CHECK_STR(state, "recovered");
    CHECK(spent == 0.5);
    CHECK(strstr(error, "truncated") != NULL);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_OK);
    /* The damaged file is kept for a person to look at. */
    int kept = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; (e = readdir(d));) kept += strstr(e->d_name, "budget.state.corrupt-") != NULL;
    closedir(d);
    CHECK_INT(kept, 1);
    /* The start wrote a good file again, and the good copy stayed. */
    CHECK_INT(budgetstore_check(&c, msg, sizeof msg), 0);
    budgetstore_free(s);

    /* The file missing (a stop between the renames): the previous copy. */
    unlink(path);
    CHECK_INT(budgetstore_check(&c, msg, sizeof msg), 0);
    CHECK(strstr(msg, "from_prev") != NULL);
    s = budgetstore_open(&c, l, NULL, err, sizeof err);
    status_of(s, state, sizeof state, &spent, NULL, 0);
    CHECK_STR(state, "from_prev");
    CHECK(spent == 0.5);
    budgetstore_free(s);
    evloop_free(l);
    tl_remove_dir(dir);
}

static void test_no_good_copy(void) {
    fresh_dir();
    evloop *l = evloop_new();
    config_budget c = cfg_of(100.0);
    char err[512] = "", state[32], error[256], msg[512];
    double spent;
    static const char garbage[] = "tiergate-budget 1 10 00000000\n{\"day\":1}\n";
    spit(path, garbage, sizeof garbage - 1);
    CHECK_INT(budgetstore_check(&c, msg, sizeof msg), -1);
    CHECK(strstr(msg, "CRC-32 mismatch") != NULL && strstr(msg, "previous copy: missing") != NULL);

    budgetstore *s = budgetstore_open(&c, l, NULL, err, sizeof err);
    CHECK(s != NULL);
    status_of(s, state, sizeof state, &spent, error, sizeof error);
    CHECK_STR(state, "corrupt");
    CHECK(strstr(error, "CRC-32") != NULL);
    /* Blocked, not zero: nothing may be spent, and nothing is written. */
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_BLOCKED);
    budgetstore_charge(s, "", 1.0);
    run_for(l, 1200);
    budgetstore_free(s);
    size_t len;
    char *now = slurp(path, &len);
    CHECK(now && len == sizeof garbage - 1 && memcmp(now, garbage, len) == 0);
    free(now);
    CHECK(!exists(prev));

    /* The previous copy damaged too, the file gone: still blocked. */
    rename(path, prev);
    s = budgetstore_open(&c, l, NULL, err, sizeof err);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_BLOCKED);
    /* An operator removes the files and reloads: a fresh day, unblocked. */
    unlink(prev);
    CHECK_INT(budgetstore_reconfigure(s, &c), 0);
    status_of(s, state, sizeof state, &spent, NULL, 0);
    CHECK_STR(state, "fresh");
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_OK);
    budgetstore_charge(s, "", 1.0);
    budgetstore_free(s);
    CHECK(exists(path));
    evloop_free(l);
    tl_remove_dir(dir);
}

static void test_cannot_write(void) {
    fresh_dir();
    evloop *l = evloop_new();
    config_budget c = cfg_of(1.0);
    char err[512] = "", msg[512], state[32], error[256];
    double spent;

    /* No such directory: refused at start and by --check. */
    char missing[200];
    snprintf(missing, sizeof missing, "%s/nowhere/budget.state", dir);
    c.state_file = missing;
    CHECK(budgetstore_open(&c, l, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "budget.state_file") != NULL && strstr(err, "No such file") != NULL);
    CHECK_INT(budgetstore_check(&c, msg, sizeof msg), -1);
    CHECK(strstr(msg, "not writable") != NULL);

    /* The temporary file's name taken by a directory: the first save fails. */
    c.state_file = path;
    mkdir(tmp, 0700);
    CHECK(budgetstore_open(&c, l, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "cannot be written") != NULL && strstr(err, "write") != NULL);
    rmdir(tmp);

    /* A save that fails later is retried every second and reported. */
    budgetstore *s = budgetstore_open(&c, l, NULL, err, sizeof err);
    mkdir(tmp, 0700);
    budgetstore_charge(s, "", 0.5);
    run_for(l, 1200);
    status_of(s, state, sizeof state, &spent, error, sizeof error);
    CHECK(strstr(error, "Is a directory") != NULL);
    rmdir(tmp);
    run_for(l, 1200);
    status_of(s, state, sizeof state, &spent, error, sizeof error);
    CHECK_STR(error, "");
    size_t len;
    char *data = slurp(path, &len);
    CHECK(data && strstr(data, "\"total\":0.5") != NULL);
    free(data);
    budgetstore_free(s);
    evloop_free(l);
    tl_remove_dir(dir);
}

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

/* A blocked day ends at midnight; the first save of the next one moves the
 * damaged file aside.  A restart on the blocked day stays blocked. */
static void test_block_ends_with_the_day(void) {
    fresh_dir();
    evloop *l = evloop_new();
    config_budget c = cfg_of(10.0);
    c.utc_offset_min = 60;
    char err[512] = "", state[32];
    double spent;
    fake_now = INT64_C(1795341600);    /* 2026-11-22T10:00:00Z, 11:00 at UTC+1 */
    spit(path, "garbage", 7);
    budgetstore *s = budgetstore_open(&c, l, fake_clock, err, sizeof err);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_BLOCKED);
    CHECK_INT(budgetstore_seconds_left(s), 13 * 3600);
    fake_now += 13 * 3600 - 1;
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_BLOCKED);
    budgetstore_free(s);
    s = budgetstore_open(&c, l, fake_clock, err, sizeof err);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_BLOCKED);
    fake_now += 1;
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_OK);
    CHECK_INT(budgetstore_seconds_left(s), 86400);
    /* A reload on the new day, before anything was spent, does not read the
     * damaged file again and block this day too. */
    CHECK_INT(budgetstore_reconfigure(s, &c), 0);
    CHECK_INT(budgetstore_verdict(s, ""), BUDGET_OK);
    budgetstore_charge(s, "", 2.0);
    run_for(l, 1200);
    status_of(s, state, sizeof state, &spent, NULL, 0);
    CHECK_STR(state, "fresh");
    CHECK(spent == 2.0);
    size_t len;
    char *data = slurp(path, &len);
    CHECK(data && strstr(data, "{\"day\":\"2026-11-23\",\"total\":2,") != NULL);
    free(data);
    char kept[256];
    snprintf(kept, sizeof kept, "%s.corrupt-20261122T230000Z", path);
    data = slurp(kept, &len);
    CHECK(data && len == 7 && memcmp(data, "garbage", 7) == 0);
    free(data);
    budgetstore_free(s);
    evloop_free(l);
    tl_remove_dir(dir);
}

int main(void) {
    test_block_ends_with_the_day();
    test_first_start_and_saves();
    test_damaged_with_prev();
    test_no_good_copy();
    test_cannot_write();
    TEST_MAIN_END();
}
