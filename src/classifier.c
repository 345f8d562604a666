/* classifier: a hand-weighted logistic model of request complexity.
 *
 * The gateway must decide in microseconds, before any model runs, whether a
 * request is one the small on-device model answers well ("打开空调", "what is
 * 2+3", "hello") or one that needs a bigger tier (proofs, code, essays, plans,
 * multi-step maths).  This file is the first answer to that question: twelve
 * features read off the text, each multiplied by a hand-set weight, summed with
 * a bias and squashed by the logistic function.  A learned model will replace
 * the weights later; the features, their names and the header stay.
 *
 * Design choices and their trade-offs:
 *
 * - Cues, not length.  Length is the strongest single signal in every corpus we
 *   looked at, and also the easiest to fool: a rambling, polite request to open
 *   the sunroof is long and trivial.  So length enters only as log(tokens) with
 *   a modest weight, and explicit cues (code, maths, "prove", "写一篇", ...)
 *   carry most of the score, while simple-command cues (in-car and kiosk
 *   commands, translate, convert) and chit-chat pull it down.  Every cue
 *   feature saturates at a cap, so no single kind of evidence, repeated, can
 *   decide alone.
 *
 * - Chinese has no spaces, so nothing here splits on words.  Tokens are
 *   estimated per code point: a CJK (or kana, Hangul, full-width) character is
 *   about one token, other text about four characters per token.  Chinese
 *   keywords match anywhere; ASCII keywords match only at word starts and,
 *   unless marked as prefixes with a trailing '*', only at word ends, so "plan"
 *   does not fire on "planet" nor "set" on "dataset".
 *
 * - One linear pass per message, a word or character at a time.  Keywords
 *   live in one table sorted by bytes; at each candidate position (an ASCII
 *   word start, a punctuation byte, a non-ASCII character) a binary search on
 *   the next two bytes finds the few entries that can match, and a small
 *   per-scan memo skips the search for repeated keys.  A 2 KB prompt costs
 *   microseconds.  Each message is scanned up to SCAN_LIMIT bytes and the
 *   token count of the rest is extrapolated, so a megabyte of pasted text
 *   cannot stall the event loop.
 *
 * - The request is the last user message; earlier user turns only feed the
 *   "history" feature (their strongest complexity cues), so a short follow-up
 *   such as "继续" or "and in Python?" inside a hard conversation stays hard,
 *   while "open the window" after an essay still scores low because its own
 *   command cue outweighs the inherited cue.  System, assistant and tool
 *   messages are ignored: a long system prompt says nothing about the request.
 *
 * - Input is untrusted bytes.  Invalid or truncated UTF-8 counts as one
 *   character per byte and never reads past len. */
#include "classifier.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum {
    F_TOKENS, F_TURNS, F_CODE, F_MATH, F_REASONING, F_WRITING, F_PLANNING,
    F_MULTI_PART, F_COMMAND, F_CHIT_CHAT, F_QUESTIONS, F_HISTORY
};

static const char *const feature_names[CLASSIFIER_NFEATURES] = {
    "est_tokens", "turns", "code", "math", "reasoning", "writing", "planning",
    "multi_part", "simple_command", "chit_chat", "question_words", "history",
};

/* With no cue at all, a 3-token prompt scores about 0.14, a 30-token one
 * 0.34, and only a long paragraph (about 100 tokens) reaches 0.5: cheap by
 * default, and any simple-command cue keeps long chatter below 0.5. */
#define BIAS (-2.6)

/* Weight per unit of feature value, and the value's cap.  Cue features are
 * sums of keyword strengths (1.0 is one clear cue), so the weights say how far
 * one clear cue moves the logit and the caps bound how far many can. */
static const struct { double weight, cap; } model[CLASSIFIER_NFEATURES] = {
    /* est_tokens: ln(1+tokens).  0.55 puts 10 tokens at +1.3 and 500 at +3.4:
     * length helps a borderline cue over the line but rarely decides. */
    [F_TOKENS]     = {0.55, 9.0},
    /* turns: user turns.  Long conversations lean slightly complex; the
     * history feature carries the real signal. */
    [F_TURNS]      = {0.05, 10.0},
    /* code: a fence or #include alone (2.0) is enough to cross 0.5 for any
     * non-trivial prompt; small models write poor code. */
    [F_CODE]       = {0.9, 4.0},
    /* math: operators and quantities count too, so "what is 2+3" (+1.0)
     * stays simple while a maths word or a word problem's several numbers
     * decide. */
    [F_MATH]       = {0.9, 4.0},
    /* reasoning, writing, planning: one strong verb ("prove", "写一篇",
     * "design", strength 1.5-2.0) lifts a short prompt to about 0.5. */
    [F_REASONING]  = {1.0, 3.0},
    [F_WRITING]    = {1.0, 3.0},
    [F_PLANNING]   = {0.9, 3.0},
    /* multi_part: numbered items, several questions, explicit constraints.
     * Each is weak, but together they mark a task with many parts. */
    [F_MULTI_PART] = {0.5, 4.0},
    /* simple_command: negative.  Two cues ("open" + "sunroof") cost -1.8,
     * more than any sane amount of politeness adds through length. */
    [F_COMMAND]    = {-1.1, 3.0},
    /* chit_chat: negative, capped low so a "thanks" in a hard prompt costs
     * little. */
    [F_CHIT_CHAT]  = {-0.7, 1.5},
    /* question_words: several questions in one message want a longer answer;
     * one question word is common in simple queries, hence the small weight. */
    [F_QUESTIONS]  = {0.2, 4.0},
    /* history: value is already in logit units (the strongest cue sum of an
     * earlier turn), so weight ~1 lets a bare follow-up inherit it. */
    [F_HISTORY]    = {0.9, 4.0},
};

