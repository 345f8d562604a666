/* test_circuit: every transition of the breaker with time as a plain
 * number: consecutive failures, the error-rate window and its ageing, probes,
 * half-open trials (one at a time, released when abandoned), doubling
 * cool-downs and their cap, and that each change is reported once with a
 * cause. */
#include <string.h>

#include "circuit.h"
#include "testlib.h"

static const circuit_params P = {
    .failures_to_open = 3, .error_rate = 0.5, .min_requests = 10, .window_ms = 10000, .cooldown_ms = 1000,
};

static circuit fresh(void)
{
    circuit c;
    circuit_init(&c, &P);
    return c;
}

static void test_consecutive(void)
{
    circuit c = fresh();

    CHECK_STR(circuit_state_name(c.state), "closed");
    CHECK_STR(circuit_cause(&c), "");
    CHECK(circuit_allows(&c, 0));
    CHECK(!circuit_record(&c, &P, 10, false, false, "HTTP 500"));
    CHECK(!circuit_record(&c, &P, 20, false, false, "HTTP 500"));
    /* A success in between starts the count again. */
    CHECK(!circuit_record(&c, &P, 30, true, false, NULL));
    CHECK(!circuit_record(&c, &P, 40, false, false, "HTTP 500"));
    CHECK(!circuit_record(&c, &P, 50, false, false, "HTTP 500"));
    CHECK_INT(c.state, CIRCUIT_CLOSED);
    CHECK(circuit_record(&c, &P, 60, false, false, "connection refused"));
    CHECK_STR(circuit_state_name(c.state), "open");
    CHECK(strstr(circuit_cause(&c), "3 consecutive failures") != NULL);
    CHECK(strstr(circuit_cause(&c), "connection refused") != NULL);
    /* Open: nothing goes until the cool-down is over. */
    CHECK(!circuit_allows(&c, 60));
    CHECK(!circuit_allows(&c, 1059));
    CHECK_INT(circuit_wait_ms(&c, 560), 500);
    CHECK(circuit_allows(&c, 1060));
    CHECK_INT(circuit_wait_ms(&c, 1060), 0);
    /* More failures of requests sent before it opened change nothing. */
    CHECK(!circuit_record(&c, &P, 70, false, false, "late"));
    CHECK(!circuit_record(&c, &P, 70, true, false, NULL));
    CHECK_INT(c.state, CIRCUIT_OPEN);
}

static void test_error_rate(void)
{
    circuit c = fresh();
    int t = 0;

    /* Alternating success and failure never makes three in a row, but half
     * of ten requests failed: the rate opens it at the tenth. */
    for (int i = 0; i < 9; i++) CHECK(!circuit_record(&c, &P, (uint64_t)(t += 100), i % 2 == 0, false, "x"));
    CHECK_INT(c.state, CIRCUIT_CLOSED);
    CHECK(circuit_record(&c, &P, (uint64_t)(t += 100), false, false, "HTTP 502"));
    CHECK_INT(c.state, CIRCUIT_OPEN);
    CHECK(strstr(circuit_cause(&c), "5 of the last 10 requests failed") != NULL);

    /* Below the rate: 4 failures in 10 stay closed. */
    c = fresh();
    for (int i = 0; i < 10; i++) CHECK(!circuit_record(&c, &P, (uint64_t)(100 * i), i % 5 != 1 && i % 5 != 3, false, "x"));
    CHECK_INT(c.state, CIRCUIT_CLOSED);

    /* Too few outcomes: 2 of 3 failed, no rate yet (and not 3 in a row). */
    c = fresh();
    CHECK(!circuit_record(&c, &P, 1, false, false, "x"));
    CHECK(!circuit_record(&c, &P, 2, true, false, NULL));
    CHECK(!circuit_record(&c, &P, 3, false, false, "x"));
    CHECK_INT(c.state, CIRCUIT_CLOSED);

    /* Old outcomes age out of the window: failures 20 s ago do not count. */
    c = fresh();
    for (int i = 0; i < 8; i++) circuit_record(&c, &P, (uint64_t)(i * 10), i % 2 == 0, false, "x");
    for (int i = 0; i < 8; i++) CHECK(!circuit_record(&c, &P, (uint64_t)(20000 + i * 10), i % 4 != 1, false, "x"));
    CHECK_INT(c.state, CIRCUIT_CLOSED);
}

