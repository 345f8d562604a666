/* log: one JSON object per line, to stderr.
 *
 * Lines are built with cJSON so every value is escaped; the caller adds its
 * fields to an object and hands it over.  Prompt and answer text are never
 * given to the log by any caller, and neither are secrets. */
#ifndef TIERGATE_LOG_H
#define TIERGATE_LOG_H

struct cJSON;

/* Returns a new object with "ts", "level" and "msg" set; NULL on OOM. */
struct cJSON *log_begin(const char *level, const char *msg);
/* Writes obj as one line and frees it (NULL is ignored). */
void log_end(struct cJSON *obj);
/* A line with only level and message. */
void log_msg(const char *level, const char *msg);

#endif
