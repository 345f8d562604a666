/* benchlib: what the in-memory benchmarks share: a monotonic clock in
 * microseconds and the comparison that sorts samples into percentiles. */
#ifndef TIERGATE_BENCHLIB_H
#define TIERGATE_BENCHLIB_H

#include <time.h>

static inline double bench_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* qsort comparison of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
