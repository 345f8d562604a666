/* budgetstore: the budget, its state file and its timer; see budgetstore.h.
 *
 * Why a previous copy.  rename() makes each save atomic on any POSIX file
 * system, and the fsyncs order the data before the name, so a torn <file>
 * should not happen; it still does (a file system without ordering, a card
 * that lies about flushes, an operator's editor, a disk error).  Keeping the
 * previous state costs one rename per save and turns such damage into the
 * loss of about a second of spend instead of a choice between guessing zero
 * and refusing to work.  Renames rather than hard links, because the SD
 * cards of cars and kiosks are often FAT, which has none.
 *
 * Why blocked rather than zero or a refusal to start.  Zero would hand out a
 * day's budget again; refusing to start would take the device tier down with
 * the cloud's accounting.  Blocked keeps the free tiers answering and spends
 * nothing until a person has looked.
 *
 * Why the first save at start.  A state file that cannot be written would
 * make every restart forget the day's spend; finding that out at start, with
 * the file named, beats finding it out on the bill. */
#include "budgetstore.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

#define SAVE_DELAY_MS 1000

typedef enum { ORIGIN_FRESH, ORIGIN_LOADED, ORIGIN_FROM_PREV, ORIGIN_RECOVERED, ORIGIN_CORRUPT } origin;

static const char *const origin_names[] = {"fresh", "loaded", "from_prev", "recovered", "corrupt"};

struct budgetstore {
    budget *b;
    char *path, *prev, *tmp;
    int dirfd;
    bool main_good;              /* <file> holds a good state: a save may move it to .prev */
    origin from;
    char problem[256];           /* why the state file was not read, or "" */
    char save_error[256];        /* why the last save failed, or "" */
    uint64_t saved;              /* budget_generation() at the last save */
    struct evloop *loop;
    evloop_timer timer;
    int64_t (*clock)(void);
};

static int64_t wall_clock(void) { return (int64_t)time(NULL); }

/* ---- reading ---- */

/* Reads path into *data: 1, or 0 when it does not exist, or -1 with err. */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen) {
    *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot read: %s", strerror(errno));
        goto err;
    }
    if (st.st_size > (off_t)BUDGET_MAX_FILE) {
        snprintf(err, errlen, "larger than %u bytes", BUDGET_MAX_FILE);
        goto err;
    }
    if (!(*data = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    *len = 0;
    for (ssize_t n; *len < (size_t)st.st_size; *len += (size_t)n)
        if ((n = read(fd, *data + *len, (size_t)st.st_size - *len)) <= 0) {
            snprintf(err, errlen, "cannot read: %s", n < 0 ? strerror(errno) : "file shrank while read");
            goto err;
        }
    close(fd);
    return 1;
err:
    free(*data);
    *data = NULL;
    if (fd >= 0) close(fd);
    return -1;
}

/* Reads and decodes path into b: 1, 0 when missing, -1 with err. */
static int load_file(budget *b, const char *path, char *err, size_t errlen) {
    char *data;
    size_t len;
    int rc = read_file(path, &data, &len, err, errlen);
    if (rc == 1 && budget_decode(b, data, len, err, errlen) < 0) rc = -1;
    free(data);
    return rc;
}

/* Which copy b now holds; problem says what was wrong with <file>. */
static origin load_state(budget *b, const char *path, const char *prev, char *problem, size_t cap) {
    char perr[200];
    problem[0] = '\0';
    int main_rc = load_file(b, path, problem, cap);
    if (main_rc == 1) return ORIGIN_LOADED;
    int prev_rc = load_file(b, prev, perr, sizeof perr);
    if (main_rc == 0 && prev_rc == 0) return ORIGIN_FRESH;
    if (prev_rc == 1) return main_rc == 0 ? ORIGIN_FROM_PREV : ORIGIN_RECOVERED;
    size_t n = strlen(problem);
    snprintf(problem + n, cap - n, "%s; previous copy: %s", n ? "" : "missing", prev_rc == 0 ? "missing" : perr);
    return ORIGIN_CORRUPT;
}

/* ---- writing ---- */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int save(budgetstore *s, char *err, size_t errlen) {
    size_t len;
    char *data = budget_encode(s->b, s->clock(), &len);
    const char *step = "out of memory";
    int fd = -1;
    errno = ENOMEM;
    if (!data) goto err;
    step = "write";
    fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) goto err;
    step = "close";
    int rc = close(fd);
    fd = -1;
    if (rc < 0) goto err;
    step = "keep previous copy";
    if (s->main_good && rename(s->path, s->prev) < 0 && errno != ENOENT) goto err;
    step = "rename";
    if (rename(s->tmp, s->path) < 0) goto err;
    step = "sync directory";
    if (fsync(s->dirfd) < 0) goto err;
    free(data);
    s->main_good = true;
    return 0;
err:
    snprintf(err, errlen, "%s: %s: %s", s->path, step, strerror(errno));
    if (fd >= 0) close(fd);
    free(data);
    return -1;
}

