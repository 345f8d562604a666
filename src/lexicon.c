/* lexicon: the lists and the marks.  Kept apart from the scanner so that
 * they can grow without burying it.  An entry that is not one n-gram (two
 * CJK strings, three words) could never match and trips an assertion in
 * featurizer_new(), as does an entry listed twice. */
#include "lexicon.h"

#include <assert.h>
#include <string.h>

#include "utf8.h"

static const char *const names[FEATURES_NNAMED] = {
    "chars", "est_tokens", "turns", "lines", "code_fences", "code_marks", "math_marks", "numbers",
    "operators", "question_words", "question_marks", "list_items", "constraints", "cjk_share",
    "verb:prove", "verb:derive", "verb:analyze", "verb:compare", "verb:write", "verb:implement",
    "verb:design", "verb:plan", "verb:证明", "verb:推导", "verb:分析", "verb:比较", "verb:写一篇",
    "verb:实现", "verb:设计", "verb:规划",
    "follow_up", "tools", "tool_plan", "steps", "compare", "calc", "conditions", "relay", "clauses",
    "payload", "tool_branches", "tool_pauses", "figures", "figures_choice", "numbers_stated",
};

#define V(k) (NF_VERB + (k))
#define ASK(f) ((f) | LEXICON_ASKS)
/* Words, word pairs and 1-3 character CJK strings that count for a named
 * feature; lower case, numbers written as 0. */
