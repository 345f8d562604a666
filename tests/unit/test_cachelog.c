/* test_cachelog: the file's compaction in a child process holds none of
 * the gateway's descriptors (a client's connection, the listening socket):
 * the walk, which runs in the child, fails the compaction when a
 * descriptor the parent opened without O_CLOEXEC is still open there. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cachefile.h"
#include "cachelog.h"
#include "testlib.h"

static pid_t parent;
static int inherited = -1;
static const unsigned char live_body[100] = "the one live record";

static const unsigned char *walk(void *ud, const void **cursor, size_t *len) {
    (void)ud;
    if (getpid() != parent && fcntl(inherited, F_GETFD) >= 0) _exit(7);
    if (*cursor) return NULL;
    *cursor = live_body;
    *len = sizeof live_body;
    return live_body;
}

static long size_of(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_child_closes_descriptors(void) {
    char dir[64], path[128], err[256];
    tl_make_dir(dir, sizeof dir, "cachelog");
    snprintf(path, sizeof path, "%s/answers.cache", dir);
    int fds[2];
    CHECK_INT(pipe(fds), 0);   /* no O_CLOEXEC, as a connection the server accepted */
    inherited = fds[1];
    parent = getpid();
    size_t live = CACHEFILE_RECORD_HEAD + sizeof live_body;
    cachelog *l = cachelog_new(path, NULL, walk, NULL, &live, err, sizeof err);
    CHECK(l != NULL);
    if (!l) return;
    CHECK_INT(cachelog_start(l, false, 0, err, sizeof err), 0);
    static unsigned char dead[64 * 1024];
    for (int i = 0; i < 20 && !cachelog_compacting(l); i++) cachelog_append(l, dead, sizeof dead);
    CHECK(cachelog_compacting(l));
    for (int i = 0; i < 1000 && cachelog_compacting(l); i++) {
        usleep(10000);
        cachelog_flush(l);
    }
    CHECK(!cachelog_compacting(l));
    /* The child's file replaced the big one: it finished, so it saw no inherited descriptor. */
    CHECK_INT(size_of(path), (long)(CACHEFILE_HEADER + live));
    cachelog_free(l);
    close(fds[0]);
    close(fds[1]);
    tl_remove_dir(dir);
}

int main(void) {
    test_child_closes_descriptors();
    TEST_MAIN_END();
}
