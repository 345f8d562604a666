/* datadir: the files an installed tiergate ships beside its binary (the
 * classifier model), found from where the binary is, so that a gateway
 * started with its installed configuration needs no file copied next to it.
 *
 * The data directory is TIERGATE_DATADIR_REL (set by CMake from the install
 * layout, "../share/tiergate" for bin/ and share/) taken from the directory
 * of the running binary.  Being relative, it holds for any prefix and for a
 * package unpacked into a scratch root, not only for /usr. */
#ifndef TIERGATE_DATADIR_H
#define TIERGATE_DATADIR_H

#include <stddef.h>

/* Writes to out the path of name (relative) in the data directory of the
 * binary at exe.  Returns 1 when that file exists, 0 when it does not, or
 * the path does not fit in outlen, or name is absolute. */
int datadir_find_from(const char *exe, const char *name, char *out, size_t outlen);

/* datadir_find_from for the running binary (/proc/self/exe). */
int datadir_find(const char *name, char *out, size_t outlen);

#endif
