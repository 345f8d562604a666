/* lexicon: the named features of featurize and what counts for them.
 *
 * A named feature has a fixed index below FEATURES_NNAMED and a stable name
 * that /v1/route and the docs show.  Some are counts of lexicon entries
 * (question words, constraint markers) or their presence (the instruction
 * verbs); the entries are lower-case words, word pairs and 1-3 character
 * CJK or Hangul strings, numbers written as 0, in Chinese, English and the
 * export languages.  Others count marks in the text: list
 * items, maths symbols, operators.  This module only says what counts; the
 * scanner does the reading and counting. */
#ifndef TIERGATE_LEXICON_H
#define TIERGATE_LEXICON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "featurize.h"

enum named_feature {
    NF_CHARS, NF_TOKENS, NF_TURNS, NF_LINES, NF_CODE_FENCES, NF_CODE, NF_MATH, NF_NUMBERS, NF_OPERATORS,
    NF_QWORDS, NF_QMARKS, NF_LISTS, NF_CONSTRAINTS, NF_CJK_SHARE,
    NF_VERB,                      /* the first of NF_NVERBS instruction verbs */
    NF_NVERBS = 16,
    /* Conversation features: whether the request is a follow-up, its tools,
     * and the markers of a plan, a comparison or a calculation. */
    NF_FOLLOW_UP = NF_VERB + NF_NVERBS, NF_TOOLS, NF_TOOL_PLAN, NF_STEPS, NF_COMPARE, NF_CALC, NF_CONDITIONS,
    NF_RELAY,                     /* a message or text to pass on */
    NF_CLAUSES,                   /* commas, semicolons (also Arabic), enumeration commas */
    NF_PAYLOAD,                   /* log(1 + characters) of a quoted text the request works on */
    /* Named features FEATURES_EXTENDS lacks, all the second stage's (as
     * are tools and tool_plan above).  Features of a request that carries
     * tools only: branches ("要是...就", "otherwise") and the pauses
     * of dictation (white space between two Han characters), counted in
     * every scan but read, from the request's instruction, only as the
     * actions of a tool request. */
    NF_TOOL_BRANCHES, NF_TOOL_PAUSES,
    /* A request that asks for a figure, or for a choice, over figures: at
     * least FIGURES_MIN numbers in its instruction and a marker that asks
     * for one (LEXICON_ASKS on a calc entry or a question word, or an entry
     * of NF_FIGURES itself) or for a choice (LEXICON_ASKS on a compare
     * entry) (featurize.c).  Their counts are the markers'. */
    NF_FIGURES, NF_FIGURES_CHOICE,
    /* A request without tools whose instruction has FIGURES_MIN numbers or
     * more and asks for no figure, no choice and no question: a reminder,
     * a list, a message to send, settings, an expense to log (featurize.c). */
    NF_NUMBERS_STATED,
    NF_END
};
_Static_assert(NF_END == FEATURES_NNAMED, "FEATURES_NNAMED counts the named features");

/* Or-ed into the named feature of a calc entry that asks for a computed
 * answer ("how much", "owe", "一共") or a question word that asks for a
 * quantity (多少, 几, combien, сколько, 얼마), which then also counts for
 * NF_FIGURES, or of a compare entry that asks for a choice ("cheaper",
 * "worth", "划算"), which also counts for NF_FIGURES_CHOICE.  Entries that
 * name a figure or a rate without asking for one ("off", "per", "每月",
 * "discount") or offer alternatives ("or", "还是", "option") do not: "turn
 * off alarms 1 2 and 3" and "21 or 22, fan 3" are commands.  Questions for
 * a quantity that no first-stage feature counts ("how long", "wie viel",
 * cuántos, 何分, 몇) are entries of NF_FIGURES itself: they count for
 * nothing else, so the first stage reads every request as before. */
#define LEXICON_ASKS 0x40u
_Static_assert(FEATURES_NNAMED <= LEXICON_ASKS, "a named feature leaves the flag's bit free");

#define LEXICON_ENTRIES 605

/* Name of named feature index (< FEATURES_NNAMED). */
const char *lexicon_name(uint32_t index);
/* Entry k (< LEXICON_ENTRIES): its text, and in *named the named feature
 * it counts for, with LEXICON_ASKS or-ed in when it also asks for a figure
 * or a choice. */
const char *lexicon_entry(size_t k, unsigned *named);

/* Whether p[i], the first non-space of a line of p[0, n), starts a list
 * item: "1." "2)" "3、" "(4)" "- " "* " "• " "①" "一、" (not "1.5"). */
bool lexicon_list_item(const unsigned char *p, size_t n, size_t i);
/* Whether text[0, len), a request turn, reads as a follow-up that only
 * makes sense with the turns before it: short, and continuing ("继续",
 * "为什么", "举个例子", "go on", "why?", "and in Go?"). */
bool lexicon_follow_up(const char *text, size_t len);
/* Maths notation: mathematical operators and symbols, Greek letters,
 * super- and subscripts, ^ and $ (LaTeX). */
bool lexicon_math_mark(uint32_t cp);
/* An operator between operands: + - * / = < > ^ % x-sign, division sign. */
bool lexicon_operator(uint32_t cp);

#endif