static const struct {
    const char *text;
    unsigned char feature;
} lexicon[] = {
    {"prove", V(0)}, {"proves", V(0)}, {"proving", V(0)}, {"proof", V(0)}, {"proofs", V(0)},
    {"derive", V(1)}, {"derives", V(1)}, {"deriving", V(1)}, {"derivation", V(1)},
    {"analyze", V(2)}, {"analyse", V(2)}, {"analyzes", V(2)}, {"analyses", V(2)},
    {"analysis", V(2)}, {"analyzing", V(2)}, {"analysing", V(2)},
    {"compare", V(3)}, {"compares", V(3)}, {"comparing", V(3)}, {"comparison", V(3)},
    {"write", V(4)}, {"writes", V(4)}, {"writing", V(4)}, {"wrote", V(4)}, {"written", V(4)},
    {"implement", V(5)}, {"implements", V(5)}, {"implementing", V(5)}, {"implementation", V(5)},
    {"design", V(6)}, {"designs", V(6)}, {"designing", V(6)},
    {"plan", V(7)}, {"plans", V(7)}, {"planning", V(7)},
    {"证明", V(8)}, {"推导", V(9)}, {"分析", V(10)}, {"比较", V(11)}, {"写一篇", V(12)},
    {"实现", V(13)}, {"设计", V(14)}, {"规划", V(15)},
    {"what", NF_QWORDS}, {"how", NF_QWORDS}, {"why", NF_QWORDS}, {"which", NF_QWORDS},
    {"who", NF_QWORDS}, {"whom", NF_QWORDS}, {"whose", NF_QWORDS}, {"when", NF_QWORDS},
    {"where", NF_QWORDS}, {"什么", NF_QWORDS}, {"怎么", NF_QWORDS}, {"为什么", NF_QWORDS},
    {"如何", NF_QWORDS}, {"哪", NF_QWORDS}, {"谁", NF_QWORDS}, {"几", ASK(NF_QWORDS)},
    {"多少", ASK(NF_QWORDS)}, {"吗", NF_QWORDS}, {"呢", NF_QWORDS},
    {"at least", NF_CONSTRAINTS}, {"at most", NF_CONSTRAINTS}, {"no more", NF_CONSTRAINTS},
    {"no less", NF_CONSTRAINTS}, {"fewer than", NF_CONSTRAINTS}, {"must", NF_CONSTRAINTS},
    {"should", NF_CONSTRAINTS}, {"ensure", NF_CONSTRAINTS}, {"make sure", NF_CONSTRAINTS},
    {"exactly", NF_CONSTRAINTS}, {"within", NF_CONSTRAINTS}, {"without", NF_CONSTRAINTS},
    {"avoid", NF_CONSTRAINTS}, {"limit", NF_CONSTRAINTS}, {"maximum", NF_CONSTRAINTS},
    {"minimum", NF_CONSTRAINTS}, {"require", NF_CONSTRAINTS}, {"required", NF_CONSTRAINTS},
    {"requirements", NF_CONSTRAINTS}, {"constraint", NF_CONSTRAINTS},
    {"constraints", NF_CONSTRAINTS}, {"strictly", NF_CONSTRAINTS}, {"0 words", NF_CONSTRAINTS},
    {"0 sentences", NF_CONSTRAINTS}, {"0 paragraphs", NF_CONSTRAINTS},
    {"至少", NF_CONSTRAINTS}, {"不少于", NF_CONSTRAINTS}, {"不超过", NF_CONSTRAINTS},
    {"不得", NF_CONSTRAINTS}, {"必须", NF_CONSTRAINTS}, {"要求", NF_CONSTRAINTS},
    {"确保", NF_CONSTRAINTS}, {"限制", NF_CONSTRAINTS}, {"以内", NF_CONSTRAINTS},
    {"字数", NF_CONSTRAINTS}, {"0字", NF_CONSTRAINTS}, {"务必", NF_CONSTRAINTS},
    /* A plan: steps in an order. */
    {"先去", NF_STEPS}, {"先送", NF_STEPS}, {"先把", NF_STEPS}, {"先到", NF_STEPS}, {"先在", NF_STEPS},
    {"再去", NF_STEPS}, {"再到", NF_STEPS}, {"再回", NF_STEPS}, {"然后", NF_STEPS}, {"之后", NF_STEPS},
    {"最后", NF_STEPS}, {"顺路", NF_STEPS}, {"顺便", NF_STEPS}, {"途经", NF_STEPS}, {"依次", NF_STEPS},
    {"中途", NF_STEPS}, {"首先", NF_STEPS}, {"安排", NF_STEPS}, {"行程", NF_STEPS}, {"怎么排", NF_STEPS},
    {"then", NF_STEPS}, {"after that", NF_STEPS}, {"afterwards", NF_STEPS}, {"finally", NF_STEPS},
    {"first", NF_STEPS}, {"stops", NF_STEPS}, {"stop at", NF_STEPS},
    {"which order", NF_STEPS}, {"schedule", NF_STEPS}, {"itinerary", NF_STEPS}, {"route", NF_STEPS},
    /* A comparison between options. */
    {"划算", ASK(NF_COMPARE)}, {"合算", ASK(NF_COMPARE)}, {"哪个", ASK(NF_COMPARE)}, {"哪种", ASK(NF_COMPARE)},
    {"哪家", ASK(NF_COMPARE)}, {"还是", NF_COMPARE}, {"便宜", ASK(NF_COMPARE)}, {"相比", ASK(NF_COMPARE)},
    {"对比", ASK(NF_COMPARE)}, {"性价比", ASK(NF_COMPARE)}, {"值得", ASK(NF_COMPARE)}, {"更好", ASK(NF_COMPARE)},
    {"省钱", ASK(NF_COMPARE)}, {"方案", NF_COMPARE}, {"选哪", ASK(NF_COMPARE)}, {"怎么选", ASK(NF_COMPARE)},
    {"cheaper", ASK(NF_COMPARE)}, {"cheapest", ASK(NF_COMPARE)}, {"better", ASK(NF_COMPARE)}, {"versus", ASK(NF_COMPARE)},
    {"vs", ASK(NF_COMPARE)}, {"worth", ASK(NF_COMPARE)}, {"or", NF_COMPARE}, {"option", NF_COMPARE},
    {"options", NF_COMPARE}, {"pays off", ASK(NF_COMPARE)}, {"save more", ASK(NF_COMPARE)},
    /* A calculation. */
    {"算算", ASK(NF_CALC)}, {"算一下", ASK(NF_CALC)}, {"一共", ASK(NF_CALC)}, {"总共", ASK(NF_CALC)}, {"合计", ASK(NF_CALC)},
    {"平均", ASK(NF_CALC)}, {"每月", NF_CALC}, {"每个月", NF_CALC}, {"每天", NF_CALC}, {"一年", NF_CALC},
    {"多少钱", ASK(NF_CALC)}, {"回本", ASK(NF_CALC)}, {"能省", ASK(NF_CALC)}, {"利率", NF_CALC}, {"利息", NF_CALC},
    {"费用", NF_CALC}, {"0折", NF_CALC}, {"半价", NF_CALC}, {"总价", ASK(NF_CALC)},
    {"差多少", ASK(NF_CALC)}, {"怎么分", ASK(NF_CALC)}, {"年化", NF_CALC}, {"手续费", NF_CALC},
    {"total", ASK(NF_CALC)}, {"altogether", ASK(NF_CALC)}, {"per", NF_CALC}, {"average", ASK(NF_CALC)},
    {"how much", ASK(NF_CALC)}, {"how many", ASK(NF_CALC)}, {"cost", ASK(NF_CALC)}, {"costs", ASK(NF_CALC)},
    {"discount", NF_CALC}, {"interest", NF_CALC}, {"calculate", ASK(NF_CALC)}, {"work out", ASK(NF_CALC)},
    {"figure out", ASK(NF_CALC)}, {"percent", NF_CALC}, {"off", NF_CALC}, {"owe", ASK(NF_CALC)},
    /* Conditions a plan must meet: times, deadlines, budgets, limits. */
    {"之前", NF_CONDITIONS}, {"以前", NF_CONDITIONS}, {"点前", NF_CONDITIONS}, {"前到", NF_CONDITIONS},
    {"来得及", NF_CONDITIONS}, {"赶上", NF_CONDITIONS}, {"不能", NF_CONDITIONS}, {"最多", NF_CONDITIONS},
    {"最少", NF_CONDITIONS}, {"预算", NF_CONDITIONS}, {"尽量", NF_CONDITIONS}, {"避开", NF_CONDITIONS},
    {"不耽误", NF_CONDITIONS}, {"关门", NF_CONDITIONS}, {"截止", NF_CONDITIONS},
    {"before", NF_CONDITIONS}, {"until", NF_CONDITIONS}, {"deadline", NF_CONDITIONS},
    {"budget", NF_CONDITIONS}, {"under", NF_CONDITIONS}, {"no later", NF_CONDITIONS},
    {"latest", NF_CONDITIONS}, {"closes", NF_CONDITIONS}, {"only", NF_CONDITIONS},
    /* The export languages (de es fr pt ru ja ko ar): instruction verbs
     * count for the English verb features, so what the model learned of
     * "prove" or "plan" carries over; question words and constraint markers
     * for their counts. */
    {"beweise", V(0)}, {"beweisen", V(0)}, {"beweis", V(0)}, {"demuestra", V(0)}, {"demostrar", V(0)},
    {"demostración", V(0)}, {"démontre", V(0)}, {"démontrer", V(0)}, {"démonstration", V(0)}, {"prouve", V(0)},
    {"demonstre", V(0)}, {"demonstração", V(0)}, {"докажи", V(0)}, {"докажите", V(0)},
    {"доказательство", V(0)}, {"証明", V(0)}, {"증명", V(0)}, {"برهن", V(0)}, {"أثبت", V(0)}, {"اثبت", V(0)},
    {"herleitung", V(1)}, {"deduce", V(1)}, {"deducir", V(1)}, {"deduza", V(1)}, {"выведи", V(1)},
    {"導出", V(1)}, {"유도", V(1)}, {"استنتج", V(1)}, {"analysiere", V(2)}, {"analiza", V(2)}, {"análisis", V(2)},
    {"analise", V(2)}, {"проанализируй", V(2)}, {"анализ", V(2)}, {"분석", V(2)}, {"حلل", V(2)}, {"تحليل", V(2)},
    {"vergleiche", V(3)}, {"vergleich", V(3)}, {"compara", V(3)}, {"comparación", V(3)}, {"comparaison", V(3)},
    {"сравни", V(3)}, {"сравнение", V(3)}, {"比較", V(3)}, {"비교", V(3)}, {"قارن", V(3)}, {"مقارنة", V(3)},
    {"schreibe", V(4)}, {"verfasse", V(4)}, {"escribe", V(4)}, {"redacta", V(4)}, {"écris", V(4)},
    {"rédige", V(4)}, {"escreva", V(4)}, {"redija", V(4)}, {"напиши", V(4)}, {"書いて", V(4)}, {"작성", V(4)},
    {"اكتب", V(4)}, {"implementiere", V(5)}, {"implementa", V(5)}, {"implémente", V(5)}, {"implemente", V(5)},
    {"реализуй", V(5)}, {"実装", V(5)}, {"구현", V(5)}, {"نفذ", V(5)}, {"entwirf", V(6)}, {"diseña", V(6)},
    {"conçois", V(6)}, {"projete", V(6)}, {"спроектируй", V(6)}, {"設計", V(6)}, {"설계", V(6)}, {"صمم", V(6)},
    {"planifica", V(7)}, {"planifie", V(7)}, {"planeje", V(7)}, {"спланируй", V(7)},
    {"計画", V(7)}, {"계획", V(7)}, {"خطط", V(7)}, {"warum", NF_QWORDS}, {"wie", NF_QWORDS}, {"welche", NF_QWORDS},
    {"wieso", NF_QWORDS}, {"cómo", NF_QWORDS}, {"qué", NF_QWORDS}, {"cuál", NF_QWORDS}, {"cuánto", ASK(NF_QWORDS)},
    {"dónde", NF_QWORDS}, {"pourquoi", NF_QWORDS}, {"comment", NF_QWORDS}, {"quel", NF_QWORDS},
    {"quelle", NF_QWORDS}, {"combien", ASK(NF_QWORDS)}, {"porque", NF_QWORDS}, {"como", NF_QWORDS},
    {"quanto", ASK(NF_QWORDS)}, {"qual", NF_QWORDS}, {"onde", NF_QWORDS}, {"почему", NF_QWORDS}, {"как", NF_QWORDS},
    {"что", NF_QWORDS}, {"какой", NF_QWORDS}, {"сколько", ASK(NF_QWORDS)}, {"где", NF_QWORDS}, {"なぜ", NF_QWORDS},
    {"どう", NF_QWORDS}, {"왜", NF_QWORDS}, {"어떻게", NF_QWORDS}, {"무엇", NF_QWORDS}, {"얼마", ASK(NF_QWORDS)},
    {"لماذا", NF_QWORDS}, {"كيف", NF_QWORDS}, {"ماذا", NF_QWORDS}, {"كم", ASK(NF_QWORDS)}, {"أين", NF_QWORDS},
    {"mindestens", NF_CONSTRAINTS}, {"höchstens", NF_CONSTRAINTS}, {"maximal", NF_CONSTRAINTS},
    {"máximo", NF_CONSTRAINTS}, {"mínimo", NF_CONSTRAINTS}, {"al menos", NF_CONSTRAINTS},
    {"au moins", NF_CONSTRAINTS}, {"pelo menos", NF_CONSTRAINTS}, {"no máximo", NF_CONSTRAINTS},
    {"минимум", NF_CONSTRAINTS}, {"максимум", NF_CONSTRAINTS}, {"не более", NF_CONSTRAINTS},
    {"не менее", NF_CONSTRAINTS}, {"以上", NF_CONSTRAINTS}, {"最大", NF_CONSTRAINTS}, {"最低", NF_CONSTRAINTS},
    {"최소", NF_CONSTRAINTS}, {"최대", NF_CONSTRAINTS}, {"이하", NF_CONSTRAINTS}, {"이내", NF_CONSTRAINTS},
    {"على الأقل", NF_CONSTRAINTS},
    /* A message or a text to pass on (dictated, to send, to translate, to
     * be reminded of): long, but one step. */
    {"发消息", NF_RELAY}, {"发信息", NF_RELAY}, {"短信", NF_RELAY},
    {"微信", NF_RELAY}, {"转告", NF_RELAY}, {"告诉他", NF_RELAY}, {"告诉她", NF_RELAY}, {"回复", NF_RELAY},
    {"留言", NF_RELAY}, {"提醒", NF_RELAY}, {"邮件", NF_RELAY}, {"翻译", NF_RELAY}, {"备忘", NF_RELAY},
    {"send", NF_RELAY}, {"text", NF_RELAY}, {"message", NF_RELAY}, {"tell", NF_RELAY}, {"reply", NF_RELAY}, {"email", NF_RELAY},
    {"translate", NF_RELAY}, {"remind", NF_RELAY}, {"forward", NF_RELAY},
    {"schick", NF_RELAY}, {"schicke", NF_RELAY}, {"sende", NF_RELAY}, {"nachricht", NF_RELAY},
    {"sag", NF_RELAY}, {"antworte", NF_RELAY}, {"übersetze", NF_RELAY}, {"erinnere", NF_RELAY},
    {"envía", NF_RELAY}, {"envia", NF_RELAY}, {"manda", NF_RELAY}, {"mensaje", NF_RELAY}, {"dile", NF_RELAY},
    {"responde", NF_RELAY}, {"traduce", NF_RELAY}, {"recuérdame", NF_RELAY},
    {"envoie", NF_RELAY}, {"réponds", NF_RELAY}, {"traduis", NF_RELAY}, {"rappelle", NF_RELAY},
    {"rappelle-moi", NF_RELAY}, {"dis-lui", NF_RELAY}, {"traduis-le", NF_RELAY}, {"lembre-me", NF_RELAY},
    {"diga-lhe", NF_RELAY},
    {"mensagem", NF_RELAY}, {"diga", NF_RELAY}, {"responda", NF_RELAY}, {"traduza", NF_RELAY},
    {"lembre", NF_RELAY}, {"отправь", NF_RELAY}, {"сообщение", NF_RELAY}, {"скажи", NF_RELAY},
    {"ответь", NF_RELAY}, {"переведи", NF_RELAY}, {"напомни", NF_RELAY},
    {"送って", NF_RELAY}, {"伝えて", NF_RELAY}, {"返信", NF_RELAY}, {"翻訳", NF_RELAY}, {"メッセ", NF_RELAY},
    {"보내", NF_RELAY}, {"메시지", NF_RELAY}, {"전해", NF_RELAY}, {"답장", NF_RELAY}, {"번역", NF_RELAY},
    {"أرسل", NF_RELAY}, {"ارسل", NF_RELAY}, {"رسالة", NF_RELAY}, {"ترجم", NF_RELAY}, {"ذكرني", NF_RELAY},
    /* The export languages' markers of steps, comparison, calculation and
     * conditions, for the features above. */
    {"dann", NF_STEPS}, {"danach", NF_STEPS}, {"zuerst", NF_STEPS}, {"zwischenstopp", NF_STEPS},
    {"reihenfolge", NF_STEPS}, {"luego", NF_STEPS}, {"después", NF_STEPS}, {"primero", NF_STEPS},
    {"parada", NF_STEPS}, {"paradas", NF_STEPS}, {"ruta", NF_STEPS}, {"itinerario", NF_STEPS},
    {"puis", NF_STEPS}, {"ensuite", NF_STEPS}, {"étape", NF_STEPS}, {"étapes", NF_STEPS},
    {"itinéraire", NF_STEPS}, {"depois", NF_STEPS}, {"primeiro", NF_STEPS}, {"rota", NF_STEPS},
    {"roteiro", NF_STEPS}, {"потом", NF_STEPS}, {"затем", NF_STEPS}, {"сначала", NF_STEPS},
    {"остановка", NF_STEPS}, {"маршрут", NF_STEPS}, {"経由", NF_STEPS}, {"寄って", NF_STEPS},
    {"順番", NF_STEPS}, {"ルート", NF_STEPS}, {"먼저", NF_STEPS}, {"경유", NF_STEPS}, {"들러", NF_STEPS},
    {"순서", NF_STEPS}, {"일정", NF_STEPS}, {"ثم", NF_STEPS}, {"أولا", NF_STEPS}, {"مسار", NF_STEPS},
    {"günstiger", ASK(NF_COMPARE)}, {"billiger", ASK(NF_COMPARE)}, {"lohnt", ASK(NF_COMPARE)}, {"besser", ASK(NF_COMPARE)},
    {"más barato", ASK(NF_COMPARE)}, {"conviene", ASK(NF_COMPARE)}, {"mejor", ASK(NF_COMPARE)}, {"moins cher", ASK(NF_COMPARE)},
    {"rentable", ASK(NF_COMPARE)}, {"mieux", ASK(NF_COMPARE)}, {"mais barato", ASK(NF_COMPARE)}, {"compensa", ASK(NF_COMPARE)},
    {"melhor", ASK(NF_COMPARE)}, {"дешевле", ASK(NF_COMPARE)}, {"выгоднее", ASK(NF_COMPARE)}, {"лучше", ASK(NF_COMPARE)},
    {"お得", ASK(NF_COMPARE)}, {"どっち", ASK(NF_COMPARE)}, {"どちら", ASK(NF_COMPARE)}, {"이득", ASK(NF_COMPARE)},
    {"어느", ASK(NF_COMPARE)}, {"유리한", ASK(NF_COMPARE)}, {"أرخص", ASK(NF_COMPARE)}, {"أفضل", ASK(NF_COMPARE)},
    {"rechne", ASK(NF_CALC)}, {"berechne", ASK(NF_CALC)}, {"kostet", ASK(NF_CALC)}, {"insgesamt", ASK(NF_CALC)},
    {"monatlich", NF_CALC}, {"zinsen", NF_CALC}, {"rabatt", NF_CALC}, {"calcula", ASK(NF_CALC)},
    {"cuesta", ASK(NF_CALC)}, {"al mes", NF_CALC}, {"intereses", NF_CALC}, {"descuento", NF_CALC},
    {"calcule", ASK(NF_CALC)}, {"coûte", ASK(NF_CALC)}, {"par mois", NF_CALC}, {"intérêts", NF_CALC},
    {"remise", NF_CALC}, {"custa", ASK(NF_CALC)}, {"por mês", NF_CALC}, {"juros", NF_CALC}, {"desconto", NF_CALC},
    {"посчитай", ASK(NF_CALC)}, {"рассчитай", ASK(NF_CALC)}, {"стоимость", ASK(NF_CALC)}, {"итого", ASK(NF_CALC)},
    {"в месяц", NF_CALC}, {"скидка", NF_CALC}, {"計算", ASK(NF_CALC)}, {"合計", ASK(NF_CALC)}, {"毎月", NF_CALC},
    {"割引", NF_CALC}, {"いくら", ASK(NF_CALC)}, {"계산", ASK(NF_CALC)}, {"합계", ASK(NF_CALC)}, {"비용", ASK(NF_CALC)},
    {"할인", NF_CALC}, {"이자", NF_CALC}, {"매달", NF_CALC}, {"احسب", ASK(NF_CALC)}, {"تكلفة", ASK(NF_CALC)},
    {"المجموع", ASK(NF_CALC)}, {"خصم", NF_CALC},
    /* Questions for a quantity that no first-stage feature counts
     * (LEXICON_ASKS says why they count for figures alone). */
    {"how long", NF_FIGURES}, {"how far", NF_FIGURES}, {"多久", NF_FIGURES}, {"多长", NF_FIGURES},
    {"wie viel", NF_FIGURES}, {"wieviel", NF_FIGURES}, {"wie viele", NF_FIGURES}, {"wie lange", NF_FIGURES},
    {"cuánta", NF_FIGURES}, {"cuántos", NF_FIGURES}, {"cuántas", NF_FIGURES}, {"quanta", NF_FIGURES},
    {"quantos", NF_FIGURES}, {"quantas", NF_FIGURES}, {"いくつ", NF_FIGURES}, {"何分", NF_FIGURES},
    {"何回", NF_FIGURES}, {"何円", NF_FIGURES}, {"何個", NF_FIGURES}, {"何時間", NF_FIGURES}, {"何枚", NF_FIGURES},
    {"몇", NF_FIGURES},
    {"bevor", NF_CONDITIONS}, {"spätestens", NF_CONDITIONS}, {"antes", NF_CONDITIONS},
    {"presupuesto", NF_CONDITIONS}, {"avant", NF_CONDITIONS},
    {"orçamento", NF_CONDITIONS}, {"перед", NF_CONDITIONS},
    {"бюджет", NF_CONDITIONS}, {"успеть", NF_CONDITIONS}, {"までに", NF_CONDITIONS}, {"予算", NF_CONDITIONS},
    {"전에", NF_CONDITIONS}, {"예산", NF_CONDITIONS}, {"قبل", NF_CONDITIONS},
    {"ميزانية", NF_CONDITIONS},
    /* Branches, in every learned language: the actions of a tool request
     * that hang on a condition ("要是低于五度就预热，不冷的话就提醒我") are a
     * plan however short.  Counted apart from the conditions above (times,
     * deadlines, budgets), which single requests read too: a branch is read
     * only with tools, so it moves no other score. */
    {"要是", NF_TOOL_BRANCHES}, {"的话", NF_TOOL_BRANCHES}, {"如果", NF_TOOL_BRANCHES},
    {"假如", NF_TOOL_BRANCHES}, {"否则", NF_TOOL_BRANCHES}, {"不然", NF_TOOL_BRANCHES},
    {"万一", NF_TOOL_BRANCHES}, {"if", NF_TOOL_BRANCHES}, {"otherwise", NF_TOOL_BRANCHES},
    {"unless", NF_TOOL_BRANCHES}, {"in case", NF_TOOL_BRANCHES}, {"or else", NF_TOOL_BRANCHES},
    {"falls", NF_TOOL_BRANCHES}, {"sonst", NF_TOOL_BRANCHES}, {"si no", NF_TOOL_BRANCHES},
    {"en caso", NF_TOOL_BRANCHES}, {"sinon", NF_TOOL_BRANCHES}, {"au cas", NF_TOOL_BRANCHES},
    {"senão", NF_TOOL_BRANCHES}, {"se não", NF_TOOL_BRANCHES}, {"caso contrário", NF_TOOL_BRANCHES},
    {"если", NF_TOOL_BRANCHES}, {"иначе", NF_TOOL_BRANCHES}, {"もし", NF_TOOL_BRANCHES},
    {"場合", NF_TOOL_BRANCHES}, {"만약", NF_TOOL_BRANCHES}, {"아니면", NF_TOOL_BRANCHES},
    {"إذا", NF_TOOL_BRANCHES}, {"اذا", NF_TOOL_BRANCHES}, {"وإلا", NF_TOOL_BRANCHES},
    /* German "herleiten" (derive) splits in the imperative ("leite die
     * Formel her"); the stem "leite" alone is not listed: it is also the
     * imperative of leiten and weiterleiten (lead, forward) and the
     * Portuguese for milk. */
    {"herleiten", V(1)},
};
#undef V


