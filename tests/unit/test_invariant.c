/* The checks run: assert() is compiled in (the suite would otherwise test a
 * gateway whose 90-odd debug checks are gone), and a broken INVARIANT stops
 * the process with a line saying what broke. */
#include <assert.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "invariant.h"
#include "testlib.h"

/* The status a child ends with after running fn. */
static int child_status(void (*fn)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        fn();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static volatile int zero = 0;
static void broken_invariant(void) { INVARIANT(zero == 1); }
static void kept_invariant(void) { INVARIANT(zero == 0); }
static void broken_assert(void) { assert(zero == 1); }

int main(void) {
    CHECK(invariant_asserts_on());
    int st = child_status(broken_invariant);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    st = child_status(kept_invariant);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* This file is built with the library's flags: assert() aborts here too. */
    st = child_status(broken_assert);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    TEST_MAIN_END();
}
