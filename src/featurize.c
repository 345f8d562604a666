/* featurize: from a conversation to the classifier's feature vector.
 *
 * scan.c reads the text of one message; this file decides which messages
 * are read, how much each counts, and turns the scan's counts into the named
 * features.  Design choices and their trade-offs:
 *
 * - Conversations.  The request is the last user turn, at weight 1.  When it
 *   is a follow-up (short, and continuing: "继续", "为什么", "go on", "why?";
 *   lexicon_follow_up()), up to HISTORY_TURNS earlier user turns share
 *   HISTORY_WEIGHT: the follow-up inherits what the conversation is about,
 *   and a long history still cannot outweigh the request.  Any other request
 *   is self-contained ("那先把座椅加热打开吧" after a proof): the earlier turns
 *   share only SWITCH_WEIGHT, enough to tell "再调低一点" after "打开空调"
 *   from a cold start, too little to carry a command to the cloud.  The rule
 *   is fixed, not learned: a linear model cannot make the weight of one
 *   turn depend on another.  System, assistant and tool messages are not
 *   read: a long system prompt says nothing about the request, and cannot
 *   move it across the threshold.
 *
 * - Tools and plans.  The number of tool definitions is one feature; their
 *   names and schemas are not read (an in-car request carries the same list
 *   whatever it asks).  What tells one action from a plan is in the request:
 *   markers of steps, conditions (times, deadlines, budgets), comparison and
 *   calculation, counted in every learned language by the lexicon, and
 *   tool_plan, the steps, conditions and clauses of a request that carries
 *   tools (with tools, "warmer in the back, fan low, close the shade" is
 *   three actions).  A message to pass on (relay: "发短信给王总", "Text to
 *   Coach:") is long but one step, and has its own count.
 *
 * - Length-normalised n-grams.  Each n-gram occurrence of a turn is worth
 *   w/c^FEATURES_NGRAM_NORM, w the turn's weight and c its character count.  At 0.5
 *   the n-gram vector of a turn would have about the same norm whatever its
 *   length, and length would speak only through the named length features:
 *   then a long story around one lookup, or a dictated message, is routed
 *   by its length alone.  At 0.4 (chosen on the development sets, see
 *   docs/classifier.md) the words of a long turn keep more of their say.
 *   Dividing by the exact n-gram count would need a second pass over the
 *   text; the characters are counted by a loop the compiler vectorises.
 *
 * - Counts enter as log(1 + count), so the tenth code mark adds less than
 *   the first, and indicators (the verbs) as 0 or 1.
 *
 * - Bounded cost.  Each turn is read up to SCAN_LIMIT bytes; the length
 *   features extrapolate the rest, so a megabyte of pasted text costs no more
 *   than 16 KB and still counts as long. */
#include "featurize.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon.h"
#include "scan.h"
#include "utf8.h"

#define SCAN_LIMIT 16384
#define HISTORY_TURNS 4
#define HISTORY_WEIGHT 1.0
#define SWITCH_WEIGHT 0.25

_Static_assert(HISTORY_TURNS == sizeof ((feature_focus *)0)->context / sizeof(size_t), "feature_focus holds the turns");

_Static_assert(LEXICON_ENTRIES < SCAN_LEXICON_SLOTS / 2, "the lexicon table stays sparse");

struct featurizer {
    scan_lexicon lex;
};

featurizer *featurizer_new(void)
{
    featurizer *fx = calloc(1, sizeof *fx);

    if (!fx) return NULL;
    for (size_t k = 0; k < LEXICON_ENTRIES; k++) {
        unsigned named;
        const char *text = lexicon_entry(k, &named);
        int rc = scan_lexicon_add(&fx->lex, text, named);
        /* Every entry is one n-gram, listed once, or it could never match. */
        assert(rc == 0);
        (void)rc;
    }
    return fx;
}

void featurizer_free(featurizer *fx) { free(fx); }

/* Characters of p[0, n): the bytes that are not UTF-8 continuation bytes. */
static size_t count_chars(const unsigned char *p, size_t n)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++) c += (p[i] & 0xC0) != 0x80;
    return c;
}

/* Appends named feature index with value to f[*k], unless the value is 0. */
static void add_named(feature *f, size_t *k, uint32_t index, double value)
{
    assert(*k < FEATURES_NNAMED);
    if (value != 0) f[(*k)++] = (feature){index, value};
}

/* One turn, at weight w: its n-grams, then its named features.  *plan
 * receives its count of steps, conditions and clauses. */