/* Keyword table, sorted by bytes (ASCII lower case; LC_ALL=C sort order), so
 * that entries with the same key (see text_key) are adjacent and binary
 * search finds them; a debug-build assert checks the order.
 * A trailing '*' marks a prefix: "analy*" matches analyse, analyze, analysis.
 * Strength 1.0 is one clear cue of its feature. */
typedef struct keyword {
    char text[19];         /* in the entry, not behind a pointer: binary search
                              then reads one contiguous array */
    unsigned char len;     /* strlen(text), including a trailing '*' */
    unsigned char feature;
    float strength;
} keyword;

#define K(s, f, w) {s, sizeof(s) - 1, F_##f, (float)(w)}

static const keyword keywords[] = {
    K("#!/", CODE, 2.0), K("#include", CODE, 2.0), K("$$", MATH, 1.5), K("()", CODE, 0.6),
    K("</", CODE, 0.8), K("=>", CODE, 1.0), K("\\(", MATH, 1.0), K("\\frac", MATH, 2.0),
    K("\\int", MATH, 2.0), K("\\sqrt", MATH, 2.0), K("\\sum", MATH, 2.0), K("```", CODE, 2.0),
    K("a/c", COMMAND, 1.0), K("ac", COMMAND, 0.8), K("act as", WRITING, 1.2),
    K("additionally", MULTI_PART, 0.5), K("air conditioning", COMMAND, 1.0),
    K("alarm", COMMAND, 0.8), K("algorithm*", CODE, 1.2), K("analy*", REASONING, 1.5),
    K("api", CODE, 0.6), K("architect*", PLANNING, 1.5), K("argue", REASONING, 1.2),
    K("argument", REASONING, 0.8), K("array*", CODE, 0.8), K("article*", WRITING, 1.5),
    K("assess", REASONING, 1.0), K("at least", MULTI_PART, 0.8), K("at most", MULTI_PART, 0.8),
    K("average", MATH, 0.6), K("bash", CODE, 1.2), K("best practice*", PLANNING, 0.8),
    K("blog*", WRITING, 1.2), K("budget", PLANNING, 0.8), K("build", PLANNING, 0.5),
    K("bullet*", MULTI_PART, 0.6), K("business", PLANNING, 0.6), K("bye", CHIT_CHAT, 1.0),
    K("c#", CODE, 1.2), K("c++", CODE, 1.5), K("calculate", MATH, 0.6), K("call", COMMAND, 0.6),
    K("chapter", WRITING, 1.0), K("class", CODE, 0.4), K("classify", COMMAND, 0.6),
    K("close", COMMAND, 0.6), K("code", CODE, 1.0), K("coding", CODE, 1.0),
    K("come up with", WRITING, 0.8), K("compare", REASONING, 1.2), K("comparison", REASONING, 1.2),
    K("compile*", CODE, 1.0), K("compose", WRITING, 1.0), K("compute", MATH, 0.5),
    K("console.log", CODE, 2.0), K("constraint*", MULTI_PART, 1.0), K("contrast", REASONING, 1.0),
    K("convert", COMMAND, 0.6), K("craft", WRITING, 0.8), K("create", PLANNING, 0.5),
    K("critique", REASONING, 1.2), K("css", CODE, 1.0), K("curriculum", PLANNING, 1.2),
    K("database", CODE, 0.8), K("dataset", CODE, 0.8), K("debug*", CODE, 1.0),
    K("deduce", REASONING, 1.5), K("def", CODE, 1.0), K("define", COMMAND, 0.6),
    K("defrost", COMMAND, 1.0), K("derivation", REASONING, 2.0), K("derivative*", MATH, 1.5),
    K("derive*", REASONING, 2.0), K("design", PLANNING, 1.2), K("designing", PLANNING, 1.2),
    K("dial", COMMAND, 0.8), K("directions", COMMAND, 0.8), K("discuss", REASONING, 1.0),
    K("docker", CODE, 1.0), K("draft", WRITING, 1.0), K("eigen*", MATH, 1.5),
    K("embody", WRITING, 1.0), K("ensure", MULTI_PART, 0.6), K("equation*", MATH, 1.5),
    K("error", CODE, 0.6), K("essay*", WRITING, 2.0), K("evaluate", REASONING, 1.2),
    K("explain*", REASONING, 0.8), K("finally", MULTI_PART, 0.4), K("first,", MULTI_PART, 0.4),
    K("following", MULTI_PART, 0.6), K("format*", MULTI_PART, 0.6), K("formula*", MATH, 1.0),
    K("framework", PLANNING, 1.0), K("function*", CODE, 0.8), K("gas station", COMMAND, 1.0),
    K("generate", WRITING, 0.6), K("geometry", MATH, 1.0), K("git", CODE, 0.8),
    K("github", CODE, 0.8), K("golang", CODE, 1.5), K("good morning", CHIT_CHAT, 1.0),
    K("good night", CHIT_CHAT, 1.0), K("goodbye", CHIT_CHAT, 1.0), K("half", MATH, 0.4),
    K("headlights", COMMAND, 1.0), K("heater", COMMAND, 0.8), K("heating", COMMAND, 0.6),
    K("hello", CHIT_CHAT, 1.0), K("hey", CHIT_CHAT, 1.0), K("hi", CHIT_CHAT, 1.0),
    K("how", QUESTIONS, 1.0), K("how are you", CHIT_CHAT, 1.0), K("how many", MATH, 0.3),
    K("how much", MATH, 0.3), K("html", CODE, 1.0), K("hypothes*", REASONING, 1.0),
    K("ideas", PLANNING, 0.6), K("imagine", WRITING, 0.8), K("implement*", PLANNING, 1.2),
    K("implications", REASONING, 1.2), K("import", CODE, 0.4), K("in addition", MULTI_PART, 0.5),
    K("in the style of", WRITING, 1.0), K("integral*", MATH, 2.0), K("itinerar*", PLANNING, 1.5),
    K("java", CODE, 1.2), K("javascript", CODE, 1.5), K("joke", CHIT_CHAT, 0.8),
    K("json", CODE, 0.8), K("justify", REASONING, 1.5), K("kotlin", CODE, 1.2),
    K("lambda", CODE, 1.0), K("letter", WRITING, 1.0), K("lights", COMMAND, 0.6),
    K("linux", CODE, 0.6), K("list", MULTI_PART, 0.4), K("logarithm", MATH, 1.5),
    K("lol", CHIT_CHAT, 1.0), K("loop", CODE, 0.5), K("louder", COMMAND, 1.0),
    K("lyrics", WRITING, 1.5), K("machine learning", CODE, 1.0), K("make sure", MULTI_PART, 0.6),
    K("marketing", PLANNING, 0.8), K("matrices", MATH, 1.0), K("matrix", MATH, 1.0),
    K("model", CODE, 0.4), K("music", COMMAND, 0.6), K("must", MULTI_PART, 0.6),
    K("mute", COMMAND, 1.0), K("navigate", COMMAND, 1.0), K("navigation", COMMAND, 1.0),
    K("neural", CODE, 1.0), K("next song", COMMAND, 1.0), K("no more than", MULTI_PART, 0.8),
    K("novel", WRITING, 1.5), K("open", COMMAND, 0.6), K("opinion", REASONING, 0.6),
    K("optimi*", PLANNING, 1.0), K("outline", PLANNING, 0.8), K("paragraph*", WRITING, 0.8),
    K("parking", COMMAND, 0.6), K("pause", COMMAND, 0.8), K("percent", MATH, 0.4),
    K("persona", WRITING, 1.2), K("persuasive", WRITING, 1.2), K("php", CODE, 1.2),
    K("plan", PLANNING, 1.0), K("planning", PLANNING, 1.0), K("plans", PLANNING, 1.0),
    K("play", COMMAND, 0.5), K("plugin", CODE, 0.6), K("poem*", WRITING, 1.5),
    K("poetry", WRITING, 1.5), K("polynomial", MATH, 1.5), K("powershell", CODE, 1.5),
    K("pretend", WRITING, 1.2), K("prime", MATH, 0.6), K("printf", CODE, 1.5),
    K("probability", MATH, 1.5), K("program*", CODE, 0.8), K("proof", REASONING, 2.0),
    K("proposal", PLANNING, 1.0), K("pros and cons", REASONING, 1.2), K("prove*", REASONING, 2.0),
    K("python", CODE, 1.5), K("quadratic", MATH, 1.0), K("query", CODE, 0.5),
    K("quieter", COMMAND, 1.0), K("radio", COMMAND, 0.8), K("reasoning", REASONING, 1.0),
    K("reasons", REASONING, 0.6), K("regex", CODE, 1.5), K("remind me", COMMAND, 1.0),
    K("report", WRITING, 0.6), K("requirement*", MULTI_PART, 0.8), K("return", CODE, 0.4),
    K("rewrite", COMMAND, 0.6), K("roadmap", PLANNING, 1.2), K("role play", WRITING, 1.5),
    K("role-play", WRITING, 1.5), K("roleplay", WRITING, 1.5), K("root cause", REASONING, 1.0),
    K("rust", CODE, 0.8), K("schema", CODE, 0.8), K("scrape", CODE, 1.0), K("script*", CODE, 0.8),
    K("seat", COMMAND, 0.6), K("select", CODE, 0.5), K("server", CODE, 0.4),
    K("set", COMMAND, 0.3), K("skip", COMMAND, 0.6), K("slogan", WRITING, 0.8),
    K("smart contract", CODE, 1.0), K("solve", MATH, 1.0), K("song", COMMAND, 0.6),
    K("speech", WRITING, 1.2), K("spell", COMMAND, 0.6), K("sql", CODE, 1.5), K("sqrt", MATH, 1.5),
    K("ssh", CODE, 0.8), K("std::", CODE, 2.0), K("step by step", REASONING, 1.5),
    K("step-by-step", REASONING, 1.5), K("stories", WRITING, 1.5), K("story", WRITING, 1.5),
    K("strateg*", PLANNING, 1.2), K("suggest", PLANNING, 0.4), K("sum", MATH, 0.6),
    K("sunroof", COMMAND, 1.0), K("swift", CODE, 0.6), K("switch off", COMMAND, 1.0),
    K("switch on", COMMAND, 1.0), K("table", MULTI_PART, 0.5), K("temperature", COMMAND, 0.6),
    K("thank*", CHIT_CHAT, 1.0), K("theorem", MATH, 1.5), K("timer", COMMAND, 0.8),
    K("tire", COMMAND, 0.6), K("tires", COMMAND, 0.6), K("trade-off*", REASONING, 1.2),
    K("tradeoff*", REASONING, 1.2), K("traffic", COMMAND, 0.6), K("translate", COMMAND, 0.8),
    K("triangle", MATH, 0.8), K("turn down", COMMAND, 1.0), K("turn off", COMMAND, 1.0),
    K("turn on", COMMAND, 1.0), K("turn up", COMMAND, 1.0), K("twice", MATH, 0.5),
    K("typescript", CODE, 1.5), K("variable*", CODE, 0.8), K("vector", MATH, 0.6),
    K("volume", COMMAND, 1.0), K("weather", COMMAND, 1.0), K("what", QUESTIONS, 1.0),
    K("what time", COMMAND, 1.0), K("when", QUESTIONS, 1.0), K("where", QUESTIONS, 1.0),
    K("which", QUESTIONS, 1.0), K("who", QUESTIONS, 1.0), K("whom", QUESTIONS, 1.0),
    K("whose", QUESTIONS, 1.0), K("why", QUESTIONS, 1.0), K("why", REASONING, 0.6),
    K("window*", COMMAND, 0.6), K("words", MULTI_PART, 0.6), K("workflow", PLANNING, 0.8),
    K("write", WRITING, 1.0), K("±", MATH, 1.0), K("²", MATH, 1.0), K("³", MATH, 1.0),
    K("×", MATH, 0.4), K("÷", MATH, 0.4), K("π", MATH, 1.0), K("∑", MATH, 2.0), K("√", MATH, 1.5),
    K("∞", MATH, 1.0), K("∫", MATH, 2.0), K("≠", MATH, 0.8), K("≤", MATH, 0.8), K("≥", MATH, 0.8),
    K("一半", MATH, 0.4), K("一步一步", REASONING, 1.2), K("三角形", MATH, 0.8), K("上一首", COMMAND, 1.0),
    K("下一首", COMMAND, 1.0), K("不少于", MULTI_PART, 1.0), K("不等式", MATH, 1.5),
    K("不超过", MULTI_PART, 0.8), K("为什么", REASONING, 0.6), K("为何", QUESTIONS, 1.0),
    K("什么", QUESTIONS, 1.0), K("代码", CODE, 1.5), K("以下", MULTI_PART, 0.6), K("优化", PLANNING, 1.0),
    K("优缺点", REASONING, 1.2), K("作文", WRITING, 2.0), K("你好", CHIT_CHAT, 1.0),
    K("你是一位", WRITING, 1.2), K("你是一名", WRITING, 1.2), K("你是谁", CHIT_CHAT, 1.0),
    K("你认为", REASONING, 0.8), K("倍", MATH, 0.6), K("假如你是", WRITING, 1.5), K("假设", REASONING, 0.8),
    K("公式", MATH, 1.0), K("关掉", COMMAND, 1.0), K("关闭", COMMAND, 1.0), K("其次", MULTI_PART, 0.5),
    K("再见", CHIT_CHAT, 1.0), K("写一个", WRITING, 1.0), K("写一封", WRITING, 1.5),
    K("写一段", WRITING, 1.2), K("写一篇", WRITING, 2.0), K("写一首", WRITING, 1.5), K("几", QUESTIONS, 1.0),
    K("几何", MATH, 1.0), K("几点", COMMAND, 1.0), K("函数", MATH, 1.0), K("分之", MATH, 0.6),
    K("分别", MULTI_PART, 0.6), K("分析", REASONING, 1.5), K("分类", COMMAND, 0.6),
    K("切歌", COMMAND, 1.0), K("列出", MULTI_PART, 0.6), K("创作", WRITING, 1.5),
    K("判断", REASONING, 0.8), K("利弊", REASONING, 1.2), K("剧本", WRITING, 1.5), K("加热", COMMAND, 0.6),
    K("包括", MULTI_PART, 0.5), K("区别", REASONING, 0.8), K("原因", REASONING, 0.6),
    K("吗", QUESTIONS, 1.0), K("呢", QUESTIONS, 1.0), K("哈哈", CHIT_CHAT, 1.0),
    K("哪", QUESTIONS, 1.0), K("嗨", CHIT_CHAT, 1.0), K("在吗", CHIT_CHAT, 1.0), K("多少", MATH, 0.3),
    K("多少", QUESTIONS, 1.0), K("大灯", COMMAND, 1.0), K("天气", COMMAND, 1.0), K("天窗", COMMAND, 1.0),
    K("如何", PLANNING, 0.4), K("如何", QUESTIONS, 1.0), K("如何看待", REASONING, 1.0),
    K("字以内", MULTI_PART, 0.8), K("字左右", MULTI_PART, 0.8), K("定理", MATH, 1.5),
    K("实现", PLANNING, 1.2), K("对话", WRITING, 0.6), K("导数", MATH, 1.5), K("导航", COMMAND, 1.0),
    K("小说", WRITING, 1.0), K("帮我写", WRITING, 1.0), K("平均", MATH, 0.6), K("平方", MATH, 0.6),
    K("并且", MULTI_PART, 0.4), K("座椅", COMMAND, 1.0), K("建议", PLANNING, 0.6), K("开启", COMMAND, 1.0),
    K("必须", MULTI_PART, 0.6), K("怎么", QUESTIONS, 1.0), K("怎么看", REASONING, 0.8),
    K("总共", MATH, 0.4), K("您好", CHIT_CHAT, 1.0), K("打开", COMMAND, 1.0), K("打电话", COMMAND, 1.0),
    K("扩写", WRITING, 1.5), K("扮演", WRITING, 1.5), K("报告", WRITING, 1.0), K("拨打", COMMAND, 1.0),
    K("换算", COMMAND, 0.8), K("排列", MATH, 1.0), K("探讨", REASONING, 1.2), K("接口", CODE, 0.6),
    K("推导", REASONING, 2.0), K("推断", REASONING, 1.5), K("推理", REASONING, 1.5),
    K("提醒我", COMMAND, 1.0), K("播放", COMMAND, 1.0), K("撰写", WRITING, 1.5), K("改写", COMMAND, 0.6),
    K("攻略", PLANNING, 1.2), K("放一首", COMMAND, 1.0), K("故事", WRITING, 1.5), K("数列", MATH, 1.5),
    K("数据库", CODE, 1.0), K("文案", WRITING, 1.2), K("文章", WRITING, 1.5), K("方案", PLANNING, 1.5),
    K("方程", MATH, 1.5), K("早上好", CHIT_CHAT, 1.0), K("晚安", CHIT_CHAT, 1.0), K("暂停", COMMAND, 1.0),
    K("最后", MULTI_PART, 0.4), K("来一首", COMMAND, 1.0), K("架构", PLANNING, 1.5),
    K("格式", MULTI_PART, 0.6), K("概率", MATH, 1.5), K("歌", COMMAND, 0.6), K("歌词", WRITING, 1.2),
    K("步骤", PLANNING, 0.8), K("每", MATH, 0.4), K("比较", REASONING, 1.2), K("求解", MATH, 1.0),
    K("流程", PLANNING, 0.8), K("温度", COMMAND, 0.6), K("演讲稿", WRITING, 1.5), K("生成", WRITING, 0.6),
    K("看法", REASONING, 0.8), K("矩阵", MATH, 1.0), K("积分", MATH, 2.0), K("程序", CODE, 1.2),
    K("空调", COMMAND, 1.0), K("笑话", CHIT_CHAT, 0.8), K("等于多少", COMMAND, 0.6),
    K("策略", PLANNING, 1.2), K("算法", CODE, 1.2), K("续写", WRITING, 1.5), K("编写", CODE, 1.0),
    K("编程", CODE, 1.5), K("翻译", COMMAND, 0.8), K("脚本", CODE, 1.2), K("至少", MULTI_PART, 0.8),
    K("行程", PLANNING, 1.2), K("要求", MULTI_PART, 0.8), K("观点", REASONING, 0.8),
    K("规划", PLANNING, 1.5), K("规律", REASONING, 1.0), K("解释", REASONING, 0.8),
    K("计划", PLANNING, 1.0), K("计算", MATH, 0.6), K("论证", REASONING, 1.5), K("论述", REASONING, 1.5),
    K("设计", PLANNING, 1.2), K("证明", REASONING, 2.0), K("评价", REASONING, 1.0),
    K("评估", REASONING, 1.2), K("诗", WRITING, 1.0), K("详细", REASONING, 0.8), K("谁", QUESTIONS, 1.0),
    K("调低", COMMAND, 1.0), K("调到", COMMAND, 1.0), K("调试", CODE, 1.2), K("调高", COMMAND, 1.0),
    K("谢谢", CHIT_CHAT, 1.0), K("路线", COMMAND, 0.8), K("车窗", COMMAND, 1.0), K("逐步", REASONING, 1.2),
    K("通风", COMMAND, 0.6), K("逻辑", REASONING, 1.0), K("邮件", WRITING, 0.8), K("重写", COMMAND, 0.6),
    K("闹钟", COMMAND, 1.0), K("阐述", REASONING, 1.2), K("附近", COMMAND, 0.6), K("除雾", COMMAND, 1.0),
    K("雾灯", COMMAND, 1.0), K("静音", COMMAND, 1.0), K("面积", MATH, 0.5), K("音量", COMMAND, 1.0),
    K("预测", REASONING, 0.8), K("预算", PLANNING, 0.8), K("首先", MULTI_PART, 0.5),
};

