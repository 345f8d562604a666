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
 * - Branches and pauses, with tools only.  A dictated tool request rarely
 *   has a comma: "明天早上要是低于五度的话 六点五十就开始预热 座椅加热都开三档
 *   要是不冷就七点提醒我" is a plan whose actions hang on a condition, and
 *   its steps are set apart by white space between Han characters, which
 *   no clause count saw.  tool_branches counts the branches (要是, 的话,
 *   否则, if, otherwise, falls, sinon, если, もし, 만약, إذا, ...) and
 *   tool_pauses that white space, in the request's instruction, as
 *   tool_plan counts its steps; both are read only with tools.  Keeping
 *   them out of every other request is the point: the model's other
 *   weights were fitted on single requests and conversations and measured
 *   on many evaluation sets, and a weight that only a tool request reads
 *   can be fitted afterwards (tiergate-train --base, the second stage)
 *   without moving any other score.
 *   Han-space-Han only: Korean puts spaces between all its words, and a
 *   space beside a Latin word or a number is ordinary typing.
 *
 * - Figures.  "4 of us, 3 rides each today and 2 tomorrow, is the day pass
 *   worth it" and "I came in at 9 50, it's 3 35, I spent 85 at Myer, what
 *   do I owe" read like chat: their words are a visitor's, and the model
 *   learned calc and compare as counts that many lookups have too ("how
 *   much is a day pass").  What sets them apart is the pair: a marker that
 *   asks for a choice (figures_choice: cheaper, worth, 划算, günstiger, ...)
 *   or for a computed answer (figures: how much, owe, 一共, 多少, combien,
 *   ...; LEXICON_ASKS, and the entries of figures itself, "how long", 何分,
 *   몇, ...) and FIGURES_MIN numbers or more to work it over, in the
 *   request's instruction.  They are two indicators
 *   because they are not alike: a choice over three figures is a
 *   comparison that needs a calculation, but "what's an 18% tip on 142.60"
 *   is a one-step sum with three numbers.  Like the tool features they
 *   are second-stage features: few requests have them, and their weights
 *   were fitted afterwards on rows the first stage never saw, moving no
 *   score of a request without them.  Two numbers are too few: "how much
 *   is 15% of 80" is a one-step sum.  Markers that name a rate or offer
 *   alternatives do not ask: "turn off alarms 1 2 and 3", "21 or 22
 *   degrees, fan 3" are commands.  Numbers written as words ("four of us",
 *   三个人) are not counted, as the numbers feature never counted them.
 *
 * - Numbers stated.  The first stage learned that numbers mean work: three
 *   of them add some two logits, and the export languages, whose training
 *   rows with several numbers were nearly all problems, have few words
 *   that say otherwise.  So "Wecker morgen 5:30 und nochmal 5:45 Lautstärke
 *   8", a shopping list with quantities, a reminder with a date, a time
 *   and an amount went to the cloud: half of such requests in Chinese and
 *   English, three in four in the export languages, on a development set
 *   written for it.  numbers_stated is 1 when the instruction has
 *   FIGURES_MIN numbers or more and asks for no figure, no choice and no
 *   question (no question word or mark), without tools: the shape of a
 *   request that hands figures over rather than asking for work on them.
 *   A question ("is the 16:05 from gate F23 on time?") keeps the first
 *   stage's reading, as does a request with tools, whose own features
 *   read its actions.  A second-stage feature too.
 *
 * - Quoted texts.  A request that hands over a text to work on ("Text to
 *   Coach Daniels: Hi Coach, ...", "翻译成英文：……", "Is this review positive
 *   or negative? \"...\"") is long, but its task is in the instruction, and
 *   the text's words, commas and length said "complex" to the model.  The
 *   text (what follows a colon in the first PAYLOAD_LEAD bytes after a relay
 *   word, or a closed quote of PAYLOAD_MIN bytes or more that opens in the
 *   first PAYLOAD_LEAD bytes or closes in the last) is read at
 *   PAYLOAD_WEIGHT of the turn's weight, with its own length, and `payload`
 *   is the log of its characters; only the instruction counts for the plan.
 *   After a colon without a relay word the rest is the task itself ("帮我算
 *   一下：……"), and a request that is all quote stays whole.  The bounds are
 *   in bytes, so 60 bytes are 20 CJK characters.  Deciding reads the first
 *   and the last PAYLOAD_LEAD bytes, searches once for the quote that closes
 *   or opens the one found there, and scans the words before a colon for a
 *   relay word; the text itself is read once, by the scan that featurizes it.
 *
 * - Length-normalised n-grams.  Each n-gram occurrence of a turn is worth
 *   w/c^FEATURES_NGRAM_NORM, w the turn's weight and c the character count
 *   of the turn (of the instruction, or of the quoted text).  At 0.5
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
 *   than 16 KB and still counts as long.  Such a turn is read whole, not
 *   split into instruction and quoted text. */
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
#define PAYLOAD_LEAD 120
#define PAYLOAD_MIN 60
#define PAYLOAD_WEIGHT 0.3
#define FIGURES_MIN 3

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

typedef struct span {
    const char *p;
    size_t n;
} span;

/* The quotes: opening and closing bytes.  “ closes „ in German and opens
 * an English quote. */
static const struct {
    const char *open, *close;
    size_t olen, clen;
} quotes[] = {
    {"\xE2\x80\x9C", "\xE2\x80\x9D", 3, 3}, /* “ ” */
    {"\xE2\x80\x9E", "\xE2\x80\x9C", 3, 3}, /* „ “ */
    {"\xC2\xAB", "\xC2\xBB", 2, 2},           /* « » */
    {"\xE3\x80\x8C", "\xE3\x80\x8D", 3, 3}, /* 「 」 */
    {"\xE3\x80\x8E", "\xE3\x80\x8F", 3, 3}, /* 『 』 */
    {"\"", "\"", 1, 1},
};
#define NQUOTES (sizeof quotes / sizeof quotes[0])

/* The quote that opens at t[i] (not an inch mark after a digit), or
 * NQUOTES. */
static size_t opens_at(const unsigned char *t, size_t n, size_t i)
{
    if (t[i] == '"' && i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9') return NQUOTES;
    for (size_t q = 0; q < NQUOTES; q++)
        if (i + quotes[q].olen <= n && memcmp(t + i, quotes[q].open, quotes[q].olen) == 0) return q;
    return NQUOTES;
}

/* The quote whose closing bytes end at t[end), or NQUOTES. */
static size_t closes_at(const unsigned char *t, size_t end)
{
    for (size_t q = 0; q < NQUOTES; q++)
        if (end >= quotes[q].clen && memcmp(t + end - quotes[q].clen, quotes[q].close, quotes[q].clen) == 0)
            return q;
    return NQUOTES;
}

/* The quoted text of a request that quotes one: a closed quote of at least
 * PAYLOAD_MIN bytes that opens in the first PAYLOAD_LEAD bytes ("Is this
 * review positive or negative? \"...\"") or closes in the last ("请判断下面
 * 这段话的情感：“……”", "“……”这段话里的日期是哪天"); a quotation in the middle
 * of a long text is part of the text.  True with the quote at *open, the
 * text at [*from, *to) and what follows the closing quote at *after; or
 * false.  Only the two ends are searched for quotes, so the cost does not
 * grow with the text but for one search of a closing or opening quote. */
static bool find_quote(const unsigned char *t, size_t n, size_t *open, size_t *from, size_t *to, size_t *after)
{
    size_t lead = n < PAYLOAD_LEAD ? n : PAYLOAD_LEAD;

    for (size_t i = 0; i < lead; i++) {
        size_t q = opens_at(t, n, i), j;

        if (q == NQUOTES) continue;
        for (j = i + quotes[q].olen; j + quotes[q].clen <= n && memcmp(t + j, quotes[q].close, quotes[q].clen); j++)
            continue;
        if (j + quotes[q].clen > n) break;
        if (j - (i + quotes[q].olen) >= PAYLOAD_MIN) {
            *open = i;
            *from = i + quotes[q].olen;
            *to = j;
            *after = j + quotes[q].clen;
            assert(*after <= n);
            return true;
        }
        i = j + quotes[q].clen - 1;
    }
    for (size_t end = n; end > n - lead; end--) {
        size_t q = closes_at(t, end), i;

        if (q == NQUOTES) continue;
        for (i = end - quotes[q].clen; i >= quotes[q].olen && memcmp(t + i - quotes[q].olen, quotes[q].open,
                                                                      quotes[q].olen);
             i--)
            continue;
        if (i < quotes[q].olen || end - quotes[q].clen - i < PAYLOAD_MIN) return false;
        *open = i - quotes[q].olen;
        *from = i;
        *to = end - quotes[q].clen;
        *after = end;
        assert(*from + PAYLOAD_MIN <= *to && end <= n);
        return true;
    }
    return false;
}

/* The first colon in the first PAYLOAD_LEAD bytes that is not part of a
 * time or a URL (followed by a digit or a slash), with PAYLOAD_MIN bytes
 * after it: its offset and length in *clen, or n. */
static size_t find_colon(const unsigned char *t, size_t n, size_t *clen)
{
    size_t lead = n < PAYLOAD_LEAD ? n : PAYLOAD_LEAD;

    for (size_t i = 1; i < lead; i++) {
        *clen = 0;
        if (t[i] == ':' && !(i + 1 < n && (t[i + 1] == '/' || (t[i + 1] >= '0' && t[i + 1] <= '9'))))
            *clen = 1;
        else if (i + 3 <= n && t[i] == 0xEF && t[i + 1] == 0xBC && t[i + 2] == 0x9A) /* ： */
            *clen = 3;
        if (*clen == 0) continue;
        return n - i - *clen >= PAYLOAD_MIN ? i : n;
    }
    return n;
}

static void count_only(void *ctx, const feature *f, const feature_origin *o, size_t n)
{
    (void)ctx;
    (void)f;
    (void)o;
    (void)n;
}

/* Whether s names a message or text to pass on (the lexicon's relay). */
static bool relays(const featurizer *fx, span s)
{
    scan_counts c;

    scan_text(&fx->lex, s.p, s.n, 0, false, count_only, NULL, &c);
    return c.count[NF_RELAY] > 0;
}

/* Whether spans hold at least two characters other than white space: an
 * instruction, not a request that is all quote. */
static bool says_something(const span *sp, size_t nsp)
{
    size_t c = 0;

    for (size_t s = 0; s < nsp; s++)
        for (size_t i = 0; i < sp[s].n && c < 2; i++) {
            unsigned char b = (unsigned char)sp[s].p[i];
            c += (b & 0xC0) != 0x80 && b != ' ' && b != '\t' && b != '\r' && b != '\n';
        }
    return c >= 2;
}

/* Splits a turn into the instruction (one or two spans) and the text it
 * quotes to work on: what follows a colon after a relay ("Text to Coach
 * Daniels: Hi Coach, ...", "翻译成英文：……"; after "帮我算一下：" it is the task
 * itself), else the text of find_quote().  Returns the number of
 * instruction spans, 0 when the turn quotes nothing. */
static size_t split_payload(const featurizer *fx, const char *text, size_t n, span instr[2], span *payload)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t clen, colon = find_colon(t, n, &clen), open = 0, from = 0, to = 0, after = 0;
    bool quote = find_quote(t, n, &open, &from, &to, &after);

    if (colon < n && (!quote || colon < open) && relays(fx, (span){text, colon})) {
        assert(colon + clen + PAYLOAD_MIN <= n);
        instr[0] = (span){text, colon};
        *payload = (span){text + colon + clen, n - colon - clen};
        return 1;
    }
    if (!quote) return 0;
    assert(open < from && from < to && to < after && after <= n);
    instr[0] = (span){text, open};
    instr[1] = (span){text + after, n - after};
    *payload = (span){text + from, to - from};
    return says_something(instr, 2) ? 2 : 0;
}

/* What the request's instruction says about its actions (read only when
 * it carries tools), its figures and whether it asks. */
typedef struct instr_counts {
    unsigned plan;        /* steps, conditions and clauses */
    unsigned branches;
    unsigned pauses;
    unsigned numbers;
    unsigned asks;        /* markers that ask for a figure (NF_FIGURES' count) */
    unsigned choices;     /* markers that ask for a choice (NF_FIGURES_CHOICE's) */
    unsigned questions;   /* question words and question marks */
} instr_counts;

/* Spans of one turn read at weight w, as one text: their n-grams, then
 * their named features, lengths stretched by stretch.  *ic receives their
 * counts for the request's own features.  Returns their characters. */
static size_t featurize_spans(const featurizer *fx, const span *sp, size_t nsp, const char *turn, double w,
                              double stretch, bool origins, feature_fn fn, void *ctx, instr_counts *ic)
{
    static const uint32_t counted[] = {NF_STEPS, NF_COMPARE, NF_CALC, NF_CONDITIONS, NF_RELAY, NF_CLAUSES};
    size_t units = 0, k = 0;
    double chars, tokens, scale;
    feature named[FEATURES_NNAMED];
    feature_origin at[FEATURES_NNAMED];
    scan_counts c, part;

    for (size_t s = 0; s < nsp; s++) units += count_chars((const unsigned char *)sp[s].p, sp[s].n);
    scale = w / pow(units ? (double)units : 1.0, FEATURES_NGRAM_NORM);
    memset(&c, 0, sizeof c);
    for (size_t s = 0; s < nsp; s++) {
        scan_text(&fx->lex, sp[s].p, sp[s].n, scale, origins, fn, ctx, &part);
        c.chars += part.chars;
        c.wide += part.wide;
        c.dense += part.dense;
        c.verbs |= part.verbs;
        for (size_t f = 0; f < NF_END; f++) c.count[f] += part.count[f];
    }

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
    /* With tools, the actions a request lists are its clauses; its figures
     * and questions are read with or without tools. */
    *ic = (instr_counts){c.count[NF_STEPS] + c.count[NF_CONDITIONS] + c.count[NF_CLAUSES],
                         c.count[NF_TOOL_BRANCHES], c.count[NF_TOOL_PAUSES], c.count[NF_NUMBERS],
                         c.count[NF_FIGURES], c.count[NF_FIGURES_CHOICE], c.count[NF_QWORDS] + c.count[NF_QMARKS]};
    if (k == 0) return units;
    for (size_t i = 0; origins && i < k; i++) at[i] = (feature_origin){NULL, turn, 0};
    fn(ctx, named, origins ? at : NULL, k);
    return units;
}

/* One turn, at weight w.  A text it quotes to work on is read at
 * PAYLOAD_WEIGHT of it, and only the instruction counts for the plan and
 * the figures.  A turn longer than SCAN_LIMIT is read whole: its length is
 * extrapolated, which a split would have to share out. */
static void featurize_turn(const featurizer *fx, const feature_message *m, double w, bool origins, feature_fn fn,
                           void *ctx, instr_counts *ic)
{
    size_t n = m->len < SCAN_LIMIT ? m->len : SCAN_LIMIT, ninstr = 0, chars;
    span instr[2], payload;
    instr_counts ignored;
    feature f;

    assert(m->text != NULL || m->len == 0);
    if (m->len <= SCAN_LIMIT) ninstr = split_payload(fx, m->text, n, instr, &payload);
    if (ninstr == 0) {
        featurize_spans(fx, &(span){m->text, n}, 1, m->text, w, (double)m->len / (double)(n ? n : 1), origins,
                        fn, ctx, ic);
        return;
    }
    featurize_spans(fx, instr, ninstr, m->text, w, 1, origins, fn, ctx, ic);
    chars = featurize_spans(fx, &payload, 1, m->text, w * PAYLOAD_WEIGHT, 1, origins, fn, ctx, &ignored);
    f = (feature){NF_PAYLOAD, w * log1p((double)chars)};
    fn(ctx, &f, origins ? &(feature_origin){NULL, m->text, 0} : NULL, 1);
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
    static const feature_origin whole[8];
    feature_focus fc;
    feature f[8];
    size_t k = 0, turns = 0;
    instr_counts ic, ignored;
    bool figures;

    assert(fx != NULL && fn != NULL);
    featurize_focus(msgs, n, &fc);
    if (fc.turn == n) return;
    featurize_turn(fx, &msgs[fc.turn], 1.0, origins, fn, ctx, &ic);
    for (size_t i = 0; i < fc.ncontext; i++)
        featurize_turn(fx, &msgs[fc.context[i]], fc.context_weight / (double)fc.ncontext, origins, fn, ctx,
                       &ignored);
    for (size_t i = 0; i < n; i++) turns += msgs[i].user;
    if (turns > 1) f[k++] = (feature){NF_TURNS, log1p((double)(turns - 1))};
    if (fc.follow_up) f[k++] = (feature){NF_FOLLOW_UP, 1};
    if (ntools > 0) f[k++] = (feature){NF_TOOLS, log1p((double)ntools)};
    if (ntools > 0 && ic.plan > 0) f[k++] = (feature){NF_TOOL_PLAN, log1p(ic.plan)};
    if (ntools > 0 && ic.branches > 0) f[k++] = (feature){NF_TOOL_BRANCHES, log1p(ic.branches)};
    if (ntools > 0 && ic.pauses > 0) f[k++] = (feature){NF_TOOL_PAUSES, log1p(ic.pauses)};
    figures = ic.numbers >= FIGURES_MIN;
    if (figures && ic.asks > 0) f[k++] = (feature){NF_FIGURES, 1};
    if (figures && ic.choices > 0) f[k++] = (feature){NF_FIGURES_CHOICE, 1};
    if (figures && ntools == 0 && ic.asks == 0 && ic.choices == 0 && ic.questions == 0)
        f[k++] = (feature){NF_NUMBERS_STATED, 1};
    assert(k <= sizeof f / sizeof f[0]);
    if (k > 0) fn(ctx, f, origins ? whole : NULL, k);
}

bool feature_second_stage(uint32_t index)
{
    return index == NF_TOOLS || index == NF_TOOL_PLAN || index == NF_TOOL_BRANCHES || index == NF_TOOL_PAUSES ||
           index == NF_FIGURES || index == NF_FIGURES_CHOICE || index == NF_NUMBERS_STATED;
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
