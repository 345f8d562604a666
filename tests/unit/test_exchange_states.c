/* test_exchange_states: the exchange's state table (exchange.h) is the
 * contract the server and the handlers keep: every move the table draws is
 * taken, and a move it does not draw stops the process (INVARIANT, in every
 * build) instead of going on in a state nobody planned for. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exchange.h"
#include "testlib.h"

/* Whether moving a fresh exchange along path and then to `to` survives. */
static bool survives(const exchange_state *path, size_t n, exchange_state to) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fclose(stderr);                 /* the invariant's line is expected */
        server_exchange ex;
        memset(&ex, 0, sizeof ex);
        strcpy(ex.request_id, "req_test");
        for (size_t i = 0; i < n; i++) exchange_to(&ex, path[i]);
        exchange_to(&ex, to);
        _exit(ex.state == to ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) CHECK_INT(WTERMSIG(st), SIGABRT);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

#define PATH(...) ((const exchange_state[]){__VA_ARGS__}), sizeof((const exchange_state[]){__VA_ARGS__}) / sizeof(exchange_state)

int main(void) {
    /* the drawn paths */
    CHECK(survives(PATH(EX_HANDLING, EX_PENDING), EX_REPLIED));
    CHECK(survives(PATH(EX_HANDLING, EX_STREAMING), EX_STREAM_ENDED));
    CHECK(survives(PATH(EX_PENDING), EX_REPLIED));                   /* refused before the body */
    CHECK(survives(PATH(EX_HANDLING, EX_STREAMING, EX_STREAM_ENDED), EX_ABORTED));
    CHECK(survives(PATH(EX_HANDLING, EX_STREAMING), EX_CLOSING));    /* out of memory mid-stream */
    CHECK(survives(PATH(EX_HANDLING, EX_CLOSING), EX_ABORTED));
    CHECK(survives(PATH(EX_HANDLING, EX_PENDING, EX_REPLIED), EX_ABORTED));
    /* what the table refuses: a second answer, a stream after a reply,
     * writing after the end, anything after aborted, going back */
    CHECK(!survives(PATH(EX_HANDLING, EX_PENDING), EX_STREAMING));
    CHECK(!survives(PATH(EX_HANDLING, EX_PENDING, EX_REPLIED), EX_PENDING));
    CHECK(!survives(PATH(EX_HANDLING, EX_STREAMING, EX_STREAM_ENDED), EX_STREAMING));
    CHECK(!survives(PATH(EX_ABORTED), EX_PENDING));
    CHECK(!survives(PATH(EX_HANDLING), EX_RECEIVING));
    CHECK(!survives(NULL, 0, EX_STREAMING));                         /* a stream before the handler */
    CHECK(!survives(PATH(EX_HANDLING, EX_PENDING, EX_REPLIED), EX_CLOSING));
    TEST_MAIN_END();
}