#define NKEYWORDS (sizeof keywords / sizeof keywords[0])
_Static_assert(NKEYWORDS < 65536, "the lookup memo stores table indexes in 16 bits");

/* Bytes of one message scanned for cues; beyond them only tokens are counted,
 * by extrapolation, so the cost per request is bounded. */
#define SCAN_LIMIT 32768
/* Earlier user turns that feed the history feature, newest first: the recent
 * context is what a follow-up refers to. */
#define HISTORY_TURNS 4
/* Slots of the lookup memo below, indexed by a 16-bit hash's top byte. */
#define MEMO_SLOTS 256

/* One scan of one message: what it found so far (estimated tokens and, for
 * each cue feature, the sum of its cue strengths, not yet capped) and a memo
 * of keyword lookups: text with the same key always starts at the same table
 * position, and real text repeats its word starts ("th", "co") and its
 * characters, so most lookups skip the binary search. */
typedef struct scan {
    double tokens;
    double cue[CLASSIFIER_NFEATURES];
    uint16_t memo_key[MEMO_SLOTS];     /* 0: empty; no looked-up key is 0 */
    uint16_t memo_first[MEMO_SLOTS];   /* table index of the lower bound */
} scan;

static bool is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }
static bool is_digit(unsigned char c) { return (unsigned char)(c - '0') < 10; }
static bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static unsigned char lower(unsigned char c) { return (unsigned char)(c - 'A') < 26 ? (unsigned char)(c + 32) : c; }