/* The array takes its size from the initialiser, so this checks the count. */
_Static_assert(sizeof lexicon / sizeof lexicon[0] == LEXICON_ENTRIES, "LEXICON_ENTRIES counts the entries");

const char *lexicon_name(uint32_t index)
{
    assert(index < FEATURES_NNAMED);
    return names[index];
}

const char *lexicon_entry(size_t k, unsigned *named)
{
    assert(k < LEXICON_ENTRIES);
    *named = lexicon[k].feature;
    return lexicon[k].text;
}

/* Words and phrases of a follow-up, in lower case (the turn is folded with
 * utf8_lower).  A follow-up word must not occur inside a short
 * self-contained command, since it makes the command inherit the thread
 * before it: "too" (Bluetooth), "shorter" (the shorter route), "如果" (如果
 * 下雨就关窗), "weiter" (weiterleiten), "пример" (примерно) were tried and
 * left out.  The zh and en ones are measured on the conversation sets; those
 * of the export languages (why, in more detail) are not, as no set has
 * conversations in them. */
static const char *const follow_ups[] = {
    "继续", "接着", "为什么", "为啥", "例子", "举例", "详细", "展开", "然后呢", "还有呢", "还有别的",
    "再说", "解释", "上面", "刚才", "这一步", "具体", "换成", "改成", "用别的", "那要是", "那如果",
    "长一点", "短一点", "改一下", "接下来", "下一步",
    "continue", "go on", "keep going", "why", "example", "more", "detail", "elaborate", "explain",
    "again", "above", "previous", "same", "and in ", "what about", "instead", "step", "else",
    "deeper", "what if", "how about",
    "warum", "wieso", "genauer", "por qué", "por quê", "pourquoi", "почему", "подробнее",
    "なぜ", "どうして", "詳しく", "자세히", "لماذا", "بالتفصيل",
};
/* A follow-up is a short turn: longer ones carry their own request. */
#define FOLLOW_UP_MAX_BYTES 60

