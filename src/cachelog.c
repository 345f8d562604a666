/* cachelog: see cachelog.h.
 *
 * Why a child process.  Rewriting 64 MB and syncing it takes about half a
 * second on the machines measured (bench/README.md), too long to stop the
 * event loop for.  A thread would need the store locked or copied; a
 * forked child gets a copy-on-write snapshot for the price of copying the
 * page tables (the gateway's stall, about a millisecond for a 64 MB
 * cache), as Redis rewrites its append-only file.  The child only calls
 * open, writev, fdatasync, close and _exit, which are safe after fork in a
 * process with other threads (libcurl's resolver), and allocates nothing;
 * it first closes every descriptor it inherited (close_range) but the
 * standard ones.
 * Its end is noticed by the flush timer (waitpid WNOHANG every 100 ms
 * while it runs).  If the records appended meanwhile cannot be kept (out
 * of memory), the child's file is thrown away and the old one stays.
 *
 * Why sync_file_range after an append.  It starts the write-back without
 * waiting for it; a power cut loses at most the last second or two of
 * stores and tears at most the last record, which its checksum catches.
 * A failed append (a full disk) cuts the file back to its last whole
 * record, and is logged once until a write succeeds again. */
#include "cachelog.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cachefile.h"
#include "evloop.h"
#include "log.h"

#define FLUSH_MS 1000
#define CHILD_POLL_MS 100
#define COMPACT_SLACK (1u << 20)
#define IOV_RECORDS 64

typedef struct queue {
    unsigned char *p;
    size_t n, cap;
    bool lost;                   /* an append did not fit in memory */
} queue;

struct cachelog {
    char *path, *tmp;
    int fd, dirfd;
    size_t file_bytes;           /* what the file holds after the last good write */
    size_t retry_at;             /* after a failed compaction: not before the file is this big */
    bool need_rewrite;           /* the file lost records: rewrite it */
    queue pending, since;        /* queued; appended while a child compacts */
    pid_t child;
    const size_t *live;
    cachelog_walk_fn walk;
    void *ud;
    char write_error[256];
    struct evloop *loop;
    evloop_timer timer;
};

static int queue_add(queue *q, const void *p, size_t n) {
    if (q->n + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->n + n) cap *= 2;
        unsigned char *np = realloc(q->p, cap);
        if (!np) {
            q->lost = true;
            return -1;
        }
        q->p = np;
        q->cap = cap;
    }
    memcpy(q->p + q->n, p, n);
    q->n += n;
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void report(cachelog *l, const char *step, int err) {
    char msg[sizeof l->write_error];
    snprintf(msg, sizeof msg, "%s: %s: %s", l->path, step, strerror(err));
    if (strcmp(msg, l->write_error) != 0) {
        cJSON *o = log_begin("error", "cache: file not written; answers stay in memory");
        if (o) cJSON_AddStringToObject(o, "error", msg);
        log_end(o);
    }
    snprintf(l->write_error, sizeof l->write_error, "%s", msg);
}

static void written(cachelog *l) {
    if (l->write_error[0]) log_msg("info", "cache: file written again");
    l->write_error[0] = '\0';
}

/* ---- the snapshot: the header and every live record, into fd ---- */

