/* log: one JSON object per line; request lines to stderr or a file.
 *
 * Lines are built so every value is escaped: most with cJSON (the caller
 * adds its fields to an object and hands it over), the request line, which
 * is written once per request, field by field with jsonout, without a tree.  Prompt and answer text are never
 * given to the log by any caller, and neither are secrets, unless the
 * operator asks for text (log.include_text, a debug option warned about at
 * every start).
 *
 * Two destinations: the request lines (one per request, log_request) go to
 * log.file when one is configured, like a web server's access log, so they
 * can be rotated and shipped on their own; everything else (start, stop,
 * warnings, circuit changes) always goes to stderr.  The destination is
 * process-wide, as stderr is.
 *
 * Request lines wait in a buffer until log_flush, which the event loop
 * calls before it waits: under load the lines of all requests finished in
 * one pass of the loop go out in one write, and a line is never held while
 * the gateway sleeps.  A crash can lose the lines of the pass it happens
 * in. */
#ifndef TIERGATE_LOG_H
#define TIERGATE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "jsonout.h"

struct cJSON;

/* Returns a new object with "ts", "level" and "msg" set; NULL on OOM. */
struct cJSON *log_begin(const char *level, const char *msg);
/* Writes obj as one line to stderr and frees it (NULL is ignored). */
void log_end(struct cJSON *obj);
/* A line with only level and message. */
void log_msg(const char *level, const char *msg);

/* Debug lines (the state changes of exchanges and attempts) are written
 * only after log_set_debug(true), which `tiergate --debug` does; a caller
 * asks log_debug_on() before it builds one, so they cost a branch when off. */
void log_set_debug(bool on);
bool log_debug_on(void);
/* {"level":"debug","msg":"state","of":of,"id":id,"from":from,"to":to}. */
void log_state(const char *of, const char *id, const char *from, const char *to);

/* Starts a request line and returns the text to add its fields to with
 * jsonout_key and a value (the object is open, with "ts", "level" and
 * "msg":"request" in it).  One line at a time: log_request_end comes
 * before the next begin. */
jsonout_text *log_request_begin(void);
/* Closes the line; it goes out at the next log_flush, or at once when the
 * lines waiting pass 64 KiB.  A line whose text failed (out of memory) is
 * dropped whole. */
void log_request_end(void);
/* Writes the request lines waiting. */
void log_flush(void);
/* Sends request lines to the file at path from now on (appending, created
 * when missing, mode 0640), or to stderr when path is NULL, and closes the
 * file used before; opening the same path again is how a reload follows
 * logrotate.  -1 with err filled when the file cannot be opened; the lines
 * then keep going where they went. */
int log_open(const char *path, char *err, size_t errlen);
/* Closes the file (after the lines waiting); request lines go to stderr
 * again. */
void log_close(void);

#endif
