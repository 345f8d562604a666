/* datadir: see datadir.h.
 *
 * Why beside the binary rather than a path compiled in: the package's own
 * test runs the binary unpacked into a scratch directory (dpkg -x), where a
 * compiled-in /usr/share/tiergate would find the host's files or none; and a
 * relative layout survives `cmake --install --prefix` anywhere.  Why not the
 * model compiled into the binary: it is a quarter of a megabyte the head
 * unit would carry twice once an integrator ships a retrained model, and a
 * file keeps the one loader, the checksum and SIGHUP's reload as they are.
 * /proc/self/exe names the binary itself, also under qemu-user, which
 * answers it for the emulated program. */
#include "datadir.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef TIERGATE_DATADIR_REL
#define TIERGATE_DATADIR_REL "../share/tiergate"
#endif

int datadir_find_from(const char *exe, const char *name, char *out, size_t outlen) {
    const char *slash = strrchr(exe, '/');
    if (!slash || name[0] == '/' || !name[0]) return 0;
    int n = snprintf(out, outlen, "%.*s/%s/%s", (int)(slash - exe), exe, TIERGATE_DATADIR_REL, name);
    if (n < 0 || (size_t)n >= outlen) return 0;
    return access(out, F_OK) == 0;
}

int datadir_find(const char *name, char *out, size_t outlen) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = '\0';
    return datadir_find_from(exe, name, out, outlen);
}