/* Moves a damaged <file> aside, for a person to look at, before a good
 * state replaces it; kept (cap bytes) says where it went, or why not. */
static void keep_damaged(const budgetstore *s, char *kept, size_t cap) {
    char stamp[32];
    time_t t = (time_t)s->clock();
    struct tm tm;
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
    snprintf(kept, cap, "%s.corrupt-%s", s->path, stamp);
    if (rename(s->path, kept) < 0) snprintf(kept, cap, "(not moved: %s)", strerror(errno));
}

/* A blocked day has ended: the new one's spend is known, so saving resumes. */
static void end_block(budgetstore *s) {
    char kept[512];
    keep_damaged(s, kept, sizeof kept);
    cJSON *o = log_begin("warn", "budget: the blocked day is over; the new day's spend is saved again");
    if (o) cJSON_AddStringToObject(o, "damaged_file_kept_as", kept);
    log_end(o);
    s->from = ORIGIN_FRESH;
    s->problem[0] = '\0';
}

/* Saves when something changed; logs a failure once, and the recovery. */
static void save_if_changed(budgetstore *s) {
    uint64_t gen = budget_generation(s->b);
    if (gen == s->saved || budget_blocked(s->b, s->clock())) return;
    if (s->from == ORIGIN_CORRUPT) end_block(s);
    char err[sizeof s->save_error];
    if (save(s, err, sizeof err) == 0) {
        s->saved = gen;
        if (s->save_error[0]) log_msg("info", "budget state saved again");
        s->save_error[0] = '\0';
        return;
    }
    if (strcmp(err, s->save_error) != 0) {
        cJSON *o = log_begin("error", "budget state not saved; retrying every second");
        if (o) cJSON_AddStringToObject(o, "error", err);
        log_end(o);
    }
    snprintf(s->save_error, sizeof s->save_error, "%s", err);
    evloop_timer_start(s->loop, &s->timer, SAVE_DELAY_MS);
}

static void on_timer(void *ud) { save_if_changed(ud); }

/* ---- opening ---- */

static char *joined(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* The directory of path, opened for fsync. */
static int open_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    return fd;
}

/* The budget's limits from cfg; keys is a scratch array for the caller to free. */
static int limits_of(const config_budget *cfg, budget_limits *l, budget_key_cap **keys) {
    *keys = cfg->nkeys ? calloc(cfg->nkeys, sizeof **keys) : NULL;
    if (cfg->nkeys && !*keys) return -1;
    for (size_t i = 0; i < cfg->nkeys; i++) (*keys)[i] = (budget_key_cap){cfg->keys[i].name, cfg->keys[i].daily};
    *l = (budget_limits){cfg->daily, cfg->per_key_daily, *keys, cfg->nkeys, cfg->utc_offset_min};
    return 0;
}

static budget *budget_for(const config_budget *cfg) {
    budget_limits l;
    budget_key_cap *keys;
    if (limits_of(cfg, &l, &keys) < 0) return NULL;
    budget *b = budget_new(&l);
    free(keys);
    return b;
}

