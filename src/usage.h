/* usage: how many tokens one answer took, and what they cost.
 *
 * Counts come from the backend's own "usage" object (prompt_tokens,
 * completion_tokens): in a plain answer, or in the last chunk of a stream,
 * which the gateway always asks for (stream_options.include_usage).  Where a
 * backend reports none (some llama.cpp and Ollama builds, a stream cut short,
 * a client that left), the missing count is estimated and marked so.
 *
 * The estimate, the same for every backend: a character of three or more
 * UTF-8 bytes (Chinese, Japanese, Korean, most symbols) is one token, other
 * characters are four to a token, rounded up; the input is every message's
 * text plus 4 tokens per message (role and framing), the output is the text
 * the answer carried (content, reasoning_content, tool call names and
 * arguments), streamed or not.  It is the featurizer's rule of thumb for
 * length, without needing its scan: good to some tens of per cent, which is
 * what a cost estimate needs, and never charged as if reported.
 *
 * A meter collects one answer: feed it the plain answer, or every chunk of
 * a stream, as it passes; reading it costs no allocation.  Cost is counts
 * times the backend's price per million tokens (config_price), in whatever
 * currency the prices are written in; the default price 0 is free. */
#ifndef TIERGATE_USAGE_H
#define TIERGATE_USAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "featurize.h"

struct cJSON;

/* The tokens of one answer. */
typedef struct usage {
    long long input_tokens;      /* prompt_tokens */
    long long output_tokens;     /* completion_tokens */
    bool input_estimated;        /* the backend did not report it */
    bool output_estimated;
} usage;

typedef struct usage_meter {
    long long reported_input;    /* -1 until the backend reports it */
    long long reported_output;
    size_t wide, narrow;         /* characters of the answer's text, for the estimate */
} usage_meter;

void usage_meter_init(usage_meter *m);
/* A plain answer or one stream chunk (borrowed, not changed): its text
 * counts towards the estimate, and its "usage", when it has one, replaces
 * what an earlier chunk reported. */
void usage_meter_add(usage_meter *m, const struct cJSON *answer);
/* The answer's counts so far: reported where the backend reported them,
 * estimated otherwise (the input from the request's messages). */
usage usage_meter_result(const usage_meter *m, const feature_message *msgs, size_t nmsgs);

/* The estimated tokens of text[0, len). */
long long usage_estimate_text(const char *text, size_t len);
/* The estimated input tokens of a conversation. */
long long usage_estimate_input(const feature_message *msgs, size_t nmsgs);

/* What u costs at price. */
double usage_cost(const config_price *price, const usage *u);

#endif