static bool is_operator(unsigned char c) { return c != 0 && strchr("+-*/^=<>", c) != NULL; }

/* The search key of text at p: its first two bytes, ASCII-lowered like the
 * table.  0 stands for a byte past the end, which no keyword has, so equal
 * keys mean equal first two bytes. */
static unsigned text_key(const unsigned char *p, size_t avail)
{
    assert(avail >= 1);
    return (unsigned)lower(p[0]) << 8 | (avail >= 2 ? lower(p[1]) : 0u);
}

/* text_key() of an entry, which is lower case and at least two bytes long. */
static unsigned keyword_key(const keyword *kw)
{
    return (unsigned)(unsigned char)kw->text[0] << 8 | (unsigned char)kw->text[1];
}

#ifndef NDEBUG
/* The table invariants that the search and the matching rely on. */
static bool keywords_valid(void)
{
    for (size_t k = 0; k < NKEYWORDS; k++) {
        const keyword *kw = &keywords[k];
        if (kw->len < 2 || kw->len >= sizeof kw->text || kw->text[1] == '*' ||
            kw->feature < F_CODE || kw->feature > F_QUESTIONS)
            return false;
        for (size_t j = 0; j < kw->len; j++)
            if (lower((unsigned char)kw->text[j]) != (unsigned char)kw->text[j]) return false;
        if (k > 0 && strcmp(keywords[k - 1].text, kw->text) > 0) return false;
    }
    return true;
}
#endif