/* Logs what load_state found; a damaged <file> is moved aside first. */
static void report_load(budgetstore *s) {
    static const char *const level[] = {"info", "info", "warn", "error", "error"};
    static const char *const msg[] = {
        "budget state file not found: the day's spend starts at zero",
        "budget state loaded",
        "budget state file missing: its previous copy was loaded",
        "budget state file damaged: its previous copy was loaded",
        ("budget state file damaged and no good previous copy: priced backends are blocked for the rest "
         "of the day, or until an operator repairs or removes the file (see docs/operations.md)"),
    };
    char kept[512] = "";
    if (s->from == ORIGIN_RECOVERED) keep_damaged(s, kept, sizeof kept);
    char day[16];
    int64_t now = s->clock();
    cJSON *o = log_begin(level[s->from], msg[s->from]);
    if (o) {
        budget_day_label(s->b, now, day, sizeof day);
        cJSON_AddStringToObject(o, "file", s->path);
        cJSON_AddStringToObject(o, "day", day);
        cJSON_AddNumberToObject(o, "spent", budget_spent(s->b, NULL, now));
        if (s->problem[0]) cJSON_AddStringToObject(o, "error", s->problem);
        if (kept[0]) cJSON_AddStringToObject(o, "damaged_file_kept_as", kept);
    }
    log_end(o);
    if (budget_clock_behind(s->b, now))
        log_msg("warn", "the clock is behind the budget state's day: spend keeps counting into that day");
}

/* Reads the state into s->b and blocks the budget when there is no good copy. */
static void load(budgetstore *s) {
    s->from = load_state(s->b, s->path, s->prev, s->problem, sizeof s->problem);
    s->main_good = s->from == ORIGIN_LOADED;
    budget_block(s->b, s->from == ORIGIN_CORRUPT, s->clock());
    report_load(s);
}

budgetstore *budgetstore_open(const config_budget *cfg, struct evloop *loop, int64_t (*clock)(void), char *err,
                              size_t errlen) {
    assert(cfg->enabled && cfg->state_file);
    budgetstore *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->dirfd = -1;
    s->loop = loop;
    s->clock = clock ? clock : wall_clock;
    evloop_timer_init(&s->timer, on_timer, s);
    if (!(s->b = budget_for(cfg)) || !(s->path = strdup(cfg->state_file)) ||
        !(s->prev = joined(cfg->state_file, ".prev")) || !(s->tmp = joined(cfg->state_file, ".tmp")))
        goto oom;
    if ((s->dirfd = open_dir(s->path)) < 0) {
        snprintf(err, errlen, "budget.state_file: the directory of %s: %s", s->path, strerror(errno));
        goto err;
    }
    load(s);
    s->saved = budget_generation(s->b);
    if (s->from != ORIGIN_CORRUPT) {
        char why[256];
        if (save(s, why, sizeof why) < 0) {
            snprintf(err, errlen, "budget.state_file: cannot be written: %s", why);
            goto err;
        }
    }
    return s;
oom:
    snprintf(err, errlen, "budget: out of memory");
err:
    budgetstore_free(s);
    return NULL;
}

void budgetstore_free(budgetstore *s) {
    if (!s) return;
    if (s->dirfd >= 0) {
        save_if_changed(s);
        evloop_timer_stop(s->loop, &s->timer);
        close(s->dirfd);
    }
    budget_free(s->b);
    free(s->path);
    free(s->prev);
    free(s->tmp);
    free(s);
}

int budgetstore_reconfigure(budgetstore *s, const config_budget *cfg) {
    budget_limits l;
    budget_key_cap *keys;
    int rc = limits_of(cfg, &l, &keys) < 0 ? -1 : budget_set_limits(s->b, &l);
    free(keys);
    /* On the blocked day a reload reads the file again (an operator may have
     * repaired it); after it, the block is over and the damaged file only
     * waits to be moved aside, so reading it again would block a new day. */
    if (rc == 0 && s->from == ORIGIN_CORRUPT) {
        if (budget_blocked(s->b, s->clock())) load(s);
        else end_block(s);
    }
    return rc;
}