static void test_half_open_trials(void)
{
    circuit c = fresh();
    bool changed;

    for (int i = 0; i < 3; i++) circuit_record(&c, &P, 0, false, false, "refused");
    CHECK_INT(c.state, CIRCUIT_OPEN);
    CHECK_INT(circuit_acquire(&c, 999, &changed), CIRCUIT_DENIED);
    CHECK(!changed);
    /* Cool-down over: one trial, and the change is reported once. */
    CHECK_INT(circuit_acquire(&c, 1000, &changed), CIRCUIT_TRIAL);
    CHECK(changed);
    CHECK_INT(c.state, CIRCUIT_HALF_OPEN);
    CHECK_STR(circuit_cause(&c), "cool-down over");
    CHECK(!circuit_allows(&c, 1001));
    CHECK_INT(circuit_acquire(&c, 1001, &changed), CIRCUIT_DENIED);
    CHECK(!changed);
    /* An abandoned trial frees the slot for the next request. */
    circuit_release(&c, true);
    CHECK(circuit_allows(&c, 1002));
    CHECK_INT(circuit_acquire(&c, 1002, &changed), CIRCUIT_TRIAL);
    CHECK(!changed);
    /* Outcomes of other requests do not decide a half-open circuit. */
    CHECK(!circuit_record(&c, &P, 1003, true, false, NULL));
    CHECK_INT(c.state, CIRCUIT_HALF_OPEN);
    /* The trial fails: open again, cool-down doubled. */
    CHECK(circuit_record(&c, &P, 1100, false, true, "HTTP 503"));
    CHECK_INT(c.state, CIRCUIT_OPEN);
    CHECK(strstr(circuit_cause(&c), "trial request failed: HTTP 503") != NULL);
    CHECK(!circuit_allows(&c, 3099));
    CHECK(circuit_allows(&c, 3100));
    /* Doubling stops at 8 times the configured cool-down. */
    uint64_t t = 3100;
    for (int i = 0; i < 6; i++) {
        CHECK_INT(circuit_acquire(&c, t, &changed), CIRCUIT_TRIAL);
        circuit_record(&c, &P, t, false, true, "x");
        t = c.retry_at_ms;
    }
    CHECK_INT(c.cooldown_ms, 8000);
    /* The trial succeeds: closed, and the cool-down is back to normal. */
    CHECK_INT(circuit_acquire(&c, t, &changed), CIRCUIT_TRIAL);
    CHECK(circuit_record(&c, &P, t + 5, true, true, NULL));
    CHECK_INT(c.state, CIRCUIT_CLOSED);
    CHECK_INT(c.cooldown_ms, 1000);
    CHECK_STR(circuit_cause(&c), "trial request succeeded");
    CHECK_INT(circuit_acquire(&c, t + 6, &changed), CIRCUIT_GRANTED);
    /* Releasing a request that was no trial is harmless. */
    circuit_release(&c, false);
    CHECK_INT(c.state, CIRCUIT_CLOSED);
    /* The window was cleared when it closed: old failures do not reopen it. */
    CHECK(!circuit_record(&c, &P, t + 7, false, false, "x"));
    CHECK_INT(c.state, CIRCUIT_CLOSED);
}

static void test_probes(void)
{
    circuit c = fresh();

    /* A probe success on a closed circuit changes nothing. */
    CHECK(!circuit_probe(&c, &P, 0, true, NULL));
    /* One failed probe opens it at once. */
    CHECK(circuit_probe(&c, &P, 100, false, "connect timeout after 500 ms"));
    CHECK_INT(c.state, CIRCUIT_OPEN);
    CHECK_STR(circuit_cause(&c), "probe failed: connect timeout after 500 ms");
    /* Still failing: the next trial waits a whole cool-down from the last probe. */
    CHECK(!circuit_probe(&c, &P, 900, false, "again"));
    CHECK(!circuit_allows(&c, 1100));
    CHECK(circuit_allows(&c, 1900));
    /* A success half-opens it at once, before the cool-down is over. */
    CHECK(circuit_probe(&c, &P, 950, true, NULL));
    CHECK_INT(c.state, CIRCUIT_HALF_OPEN);
    CHECK_STR(circuit_cause(&c), "probe succeeded");
    CHECK(circuit_allows(&c, 950));
    CHECK(!circuit_probe(&c, &P, 960, true, NULL));
    /* A failed probe while half-open opens it again, even with a trial out. */
    bool changed;
    CHECK_INT(circuit_acquire(&c, 970, &changed), CIRCUIT_TRIAL);
    CHECK(circuit_probe(&c, &P, 980, false, "HTTP 503"));
    CHECK_INT(c.state, CIRCUIT_OPEN);
    CHECK(!c.trial_in_flight);
    /* The trial that was out comes back: it no longer decides anything. */
    CHECK(!circuit_record(&c, &P, 990, true, true, NULL));
    CHECK_INT(c.state, CIRCUIT_OPEN);
}

static void test_single_failure_config(void)
{
    circuit_params p = P;
    circuit c;

    p.failures_to_open = 1;
    p.cooldown_ms = 1;
    circuit_init(&c, &p);
    CHECK(circuit_record(&c, &p, 5, false, false, NULL));
    CHECK_STR(circuit_cause(&c), "1 consecutive failures");
    CHECK(circuit_allows(&c, 6));
}

int main(void)
{
    test_consecutive();
    test_error_rate();
    test_half_open_trials();
    test_probes();
    test_single_failure_config();
    TEST_MAIN_END();
}
