/* invariant: the checks that stay on in every build.
 *
 * assert() is the debug check: on in the suite and the sanitizer runs
 * (TIERGATE_ASSERTIONS, CMakeLists.txt), off in a release package built
 * without it.  INVARIANT is for the few conditions that are cheap (a compare
 * or two, not on a per-byte path) and whose breach would otherwise turn into
 * memory corruption or a request hung forever: the state machines'
 * transitions (exchange, attempt), a response stored twice, a connection
 * suspended twice, a write to an exchange not streaming, the timer heap's
 * positions, a runtime's reference count, a dispatch slot started while
 * busy or after its deadline, an attempt ended that is not its slot's, a
 * transfer started from inside libcurl.  Like
 * SQLite's always-on checks, a broken invariant is not survived: the
 * process logs what broke, where, and aborts, so that a supervisor restarts
 * a gateway whose state is known again. */
#ifndef TIERGATE_INVARIANT_H
#define TIERGATE_INVARIANT_H

#include <stdbool.h>

/* Logs "invariant broken" with what and where, then aborts. */
_Noreturn void invariant_failed(const char *what, const char *file, int line);

#define INVARIANT(cond) ((cond) ? (void)0 : invariant_failed(#cond, __FILE__, __LINE__))

/* Whether this library was built with assert() on (no NDEBUG): the unit
 * suite fails when it is not, so a test build cannot lose its checks. */
bool invariant_asserts_on(void);

#endif
