/* featurize: what the complexity classifier reads in a conversation.
 *
 * featurize() turns the user turns of a conversation into a sparse
 * vector: hashed n-grams of the text (lower-cased words and word pairs for
 * Latin text; one, two and three characters for Chinese and other CJK text,
 * which has no spaces; single symbols) and named structural features (length
 * in characters and estimated tokens, turns, code, maths notation, numbers
 * and operators, question words, instruction verbs, list and constraint
 * markers; whether the request is a follow-up, its number of tools,
 * markers of steps, conditions, comparison and calculation, and the length
 * of a text it quotes to work on, which is read at a small weight; with
 * tools, the branches and dictation pauses of its actions; whether it asks
 * for a sum or a choice over several figures).  It is
 * the one definition of the features: the gateway scores with it and tools/
 * trains and evaluates with it, so a model sees at serving time exactly what
 * it saw in training.  Extraction is pure and allocates
 * nothing; a featurizer only holds the lexicons' lookup table. */
#ifndef TIERGATE_FEATURIZE_H
#define TIERGATE_FEATURIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever extraction changes what any text maps to: a model file
 * records the version it was trained with and is refused by another. */
#define FEATURES_VERSION 13
/* Named structural features take indexes [0, FEATURES_NNAMED); hashed
 * n-grams take the 2^FEATURES_HASH_BITS indexes after them. */
#define FEATURES_NNAMED 45
/* This version extends FEATURES_VERSION 7: every request maps to the same
 * n-grams and the same first FEATURES_EXTENDS_NNAMED named features, and
 * the named features after them are the second stage's
 * (feature_second_stage()).  A version-7 model therefore scores every
 * request that has no second-stage feature as it did (in one build bit for
 * bit; across builds to the last bit, since the sum follows the scan's
 * batches), and tiergate-train --base refits only the second-stage weights
 * of one. */
#define FEATURES_EXTENDS 7
#define FEATURES_EXTENDS_NNAMED 40
#define FEATURES_HASH_BITS 20
#define FEATURES_DIM (FEATURES_NNAMED + (1u << FEATURES_HASH_BITS))
/* Each n-gram occurrence of a turn is worth w / c^FEATURES_NGRAM_NORM, w the
 * turn's weight and c its characters, or those of the instruction or the
 * quoted text when it quotes one (featurize.c says why 0.4). */
#define FEATURES_NGRAM_NORM 0.4

typedef struct feature_message {
    bool user;           /* written by the user (vs system, assistant or tool) */
    const char *text;    /* UTF-8 (invalid bytes are tolerated), not NUL-terminated */
    size_t len;
} feature_message;

/* One occurrence of a feature.  The vector is the sum of the values of all
 * occurrences with the same index. */
typedef struct feature {
    uint32_t index;      /* < FEATURES_DIM */
    double value;
} feature;

/* Where an occurrence came from, for explanations. */
typedef struct feature_origin {
    const char *kind;    /* n-gram kind ("word", "words", "num", "char", "chars2",
                            "chars3", "sym"); NULL for a named feature */
    const char *text;    /* n-gram: where in its message it was seen (len bytes);
                            named feature of one turn: the start of that turn's
                            text (len 0); of the whole request: NULL */
    size_t len;
} feature_origin;

/* Receives occurrences in batches of n (n >= 1), in the order of the text;
 * origin[i] belongs to f[i], and origin is NULL unless asked for. */
typedef void (*feature_fn)(void *ctx, const feature *f, const feature_origin *origin, size_t n);

typedef struct featurizer featurizer;

/* NULL when out of memory. */
featurizer *featurizer_new(void);
void featurizer_free(featurizer *fx);

/* Which turns a decision rests on.  The request turn is the last user
 * message (the last message when no message is the user's).  It is a
 * follow-up when an earlier user turn exists and the request is short and
 * continues the thread ("继续", "为什么", "举个例子", "go on", "why?"): then
 * up to four earlier user turns share the weight of the request itself.
 * Otherwise those turns share a small weight, so a self-contained command
 * after a hard thread rests on itself. */
typedef struct feature_focus {
    size_t turn;                 /* index of the request turn (n when n is 0) */
    bool follow_up;
    size_t ncontext;             /* earlier user turns read */
    size_t context[4];           /* their indexes, latest first */
    double context_weight;       /* the weight they share */
} feature_focus;

void featurize_focus(const feature_message *msgs, size_t n, feature_focus *out);

/* Passes every feature occurrence of the conversation msgs[0..n), whose
 * request carries ntools tool definitions, to fn, with their origins when
 * origins is set (which costs time: the scorer does without).  The turns
 * read, and at what weight, are featurize_focus()'s.  System, assistant and
 * tool messages are not read, so a system prompt cannot move a score.  Each
 * message is read up to a fixed number of bytes; the length features
 * extrapolate beyond it, so the cost of a call is bounded whatever the
 * input. */
void featurize(const featurizer *fx, const feature_message *msgs, size_t n, size_t ntools, bool origins,
               feature_fn fn, void *ctx);

/* Whether feature index is one of the second stage's, which tiergate-train
 * --base refits on rows the first stage never saw: the features only a
 * request carrying tools has (the number of tools, the tool plan, its
 * branches and pauses), and figures.  Few requests have any, and the weight
 * of one moves no score of a request without it. */
bool feature_second_stage(uint32_t index);

/* Stable name of a named feature ("chars", "verb:prove", ...), or NULL when
 * index is an n-gram's. */
const char *feature_name(uint32_t index);

/* Writes a readable name of f, which came from o, into buf (NUL-terminated,
 * truncated on a UTF-8 boundary): the named feature's name, or "kind:text"
 * with the n-gram's text as seen, ASCII lower-cased, white space collapsed. */
void feature_display(const feature *f, const feature_origin *o, char *buf, size_t cap);

#endif