int budgetstore_check(const config_budget *cfg, char *msg, size_t msglen) {
    char *prev = joined(cfg->state_file, ".prev");
    budget *b = budget_for(cfg);
    int rc = -1;
    if (!prev || !b) {
        snprintf(msg, msglen, "budget: out of memory");
        goto done;
    }
    char problem[256], day[16];
    origin from = load_state(b, cfg->state_file, prev, problem, sizeof problem);
    int64_t now = wall_clock();
    budget_day_label(b, now, day, sizeof day);
    if (from == ORIGIN_CORRUPT || from == ORIGIN_RECOVERED) {
        snprintf(msg, msglen, "budget.state_file: %s: %s%s", cfg->state_file, problem,
                 from == ORIGIN_RECOVERED ? " (its previous copy is good and would be used)" : "");
        goto done;
    }
    int dirfd = open_dir(cfg->state_file);
    bool writable = dirfd >= 0 && faccessat(dirfd, ".", W_OK, AT_EACCESS) == 0;
    if (dirfd >= 0) close(dirfd);
    if (!writable) {
        snprintf(msg, msglen, "budget.state_file: %s: its directory is not writable", cfg->state_file);
        goto done;
    }
    snprintf(msg, msglen, "budget state %s (%s): day %s, spent %g", origin_names[from], cfg->state_file, day,
             budget_spent(b, NULL, now));
    rc = 0;
done:
    budget_free(b);
    free(prev);
    return rc;
}

/* ---- spending ---- */

budget_verdict budgetstore_verdict(const budgetstore *s, const char *client) {
    return budget_check(s->b, client, s->clock());
}

int64_t budgetstore_seconds_left(const budgetstore *s) { return budget_seconds_left(s->b, s->clock()); }

/* Logs a cap that this charge reached. */
static void log_reached(const budgetstore *s, const char *client, double before, double after, int64_t now) {
    double cap = budget_cap(s->b, client);
    if (cap < 0 || before >= cap || after < cap) return;
    cJSON *o = log_begin("warn", client ? "budget: a client key reached its daily cap"
                                        : "budget: the daily cap is reached");
    if (!o) return;
    char day[16];
    budget_day_label(s->b, now, day, sizeof day);
    cJSON_AddStringToObject(o, "day", day);
    if (client) cJSON_AddStringToObject(o, "client", client);
    cJSON_AddNumberToObject(o, "spent", after);
    cJSON_AddNumberToObject(o, "cap", cap);
    log_end(o);
}

void budgetstore_charge(budgetstore *s, const char *client, double amount) {
    int64_t now = s->clock();
    double total = budget_spent(s->b, NULL, now), mine = budget_spent(s->b, client, now);
    if (budget_charge(s->b, client, amount, now) < 0) {
        cJSON *o = log_begin("warn", "budget: this client's spend counts in the total only (too many keys)");
        if (o) cJSON_AddStringToObject(o, "client", client);
        log_end(o);
    }
    log_reached(s, NULL, total, budget_spent(s->b, NULL, now), now);
    if (*client) log_reached(s, client, mine, budget_spent(s->b, client, now), now);
    if (budget_generation(s->b) != s->saved && !evloop_timer_active(&s->timer))
        evloop_timer_start(s->loop, &s->timer, SAVE_DELAY_MS);
}

cJSON *budgetstore_status(const budgetstore *s) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    int64_t now = s->clock();
    char day[16];
    budget_day_label(s->b, now, day, sizeof day);
    double cap = budget_cap(s->b, NULL);
    budget_verdict v = budget_check(s->b, "", now);
    cJSON_AddStringToObject(o, "state", origin_names[s->from]);
    cJSON_AddStringToObject(o, "day", day);
    cJSON_AddNumberToObject(o, "spent", budget_spent(s->b, NULL, now));
    if (cap >= 0) cJSON_AddNumberToObject(o, "daily", cap);
    else cJSON_AddNullToObject(o, "daily");
    cJSON_AddBoolToObject(o, "exhausted", v != BUDGET_OK);
    const char *why = s->save_error[0] ? s->save_error : s->problem;
    if (*why) cJSON_AddStringToObject(o, "error", why);
    return o;
}