/* writev's partial writes continue where they stopped. */
static int writev_all(int fd, struct iovec *v, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, v, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = ENOSPC;
            return -1;
        }
        while (n > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Allocates nothing: the child runs it. */
static int write_snapshot(const cachelog *l, int fd) {
    unsigned char head[CACHEFILE_HEADER], heads[IOV_RECORDS][CACHEFILE_RECORD_HEAD];
    struct iovec v[2 * IOV_RECORDS];
    cachefile_header(head);
    if (write_all(fd, head, sizeof head) < 0) return -1;
    const void *cursor = NULL;
    size_t len;
    int n = 0;
    for (const unsigned char *b; (b = l->walk(l->ud, &cursor, &len));) {
        cachefile_record_head(b, len, heads[n]);
        v[2 * n] = (struct iovec){heads[n], CACHEFILE_RECORD_HEAD};
        v[2 * n + 1] = (struct iovec){(void *)b, len};
        if (++n == IOV_RECORDS) {
            if (writev_all(fd, v, 2 * n) < 0) return -1;
            n = 0;
        }
    }
    return (n && writev_all(fd, v, 2 * n) < 0) || fdatasync(fd) < 0 ? -1 : 0;
}

/* The new file in place: renamed over the old one and opened for appends. */
static int install(cachelog *l, const char **step) {
    *step = "rename";
    if (rename(l->tmp, l->path) < 0) return -1;
    fsync(l->dirfd);
    *step = "reopen";
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (size < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    if (l->fd >= 0) close(l->fd);
    l->fd = fd;
    l->file_bytes = (size_t)size;
    l->need_rewrite = false;
    l->retry_at = 0;
    return 0;
}

/* ---- compaction in a child ---- */

/* Ends a compaction under way, its file thrown away. */
static void stop_child(cachelog *l) {
    if (!l->child) return;
    kill(l->child, SIGKILL);
    waitpid(l->child, NULL, 0);
    l->child = 0;
    unlink(l->tmp);
    l->since.n = 0;
    l->since.lost = false;
}

static void start_child(cachelog *l) {
    unlink(l->tmp);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child holds nothing of the gateway's open: a client's
         * connection or the listening socket must not outlive its close
         * there because a compaction still has it. */
        close_range(3, ~0u, 0);
        int fd = open(l->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        _exit(fd < 0 || write_snapshot(l, fd) < 0 || close(fd) < 0 ? 1 : 0);
    }
    if (pid < 0) {
        report(l, "fork for compaction", errno);
        l->retry_at = l->file_bytes + COMPACT_SLACK;
        return;
    }
    l->child = pid;
    l->since.n = 0;
    l->since.lost = false;
}

/* The child is done: its file, with what was appended meanwhile, replaces the old one. */
static void finish_child(cachelog *l, int status) {
    const char *step = "compaction (in a child process)";
    int fd = -1, err = EIO;
    l->child = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) goto fail;
    step = "compaction: appending the latest records";
    err = ENOMEM;
    if (l->since.lost) goto fail;
    fd = open(l->tmp, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 || write_all(fd, l->since.p, l->since.n) < 0 || fdatasync(fd) < 0 || close(fd) < 0) {
        err = errno;
        if (fd >= 0) close(fd);
        goto fail;
    }
    l->since.n = 0;
    if (install(l, &step) < 0) {
        err = errno;
        goto fail;
    }
    written(l);
    return;
fail:
    unlink(l->tmp);
    l->since.n = 0;
    l->retry_at = l->file_bytes + COMPACT_SLACK;
    report(l, step, err);
}

static void poll_child(cachelog *l) {
    int status;
    if (l->child && waitpid(l->child, &status, WNOHANG) == l->child) finish_child(l, status);
}

/* ---- in this process ---- */

/* Rewrites the file in this process; on failure a clear (cut true) cuts
 * it to its header, a compaction leaves it as it is. */
static int rewrite(cachelog *l, bool cut) {
    const char *step = "create";
    stop_child(l);
    l->pending.n = 0;   /* every live record goes into the new file */
    l->pending.lost = false;
    int fd = open(l->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) step = "write";
    if (fd < 0 || write_snapshot(l, fd) < 0) goto err;
    step = "close";
    int rc = close(fd);
    fd = -1;
    if (rc < 0 || install(l, &step) < 0) goto err;
    written(l);
    return 0;
err:;
    int e = errno;
    if (fd >= 0) close(fd);
    unlink(l->tmp);
    report(l, step, e);
    if (cut) {
        /* What was removed must not come back at a restart. */
        if (l->fd >= 0 && ftruncate(l->fd, CACHEFILE_HEADER) == 0) l->file_bytes = CACHEFILE_HEADER;
        l->need_rewrite = true;
    } else {
        l->retry_at = l->file_bytes + COMPACT_SLACK;
    }
    return -1;
}

int cachelog_rewrite(cachelog *l) { return rewrite(l, true); }

/* Writes the queue to the file (and keeps it for a child's new file). */
static void append_pending(cachelog *l) {
    if (!l->pending.n) return;
    if (write_all(l->fd, l->pending.p, l->pending.n) < 0) {
        int e = errno;
        /* A torn record would hide every later one: back to the last whole one. */
        if (ftruncate(l->fd, (off_t)l->file_bytes) < 0) l->need_rewrite = true;
        report(l, "append", e);
    } else {
        sync_file_range(l->fd, (off_t)l->file_bytes, (off_t)l->pending.n, SYNC_FILE_RANGE_WRITE);
        l->file_bytes += l->pending.n;
        if (l->child) queue_add(&l->since, l->pending.p, l->pending.n);
        written(l);
    }
    l->pending.n = 0;
}

void cachelog_flush(cachelog *l) {
    poll_child(l);
    if (l->need_rewrite || l->pending.lost) cachelog_rewrite(l);
    else append_pending(l);
    if (!l->child && l->file_bytes > 2 * *l->live + COMPACT_SLACK && l->file_bytes >= l->retry_at)
        start_child(l);
    if (l->loop && l->child) evloop_timer_start(l->loop, &l->timer, CHILD_POLL_MS);
}

static void on_timer(void *ud) { cachelog_flush(ud); }

void cachelog_append(cachelog *l, const unsigned char *body, size_t len) {
    unsigned char head[CACHEFILE_RECORD_HEAD];
    cachefile_record_head(body, len, head);
    if (queue_add(&l->pending, head, sizeof head) == 0) queue_add(&l->pending, body, len);
    if (!l->loop) cachelog_flush(l);
    else if (!evloop_timer_active(&l->timer)) evloop_timer_start(l->loop, &l->timer, FLUSH_MS);
}

bool cachelog_compacting(const cachelog *l) { return l->child != 0; }

/* ---- opening and closing ---- */

static int open_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(dir);
    return fd;
}