static void featurize_turn(const featurizer *fx, const feature_message *m, double w, bool origins, feature_fn fn,
                           void *ctx, unsigned *plan)
{
    static const uint32_t counted[] = {NF_STEPS, NF_COMPARE, NF_CALC, NF_CONDITIONS, NF_RELAY, NF_CLAUSES};
    size_t n = m->len < SCAN_LIMIT ? m->len : SCAN_LIMIT, units, k = 0;
    double stretch = n ? (double)m->len / (double)n : 1, chars, tokens;
    feature named[FEATURES_NNAMED];
    feature_origin at[FEATURES_NNAMED];
    scan_counts c;

    assert(m->text != NULL || m->len == 0);
    units = count_chars((const unsigned char *)m->text, n);
    scan_text(&fx->lex, m->text, n, w / pow(units ? (double)units : 1.0, FEATURES_NGRAM_NORM), origins, fn, ctx, &c);

    /* CJK characters (Han, kana, Hangul) are about a token each, letters of
     * Cyrillic, Arabic and the other alphabets about 2.5 to a token, other
     * text about four characters per token. */
    chars = (double)c.chars * stretch;
    tokens = ((double)c.wide + (double)c.dense / 2.5 + (double)(c.chars - c.wide - c.dense) / 4) * stretch;
    add_named(named, &k, NF_CHARS, w * log1p(chars));
    add_named(named, &k, NF_TOKENS, w * log1p(tokens));
    for (uint32_t f = NF_LINES; f < NF_CJK_SHARE; f++) add_named(named, &k, f, w * log1p(c.count[f]));
    add_named(named, &k, NF_CJK_SHARE, c.chars ? w * (double)c.wide / (double)c.chars : 0);
    for (uint32_t v = 0; v < NF_NVERBS; v++)
        if (c.verbs & (1u << v)) add_named(named, &k, NF_VERB + v, w);
    for (size_t i = 0; i < sizeof counted / sizeof counted[0]; i++)
        add_named(named, &k, counted[i], w * log1p(c.count[counted[i]]));
    /* With tools, the actions a request lists are its clauses. */
    *plan = c.count[NF_STEPS] + c.count[NF_CONDITIONS] + c.count[NF_CLAUSES];
    if (k == 0) return;
    for (size_t i = 0; origins && i < k; i++) at[i] = (feature_origin){NULL, m->text, 0};
    fn(ctx, named, origins ? at : NULL, k);
}

void featurize_focus(const feature_message *msgs, size_t n, feature_focus *out)
{
    assert(msgs != NULL || n == 0);
    memset(out, 0, sizeof *out);
    out->turn = n;
    for (size_t i = n; i-- > 0;) {
        if (!msgs[i].user) continue;
        if (out->turn == n) out->turn = i;
        else if (out->ncontext < HISTORY_TURNS) out->context[out->ncontext++] = i;
    }
    if (out->turn == n && n > 0) out->turn = n - 1;
    if (out->ncontext == 0) return;
    out->follow_up = lexicon_follow_up(msgs[out->turn].text, msgs[out->turn].len);
    out->context_weight = out->follow_up ? HISTORY_WEIGHT : SWITCH_WEIGHT;
}

void featurize(const featurizer *fx, const feature_message *msgs, size_t n, size_t ntools, bool origins,
               feature_fn fn, void *ctx)
{
    static const feature_origin whole[4];
    feature_focus fc;
    feature f[4];
    size_t k = 0, turns = 0;
    unsigned plan, ignored;

    assert(fx != NULL && fn != NULL);
    featurize_focus(msgs, n, &fc);
    if (fc.turn == n) return;
    featurize_turn(fx, &msgs[fc.turn], 1.0, origins, fn, ctx, &plan);
    for (size_t i = 0; i < fc.ncontext; i++)
        featurize_turn(fx, &msgs[fc.context[i]], fc.context_weight / (double)fc.ncontext, origins, fn, ctx,
                       &ignored);
    for (size_t i = 0; i < n; i++) turns += msgs[i].user;
    if (turns > 1) f[k++] = (feature){NF_TURNS, log1p((double)(turns - 1))};
    if (fc.follow_up) f[k++] = (feature){NF_FOLLOW_UP, 1};
    if (ntools > 0) f[k++] = (feature){NF_TOOLS, log1p((double)ntools)};
    if (ntools > 0 && plan > 0) f[k++] = (feature){NF_TOOL_PLAN, log1p(plan)};
    if (k > 0) fn(ctx, f, origins ? whole : NULL, k);
}

const char *feature_name(uint32_t index)
{
    return index < FEATURES_NNAMED ? lexicon_name(index) : NULL;
}

/* Appends the UTF-8 of cp to buf[*at], unless it would not fit with a NUL. */
static bool put(char *buf, size_t cap, size_t *at, uint32_t cp)
{
    unsigned char u[4];
    size_t n = utf8_encode(cp, u);

    if (*at + n >= cap) return false;
    memcpy(buf + *at, u, n);
    *at += n;
    return true;
}

void feature_display(const feature *f, const feature_origin *o, char *buf, size_t cap)
{
    const unsigned char *p = (const unsigned char *)(o->kind ? o->text : feature_name(f->index));
    size_t n, at = 0, i = 0;
    bool space = false;

    assert(buf != NULL && cap > 0);
    assert(p != NULL);
    n = o->kind ? o->len : strlen((const char *)p);
    for (const char *k = o->kind; k && *k; k++) put(buf, cap, &at, (unsigned char)*k);
    if (o->kind) put(buf, cap, &at, ':');
    while (i < n) {
        size_t len;
        uint32_t cp = scan_char(p + i, n - i, &len);

        i += len;
        if (scan_space(cp)) {
            space = true;
            continue;
        }
        if (space && !put(buf, cap, &at, ' ')) break;
        space = false;
        if (!put(buf, cap, &at, cp - 'A' < 26u ? cp + 32 : cp)) break;
    }
    buf[at] = '\0';
}