bool lexicon_follow_up(const char *text, size_t len)
{
    /* A malformed byte becomes U+FFFD, three bytes: the most a byte grows. */
    char lower[3 * FOLLOW_UP_MAX_BYTES + 1];
    size_t at = 0;

    if (len > FOLLOW_UP_MAX_BYTES) return false;
    for (size_t i = 0, n; i < len; i += n)
        at += utf8_encode(utf8_lower(utf8_decode((const unsigned char *)text + i, len - i, &n)),
                          (unsigned char *)lower + at);
    assert(at < sizeof lower);
    lower[at] = '\0';
    for (size_t k = 0; k < sizeof follow_ups / sizeof follow_ups[0]; k++)
        if (strstr(lower, follow_ups[k])) return true;
    return false;
}

static bool digit(uint32_t c) { return c - '0' < 10u; }

bool lexicon_list_item(const unsigned char *p, size_t n, size_t i)
{
    static const uint32_t numerals[] = {0x4E00, 0x4E8C, 0x4E09, 0x56DB, 0x4E94,
                                        0x516D, 0x4E03, 0x516B, 0x4E5D, 0x5341};   /* 一 .. 十 */
    size_t d = i + (p[i] == '('), j = d, len;
    uint32_t cp;

    while (j < n && j - d < 3 && digit(p[j])) j++;
    if (j > d) {
        if (j >= n) return false;
        if (p[j] == ')') return true;
        if (d > i) return false;
        if (p[j] == '.') return j + 1 >= n || !digit(p[j + 1]);   /* not 1.5 */
        return n - j >= 3 && memcmp(p + j, "、", 3) == 0;
    }
    cp = utf8_decode(p + i, n - i, &len);
    if (cp == '-' || cp == '*' || cp == 0x2022) return i + len < n && p[i + len] == ' ';
    if ((cp >= 0x2460 && cp <= 0x2473) || (cp >= 0x2776 && cp <= 0x277F)) return true;
    if (n - (i + len) < 3 || memcmp(p + i + len, "、", 3) != 0) return false;
    for (size_t k = 0; k < sizeof numerals / sizeof numerals[0]; k++)
        if (cp == numerals[k]) return true;
    return false;
}

bool lexicon_math_mark(uint32_t cp)
{
    return (cp >= 0x2200 && cp <= 0x22FF) || (cp >= 0x370 && cp <= 0x3FF) ||
           (cp >= 0x2070 && cp <= 0x209F) || cp == 0xB1 || cp == 0xB2 || cp == 0xB3 ||
           cp == 0xB9 || cp == 0xD7 || cp == 0xF7 || cp == '^' || cp == '$';
}

bool lexicon_operator(uint32_t cp)
{
    return cp == '+' || cp == '-' || cp == '*' || cp == '/' || cp == '=' || cp == '<' || cp == '>' ||
           cp == '^' || cp == '%' || cp == 0xD7 || cp == 0xF7;
}