cachelog *cachelog_new(const char *path, struct evloop *loop, cachelog_walk_fn walk, void *ud,
                       const size_t *live, char *err, size_t errlen) {
    cachelog *l = calloc(1, sizeof *l);
    if (l) l->fd = l->dirfd = -1;
    if (!l || !(l->path = strdup(path)) || asprintf(&l->tmp, "%s.tmp", path) < 0) {
        if (l) l->tmp = NULL;
        snprintf(err, errlen, "cache: out of memory");
        cachelog_free(l);
        return NULL;
    }
    l->loop = loop;
    l->walk = walk;
    l->ud = ud;
    l->live = live;
    evloop_timer_init(&l->timer, on_timer, l);
    if ((l->dirfd = open_dir(path)) < 0) {
        snprintf(err, errlen, "cache.file: %s: its directory cannot be opened: %s", path, strerror(errno));
        cachelog_free(l);
        return NULL;
    }
    return l;
}

int cachelog_start(cachelog *l, bool good, size_t file_bytes, char *err, size_t errlen) {
    l->file_bytes = file_bytes;
    if (good && (l->fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0) good = false;
    /* A good file that is mostly dead records is only compacted: when that
     * fails (a full disk, <file>.tmp not creatable), it is appended to as it
     * is and compacted again once it has grown by COMPACT_SLACK. */
    if (good) {
        if (file_bytes > 2 * *l->live + COMPACT_SLACK) rewrite(l, false);
        return 0;
    }
    if (rewrite(l, true) < 0) {
        snprintf(err, errlen, "cache.file: %s", l->write_error);
        return -1;
    }
    return 0;
}

void cachelog_free(cachelog *l) {
    if (!l) return;
    stop_child(l);
    if (l->loop) evloop_timer_stop(l->loop, &l->timer);
    if (l->fd >= 0) {
        if (l->need_rewrite || l->pending.lost) cachelog_rewrite(l);
        else append_pending(l);
        close(l->fd);
    }
    if (l->dirfd >= 0) close(l->dirfd);
    free(l->pending.p);
    free(l->since.p);
    free(l->path);
    free(l->tmp);
    free(l);
}