/* Decodes the UTF-8 character at p (avail >= 1 bytes).  Returns its length;
 * an invalid, overlong, surrogate or truncated sequence is one byte long and
 * yields U+FFFD, so a scan always advances and never reads past avail. */
static size_t utf8_decode(const unsigned char *p, size_t avail, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v, min;

    *cp = 0xFFFD;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { n = 2; v = c & 0x1Fu; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; v = c & 0x0Fu; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; v = c & 0x07u; min = 0x10000; }
    else return 1;
    if (avail < n) return 1;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 1;
        v = v << 6 | (p[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 1;
    *cp = v;
    return n;
}

/* Characters a tokenizer spends about one token on: CJK ideographs and
 * punctuation, kana, Hangul, full-width forms. */
static bool is_wide(uint32_t cp)
{
    if (cp < 0x1100) return false;
    return cp <= 0x115F || (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) ||
           (cp >= 0x20000 && cp <= 0x3FFFF);
}

/* Index of the first table entry whose key is >= key. */
static size_t keyword_lower_bound(scan *s, unsigned key)
{
    /* Fibonacci hashing: keys of real text differ in few bits, which the
     * multiplication spreads over the slot index. */
    size_t slot = (uint16_t)(key * 40503u) >> 8;   /* < MEMO_SLOTS */
    const keyword *first = keywords;
    size_t span = NKEYWORDS;

    if (s->memo_key[slot] == key) return s->memo_first[slot];
    /* Without branches on the comparison: its outcome is unpredictable. */
    while (span > 1) {
        size_t half = span / 2;
        first = keyword_key(&first[half]) < key ? first + half : first;
        span -= half;
    }
    if (keyword_key(first) < key) first++;
    s->memo_key[slot] = (uint16_t)key;
    s->memo_first[slot] = (uint16_t)(first - keywords);
    return s->memo_first[slot];
}

/* Adds the strength of every keyword that matches at p[at].  The caller
 * calls only at word starts for ASCII letters; the word-end check is here. */
static void match_keywords(const unsigned char *p, size_t n, size_t at, scan *s)
{
    unsigned key = text_key(p + at, n - at);

    for (size_t k = keyword_lower_bound(s, key); k < NKEYWORDS; k++) {
        const keyword *kw = &keywords[k];
        const unsigned char *t = (const unsigned char *)kw->text;
        size_t len = kw->len, j = 2;
        bool prefix = t[len - 1] == '*';

        if (keyword_key(kw) != key) break;
        if (prefix) len--;
        if (len > n - at) continue;
        while (j < len && lower(p[at + j]) == t[j]) j++;
        if (j < len) continue;
        if (!prefix && is_alpha(t[len - 1]) && at + len < n && is_alpha(p[at + len])) continue;
        s->cue[kw->feature] += kw->strength;
    }
}

/* Numbered ("1." "2)" "3、") or bulleted ("- " "* ") item at a line start. */
static double list_item(const unsigned char *p, size_t n, size_t at)
{
    size_t j = at;

    while (j < n && j - at < 3 && is_digit(p[j])) j++;
    if (j > at && j < n && (p[j] == '.' || p[j] == ')')) return 0.5;
    if (j > at && n - j >= 3 && memcmp(p + j, "、", 3) == 0) return 0.5;
    if (j == at && (p[j] == '-' || p[j] == '*') && j + 1 < n && p[j + 1] == ' ') return 0.3;
    return 0;
}

/* Looks at what follows a number (p[at] is the first byte after it).  A
 * length demand ("500 words", "800字") is a writing cue; a date or a clock
 * time ("15th", "6 pm", "2月8日") is no quantity of a word problem, and the
 * caller then does not count the number. */
static bool number_is_date(const unsigned char *p, size_t n, size_t at, scan *s)
{
    static const char *const units[] = {"年", "月", "日", "号", "点", "时", "分", "秒"};
    static const char *const ordinals[] = {"st", "nd", "rd", "th", "am", "pm"};
    size_t j = at + (p[at] == ' ' || p[at] == '-');

    if (n - at >= 3 && memcmp(p + at, "字", 3) == 0) {
        s->cue[F_WRITING] += 1.0;
        return false;
    }
    if (n - j >= 4 && lower(p[j]) == 'w' && lower(p[j + 1]) == 'o' && lower(p[j + 2]) == 'r' &&
        lower(p[j + 3]) == 'd') {
        s->cue[F_WRITING] += 1.0;
        return false;
    }
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (n - at >= 3 && memcmp(p + at, units[u], 3) == 0) return true;
    if (p[at] != ' ') j = at;
    for (size_t o = 0; o < sizeof ordinals / sizeof ordinals[0]; o++)
        if (n - j >= 2 && lower(p[j]) == ordinals[o][0] && lower(p[j + 1]) == ordinals[o][1] &&
            (n - j == 2 || !is_alpha(p[j + 2])))
            return true;
    return false;
}

/* One linear pass over one message, a token (word, number, other character)
 * at a time: the token estimate, keyword cues, and the cues no keyword can
 * express (numbers and operators between them, list items, several question
 * marks, code-like line endings). */
static void scan_text(const char *text, size_t len, scan *s)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = len < SCAN_LIMIT ? len : SCAN_LIMIT, i = 0;
    size_t wide = 0, narrow = 0;
    unsigned numbers = 0, dates = 0, operators = 0, percents = 0, qmarks = 0;
    /* An operand is a number or a one-letter name: "2+3", "x^2 = 9", "4x - y". */
    bool line_start = true, last_operand = false, after_operator = false;
    unsigned char line_last = 0;   /* last non-space byte of the current line */

    assert(text || len == 0);
    memset(s, 0, sizeof *s);
    while (i < n) {
        unsigned char c = p[i];
        size_t start = i;
        bool operand = false;

        if (is_space(c)) {
            if (c == '\n') {
                if (line_last == ';' || line_last == '{') s->cue[F_CODE] += 0.5;
                line_start = true;
                line_last = 0;
            }
            narrow++;
            i++;
            continue;
        }
        if (line_start) s->cue[F_MULTI_PART] += list_item(p, n, i);
        line_start = false;

        if (is_alpha(c)) {
            /* "4x": a letter glued to a number starts no word. */
            if (i == 0 || !is_digit(p[i - 1])) match_keywords(p, n, i, s);
            while (i < n && is_alpha(p[i])) i++;
            operand = i - start == 1;
        } else if (is_digit(c)) {
            /* 3.14, 10,000 and 6:30 are one number each. */
            while (i < n && (is_digit(p[i]) || ((p[i] == '.' || p[i] == ',' || p[i] == ':') &&
                                                i + 1 < n && is_digit(p[i + 1]))))
                i++;
            numbers++;
            if (i < n && number_is_date(p, n, i, s)) dates++;
            operand = true;
        } else if (c < 0x80) {
            if (c == '?') qmarks++;
            if (c == '%') percents++;
            if (c > ' ' && c < 0x7F) match_keywords(p, n, i, s);
            i++;
        } else {
            uint32_t cp;
            i += utf8_decode(p + i, n - i, &cp);
            if (cp == 0xFF1F) qmarks++;   /* ？ */
            if (cp == 0xFF05) percents++; /* ％ */
            if (i - start > 1) match_keywords(p, n, start, s);
            if (is_wide(cp)) wide++;
            else narrow++;
            line_last = 0;
            last_operand = after_operator = false;
            continue;
        }

        if (operand && after_operator) operators++;
        after_operator = last_operand && is_operator(c);
        last_operand = operand;
        line_last = p[i - 1];
        narrow += i - start;
    }
    if (line_last == ';' || line_last == '{') s->cue[F_CODE] += 0.5;

    /* "what is 2+3" is arithmetic a small model does; several operators, or
     * several quantities, mark a multi-step problem. */
    numbers -= dates;
    s->cue[F_MATH] += 0.6 * operators + 0.4 * percents + (numbers > 1 ? 0.5 * (numbers - 1) : 0);
    if (qmarks > 1) s->cue[F_MULTI_PART] += 0.6 * (qmarks - 1);

    /* Latin text runs about four characters per token; CJK about one. */
    s->tokens = (double)wide + (double)narrow / 4;
    if (n > 0 && len > n) s->tokens *= (double)len / (double)n;
}

static double capped(double v, size_t f)
{
    return v < model[f].cap ? v : model[f].cap;
}

/* How complex a message looks by its own content cues, in logit units: what
 * the history feature remembers of an earlier turn.  Length, commands and
 * chit-chat are left out on purpose: a long earlier turn that asked nothing
 * hard should not make the next one expensive. */
static double cue_logit(const scan *s)
{
    double sum = 0;

    for (size_t f = F_CODE; f <= F_MULTI_PART; f++)
        sum += model[f].weight * capped(s->cue[f], f);
    return sum;
}

void classifier_score(const classifier_message *msgs, size_t n, classifier_result *out)
{
    size_t cur = n, turns = 0, earlier = 0;
    double history = 0, logit = BIAS;
    scan s;

    assert(out != NULL);
    assert(msgs != NULL || n == 0);
    assert(keywords_valid());

    /* The request is the last user message; with no user message at all,
     * the last message of any kind is the best guess. */
    for (size_t i = n; i-- > 0;) {
        if (!msgs[i].user) continue;
        if (cur == n) cur = i;
        turns++;
    }
    if (cur == n && n > 0) cur = n - 1;

    for (size_t i = cur; i-- > 0 && earlier < HISTORY_TURNS;) {
        if (!msgs[i].user) continue;
        scan_text(msgs[i].text, msgs[i].len, &s);
        earlier++;
        if (cue_logit(&s) > history) history = cue_logit(&s);
    }
    if (cur < n) scan_text(msgs[cur].text, msgs[cur].len, &s);
    else scan_text(NULL, 0, &s);

    /* Values enter the model capped, so contribution = weight * value holds
     * for what /v1/route shows. */
    out->feature[F_TOKENS] = log1p(s.tokens);
    out->feature[F_TURNS] = (double)turns;
    for (size_t f = F_CODE; f <= F_QUESTIONS; f++) out->feature[f] = s.cue[f];
    out->feature[F_HISTORY] = history;
    for (size_t f = 0; f < CLASSIFIER_NFEATURES; f++) {
        out->feature[f] = capped(out->feature[f], f);
        out->contribution[f] = model[f].weight * out->feature[f];
        logit += out->contribution[f];
    }
    out->score = 1.0 / (1.0 + exp(-logit));
}

const char *classifier_feature_name(size_t i)
{
    assert(i < CLASSIFIER_NFEATURES);
    return feature_names[i];
}
