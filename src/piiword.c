/* piiword: addresses and names, found by the words around them.
 *
 * Neither has a format to validate, so each detector needs a word that says
 * what the text is about, and a shape after it.
 *
 * Chinese addresses are found at the word that ends a road (路 街 道 巷 弄
 * 段 胡同) when a house number and 号 follow it, or at the word that ends a
 * compound (小区 花园 苑 公寓 新村 大厦) when a building number follows
 * (5号楼, 12栋).  The value then extends back over the road name and the
 * city and district before it, up to a word that introduces a place (到 去 在
 * 住 是 址 …) or anything that is not a Chinese character, and forward over
 * building, unit and room.  The look back is bounded (24 characters) and
 * happens only at a found address, so the scan stays one pass, and stops
 * at the end of the value found before (an address right after another, or
 * after a spoken number, starts where that one ended).  A road
 * without a number ("建国路很堵"), a bus line ("88路") or a metro line
 * ("10号线") has no house number after the road word.
 *
 * English addresses: a house number (221, 221B), capitalised words, and a
 * street word (Street, Rd, Avenue …; "St." with its stop) as the second
 * word or later; then a direction (North, NW), an apartment, and ", City"
 * with state and postcode (after "St." a space may stand for the comma
 * when the state and postcode follow).  A street without a
 * number ("Baker Street station") is not an address.
 *
 * Names are the noisy detector (operators may switch NAME off).  Chinese: a
 * surname from the 150 most common (piitext.c) or a two-character one, and
 * one or two given characters, when a contact verb comes before it (联系,
 * 告诉, 我叫 …) or a weak one (给, 跟) with a contact verb after it (打电话,
 * 发消息 …), or when 的电话 / 的手机 … follows.  The verb after also decides
 * whether the given name has one character or two; without it the longer is
 * taken unless the second character starts a time word (明天, 下午).
 * Common words that start with a surname character (方式, 高速, 周末) are
 * not names.  English: one to three capitalised words after a contact verb
 * (call, text, tell …), "my name is", "I'm", "this is", "named", "my wife"
 * …, or before "'s number"; words that are not people (Mom, Support, Siri,
 * days and months) and anything followed by a street word are not names.
 * Businesses with a personal-sounding name ("call Pizza Hut") are taken
 * for people: that is the trade-off of a dictionary-free detector. */
#include "piiword.h"

#include <string.h>

#define ON(kinds, k) ((kinds) >> (k) & 1u)
#define ADDRESS_BACK 24      /* characters an address may extend back over */
#define CAP_WORD_BYTES 64    /* longest capitalised word (name or street) */
#define CAP_WORD_PARTS 4     /* "Marie-Anne-Sophie": parts joined by '-' or '\'' */

static bool found_until(pii_hit *h, size_t off, size_t end, pii_kind k) {
    *h = (pii_hit){off, end - off, k};
    return true;
}

static bool ideograph(uint32_t cp) { return cp >= 0x4E00 && cp <= 0x9FFF; }

static bool in_chars(const char *set, uint32_t cp) {
    pii_text s = {(const unsigned char *)set, strlen(set)};
    size_t len;
    for (size_t i = 0; i < s.n; i += len)
        if (pt_char(&s, i, &len) == cp) return true;
    return false;
}

/* ---- Chinese addresses ---- */

/* Words that introduce a place: an address extends back up to one. */
static const char place_stops[] = "到去在住是往至从于回的了送寄把让帮叫找为航址给接我你他她它们与及或就要想请";

/* A house number: 1-5 digits or 1-6 Chinese numerals; its end, or p. */
static size_t house_number(const pii_text *t, size_t p) {
    size_t d = pt_digit_run(t, p), q = p, len;
    if (d >= 1 && d <= 5) return p + d;
    for (int k = 0; k < 6; k++) {
        uint32_t cp = pt_char(t, q, &len);
        bool tens = cp == 0x5341 || cp == 0x767E;     /* 十 百 */
        if (!tens && (pt_numeral(cp) < 0 || cp == 0x5E7A)) break;  /* 幺 is phone speech */
        q += len;
    }
    return q;
}

/* 号 that ends a house number: not 号线 (metro), 号称, 号码, 号召. */
static size_t house_mark(const pii_text *t, size_t p) {
    static const char *const not_address[] = {"号线", "号称", "号码", "号召", NULL};
    return pt_is(t, p, "号") && !pt_is_any(t, p, not_address) ? 3 : 0;
}

static size_t unit_at(const pii_text *t, size_t p) {
    static const char *const units[] = {"号楼", "单元", "栋", "幢", "座", "层", "楼", "室", "号", "户", NULL};
    size_t q = p + pt_upper(pt_at(t, p));
    q += pt_digit_run(t, q);
    size_t w = q > p ? pt_is_any(t, q, units) : 0;
    return w ? q + w : p;
}

/* A building's name: up to 8 Chinese characters ending in a building word. */
static size_t building_at(const pii_text *t, size_t p) {
    static const char *const ends[] = {"大厦", "广场", "中心", "大楼", "公寓", "花园", "小区", "家园", "苑", "院", NULL};
    size_t q = p, len;
    for (int k = 0; k < 8 && ideograph(pt_char(t, q, &len)); k++) {
        q += len;
        if (pt_ends_any(t, q, ends)) return q;
    }
    return p;
}

/* Building, unit and room after the house number; a bare room number
 * closes them ("3单元502"). */
static size_t address_tail(const pii_text *t, size_t p) {
    bool any = false;
    for (int k = 0; k < 8; k++) {
        size_t q = unit_at(t, p);
        if (q == p) q = building_at(t, p);
        if (q == p) break;
        p = q;
        any = true;
    }
    size_t d = pt_digit_run(t, p);
    return any && d >= 2 && d <= 5 && pt_ends_token(t, p + d) ? p + d : p;
}

/* Where an address whose road or compound word is at i starts. */
static size_t address_start(const pii_text *t, size_t i, size_t floor) {
    size_t p = i, b;
    for (int k = 0; k < ADDRESS_BACK && p > floor; k++) {
        uint32_t cp = pt_char_before(t, p, &b);
        if (!ideograph(cp) || in_chars(place_stops, cp) || b < floor) break;
        p = b;
    }
    return p;
}

/* At the road word at i: a house number and 号 (or a lane: 123弄5号). */
static size_t road_address_end(const pii_text *t, size_t i, uint32_t cp) {
    static const char *const not_road_dao[] = {"知", "报", "难", "频", "味", "一", "这", "那", "哪", "几", "街", NULL};
    size_t b, p = i + 3, q, m;
    uint32_t prev = pt_char_before(t, i, &b);
    if (!ideograph(prev)) return 0;
    if (cp == 0x540C && prev != 0x80E1) return 0;                  /* 同 only in 胡同 */
    if (cp == 0x9053 && pt_ends_any(t, i, not_road_dao)) return 0; /* 道 in 知道, 这道题 */
    if ((q = house_number(t, p)) == p) return 0;
    if ((pt_is(t, q, "弄") || pt_is(t, q, "巷")) && (m = house_number(t, q + 3)) > q + 3) q = m;
    return (m = house_mark(t, q)) ? address_tail(t, q + m) : 0;
}

/* At the compound word at i: a building number (5号楼, 12栋). */
static size_t estate_address_end(const pii_text *t, size_t i, uint32_t cp) {
    static const char *const buildings[] = {"号楼", "栋", "幢", "座", "单元", NULL};
    static const char *const estates[] = {"小区", "社区", "花园", "家园", "公寓", "新村", "大厦", NULL};
    size_t p = i + 3, q = p + pt_digit_run(t, p);
    if (q == p || q - p > 4 || !pt_is_any(t, q, buildings)) return 0;
    if (cp != 0x82D1 && !pt_ends_any(t, p, estates)) return 0;    /* 苑 ends a compound alone */
    return address_tail(t, p);
}

/* ---- Chinese names ---- */

static const char *const compound_surnames[] = {"欧阳", "司马", "诸葛", "上官", "东方", "慕容", "令狐", "皇甫", "尉迟",
                                                "公孙", "夏侯", "长孙", "宇文", "司徒", "端木", "独孤", "南宫", "西门",
                                                NULL};
/* Common words that start with a surname's character, and places. */
static const char *const not_names[] = {
    "方式", "方法", "方面", "方向", "方便", "方案", "高速", "高德", "高铁", "高兴", "高架", "金额", "黄金", "周末",
    "周围", "周边", "马上", "马路", "王者", "文件", "安全", "程序", "万一", "关于", "关注", "于是", "常用", "常见",
    "白天", "石油", "江边", "钱包", "余额", "宋朝", "唐朝", "秦朝", "宋体", "孙子", "叶子", "毛病", "龙头", "史上",
    "左右", "左转", "向前", "向左", "向右", "单位", "包裹", "温度", "任何", "任务", "严重", "夏天", "章节", "申请",
    "毕业", "季度", "曾经", "程度", "林业", "田地", "牛奶", "张家界", "张家口", "黄山", "黄河", "长沙", "长春",
    "上海", "东莞", "南京", "西安", "武汉", "沈阳", "贵阳", "江苏", "江西", "杜绝", "邓小", "易于", "严格", "雷达",
    "龙门", "常规", "包括", "康复", "齐全", "孔雀", "甘肃", "宁夏", "尚未", "符合", "章程", "毛巾", "叶片", "余下",
    NULL};
/* Verbs after which a name stands alone. */
static const char *const strong_before[] = {"联系", "联系人", "联系一下", "呼叫", "拨打", "打给", "发给", "电话给",
                                            "消息给", "短信给", "微信给", "邮件给", "告诉", "通知",
                                            "提醒", "转告", "问问", "邀请", "致电", "回复", "抄送", "名字是", "名字叫",
                                            "叫", "叫做", "我是", "姓名", "姓名：", "姓名:", NULL};
/* Words before a name that need a contact verb after it. */
static const char *const weak_before[] = {"给", "跟", "和", "让", "帮", "请", "找", "替", "对", "向", NULL};
/* After a name, without a verb before it. */
static const char *const owned_after[] = {"的电话", "的手机", "的号码", "的微信", "的邮箱", "的地址", "的生日", NULL};
static const char *const verb_after[] = {"打电话", "打个电话", "打视频", "发消息", "发个", "发短信", "发微信", "发条",
                                         "发邮件", "发封", "回电话", "回个电话", "回复", "留言", "转账", "说", "讲",
                                         NULL};
/* A second given character that starts one of these is no part of the name. */
static const char *const time_words[] = {"明天", "今天", "后天", "昨天", "下午", "上午", "中午", "晚上", "早上",
                                         "现在", "马上", "一起", "一下", "明早", "今晚", "明晚", NULL};
/* Characters that are no part of a given name: particles, pronouns, verbs. */
static const char given_stops[] = "的了吗呢吧啊呀和跟与及给在是来去到回打发说讲让把被我你他她它们这那哪一不也都就还要想"
                                  "会能可下上过起电话短信微消息号码手机个条封吃开看带问找叫请帮对从到";

static bool given_char(const pii_text *t, size_t p) {
    size_t len;
    uint32_t cp = pt_char(t, p, &len);
    return len == 3 && ideograph(cp) && !in_chars(given_stops, cp);
}

/* The last character of a verb in strong_before or weak_before. */
static bool verb_before_char(uint32_t cp) {
    switch (cp) {
    case 0x7CFB: case 0x4EBA: case 0x4E0B: case 0x53EB: case 0x6253: case 0x7ED9: case 0x8BC9: case 0x77E5:
    case 0x9192: case 0x544A: case 0x95EE: case 0x8BF7: case 0x7535: case 0x590D: case 0x9001: case 0x662F:
    case 0x505A: case 0x540D: case 0xFF1A: case ':': case 0x8DDF: case 0x548C: case 0x8BA9: case 0x5E2E:
    case 0x627E: case 0x66FF: case 0x5BF9: case 0x5411:
        return true;    /* 系人下叫打给诉知 醒告问请电复送是 做名：: 跟和让帮 找替对向 */
    default:
        return false;
    }
}

/* The first character of an entry of owned_after or verb_after. */
static bool verb_after_char(uint32_t cp) {
    switch (cp) {
    case 0x7684: case 0x6253: case 0x53D1: case 0x56DE: case 0x7559: case 0x8F6C: case 0x8BF4: case 0x8BB2:
        return true;    /* 的打发回留转说讲 */
    default:
        return false;
    }
}

/* The end of a name starting at i (at a surname character), or 0.  Most
 * surname characters in a text are ordinary words: the neighbours are
 * looked at first, the word lists only when a verb may be near. */
static size_t zh_name(const pii_text *t, size_t i, unsigned cls, const pii_ctx *ctx) {
    size_t b, len;
    uint32_t prev = pt_char_before(t, i, &b);
    bool chained = ctx->any_name && ctx->name_end == b && (prev == 0x548C || prev == 0x3001 || prev == 0x8DDF);
    bool near = chained || verb_before_char(prev);
    for (size_t k = 6; !near && k <= 12; k += 3) near = verb_after_char(pt_char(t, i + k, &len));
    if (!near) return 0;
    size_t sl = (cls & PT_SURNAME2) ? pt_is_any(t, i, compound_surnames) : 0;
    if (!sl && !(cls & PT_SURNAME)) return 0;
    if (!sl) sl = 3;
    size_t g = i + sl, e = 0;
    if (!given_char(t, g)) return 0;
    bool two = given_char(t, g + 3);
    bool strong = chained || pt_ends_any(t, i, strong_before), weak = !strong && pt_ends_any(t, i, weak_before);
    for (size_t n = two ? 2 : 1; n >= 1 && !e; n--) {
        size_t end = g + 3 * n;
        if (pt_is_any(t, end, owned_after) || ((strong || weak) && pt_is_any(t, end, verb_after))) e = end;
    }
    if (!e && strong) e = two && !pt_is_any(t, g + 3, time_words) ? g + 6 : g + 3;
    return e && !pt_is_any(t, i, not_names) ? e : 0;
}

/* ---- English ---- */

static bool latin_upper(const pii_text *t, size_t p) {
    return pt_upper(pt_at(t, p)) || (pt_at(t, p) == 0xC3 && pt_at(t, p + 1) >= 0x80 && pt_at(t, p + 1) <= 0x9E);
}

/* The length of a lower-case letter at p (ASCII or Latin-1/Extended-A), or 0. */
static size_t latin_lower(const pii_text *t, size_t p) {
    unsigned char c = pt_at(t, p), d = pt_at(t, p + 1);
    if (pt_lower(c)) return 1;
    if ((c == 0xC3 && d >= 0x9F && d <= 0xBF) || ((c == 0xC4 || c == 0xC5) && d >= 0x80 && d <= 0xBF)) return 2;
    return 0;
}

/* A capitalised word at p (Anna, Müller, O'Brien, Jean-Luc; with single
 * set, also a single capital letter): its length, or 0.  It is tried at
 * every capital of a chain ("A-B-C-…"), so it reads at most CAP_WORD_BYTES
 * and CAP_WORD_PARTS parts, and anything longer is no name: unbounded, a
 * megabyte of "A-" made the scan quadratic (minutes on the event loop). */
static size_t cap_word(const pii_text *t, size_t p, bool single) {
    if (!latin_upper(t, p) || (p > 0 && pt_alnum(t->s[p - 1]))) return 0;
    size_t q = p + (pt_at(t, p) == 0xC3 ? 2 : 1), l, lower = 0, parts = 1;
    for (;;) {
        if (q - p > CAP_WORD_BYTES) return 0;
        if ((l = latin_lower(t, q))) {
            q += l;
            lower++;
        } else if ((pt_at(t, q) == '\'' || pt_at(t, q) == '-') && latin_upper(t, q + 1)) {
            if (++parts > CAP_WORD_PARTS) return 0;
            q += 1 + (pt_at(t, q + 1) == 0xC3 ? 2 : 1);
        } else {
            break;
        }
    }
    if (pt_digit(pt_at(t, q)) || pt_upper(pt_at(t, q))) return 0;
    return lower || (single && q == p + 1) ? q - p : 0;
}

static const char *const street_words[] = {"street", "st", "road", "rd", "avenue", "ave", "av", "boulevard", "blvd",
                                           "lane", "ln", "drive", "dr", "way", "place", "pl", "court", "ct",
                                           "parkway", "pkwy", "terrace", "close", "crescent", "square", "sq", "loop",
                                           "plaza", "highway", "hwy", "circle", "row", "walk", "gardens", "alley",
                                           NULL};

static bool street_word(const pii_text *t, size_t p) { return pt_upper(pt_at(t, p)) && pt_word_any(t, p, street_words); }

/* "Kingsway", "Broadway": a street in one word. */
static bool way_word(const pii_text *t, size_t p, size_t w) {
    return w > 4 && (t->s[p + w - 3] | 32) == 'w' && t->s[p + w - 2] == 'a' && t->s[p + w - 1] == 'y';
}

/* State and postcode, or a UK postcode, after a city at p. */
static size_t postcode(const pii_text *t, size_t p) {
    size_t q = p + (pt_at(t, p) == ','), u = 0, d;
    if (pt_at(t, q) != ' ') return p;
    q++;
    while (u < 3 && pt_upper(pt_at(t, q + u))) u++;
    if (u >= 2 && pt_at(t, q + u) == ' ' && ((d = pt_digit_run(t, q + u + 1)) == 4 || d == 5) &&
        pt_ends_token(t, q + u + 1 + d))
        return q + u + 1 + d;
    if (u >= 1 && u <= 2 && pt_digit(pt_at(t, q + u))) {            /* UK: NW1, NW8 9AY */
        size_t e = q + u + 1;
        if (pt_alnum(pt_at(t, e)) && !pt_lower(pt_at(t, e))) e++;
        if (pt_at(t, e) == ' ' && pt_digit(pt_at(t, e + 1)) && pt_upper(pt_at(t, e + 2)) && pt_upper(pt_at(t, e + 3)))
            e += 4;
        if (pt_ends_token(t, e)) return e;
    }
    return p;
}

/* A compass direction after a street (North, NW, SW.): its length, or 0. */
static size_t direction(const pii_text *t, size_t p) {
    static const char *const dirs[] = {"north", "south", "east", "west", NULL};
    static const char *const short_dirs[] = {"NE", "NW", "SE", "SW", "N", "S", "E", "W", NULL};
    size_t w;
    if (!pt_upper(pt_at(t, p))) return 0;
    if ((w = pt_word_any(t, p, dirs))) return w;
    if (!(w = pt_is_any(t, p, short_dirs)) || pt_alnum(pt_at(t, p + w))) return 0;
    return w + (pt_at(t, p + w) == '.' && !pt_alnum(pt_at(t, p + w + 1)));
}

/* The street word at p was abbreviated with a full stop (St., Ave.): its length with the stop, else w. */
static size_t street_stop(const pii_text *t, size_t p, size_t w) {
    static const char *const abbreviations[] = {"st", "rd", "ave", "av", "blvd", "ln", "dr", "pl", "ct", "pkwy", "sq",
                                                "hwy", NULL};
    return pt_at(t, p + w) == '.' && pt_word_any(t, p, abbreviations) && !pt_alnum(pt_at(t, p + w + 1)) ? w + 1 : w;
}

/* After the street word, ending at p (after its stop when stopped): a
 * direction, an apartment, and ", City" with a state and postcode; after
 * "St." the city may follow a space alone when a state and postcode end it
 * ("12 Main St. Springfield, IL 62701"). */
static size_t en_address_tail(const pii_text *t, size_t p, bool stopped) {
    static const char *const units[] = {"apt", "apartment", "suite", "unit", "flat", NULL};
    size_t w, q;
    if (pt_at(t, p) == ' ' && (w = direction(t, p + 1))) p += 1 + w;
    if (pt_at(t, p) == ' ' && pt_upper(pt_at(t, p + 1)) && (w = pt_word_any(t, p + 1, units))) {
        q = pt_skip_spaces(t, p + 1 + w + (pt_at(t, p + 1 + w) == '.'));
        size_t r = pt_alnum_run(t, q);
        if (r >= 1 && r <= 5 && pt_digit(pt_at(t, q))) p = q + r;
    }
    bool comma = pt_at(t, p) == ',' && pt_at(t, p + 1) == ' ';
    if (!comma && !(stopped && pt_at(t, p) == ' ')) return p;
    size_t e = 0, end;
    q = p + 1 + comma;
    for (int k = 0; k < 3 && (w = cap_word(t, q, false)); k++) {
        e = q + w;
        if (pt_at(t, e) != ' ' || !cap_word(t, e + 1, false)) break;
        q = e + 1;
    }
    if (!e) return p;
    end = postcode(t, e);
    return comma || end > e ? end : p;
}

static size_t en_address(const pii_text *t, size_t i) {
    size_t d = pt_digit_run(t, i), p = i + d, w;
    if (d > 5) return 0;
    if (pt_upper(pt_at(t, p)) && !pt_alpha(pt_at(t, p + 1))) p++;
    if (pt_at(t, p) != ' ') return 0;
    p++;
    for (int words = 1; words <= 4 && (w = cap_word(t, p, true)); words++) {
        if ((words >= 2 && street_word(t, p)) || (words == 1 && way_word(t, p, w))) {
            size_t end = p + street_stop(t, p, w);
            return en_address_tail(t, end, end > p + w) - i;
        }
        if (pt_at(t, p + w) == ' ') p += w + 1;
        else if (pt_is(t, p + w, "'s ") || pt_is(t, p + w, "\xE2\x80\x99s ")) p += w + (t->s[p + w] == '\'' ? 3 : 5);
        else break;
    }
    return 0;
}

/* ---- English names ---- */

static const char *const relations[] = {"wife", "husband", "son", "daughter", "mom", "mum", "dad", "mother",
                                        "father", "brother", "sister", "friend", "boss", "colleague", "partner",
                                        "boyfriend", "girlfriend", "kid", "child", "uncle", "aunt", "cousin",
                                        "grandma", "grandpa", "manager", "assistant", "neighbour", "neighbor", NULL};
static const char *const titles[] = {"dr", "mr", "mrs", "ms", "miss", "prof", NULL};
static const char *const owned[] = {"number", "phone", "address", "email", "cell", "mobile", "birthday",
                                    "contact", "location", NULL};
static const char *const not_people[] = {
    "Mom", "Mum", "Dad", "Mommy", "Daddy", "Mother", "Father", "Home", "Work", "Office", "Me", "Him", "Her", "Us",
    "Them", "It", "I", "You", "Siri", "Alexa", "Google", "Cortana", "Apple", "Tesla", "Uber", "Lyft", "Support",
    "Service", "Services", "Customer", "Center", "Centre", "Emergency", "Roadside", "Assistance", "Reception",
    "Team", "Everyone", "Everybody", "All", "Family", "Group", "Chat", "Messages", "Voicemail", "The", "A", "An",
    "My", "Your", "His", "Our", "Their", "This", "That", "Police", "Ambulance", "Hospital", "Monday", "Tuesday",
    "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May",
    "June", "July", "August", "September", "October", "November", "December", NULL};

static bool person_word(const pii_text *t, size_t p, size_t w) {
    for (const char *const *n = not_people; *n; n++)
        if (**n == (char)t->s[p] && strlen(*n) == w && memcmp(t->s + p, *n, w) == 0) return false;
    return !street_word(t, p);
}

/* One to three capitalised words at p that may be a person: the end, or p. */
static size_t en_person(const pii_text *t, size_t p) {
    size_t w, e = p, q = p;
    for (int k = 0; k < 3 && (w = cap_word(t, q, false)); k++) {
        if (!person_word(t, q, w)) break;
        e = q + w;
        if (pt_at(t, e) != ' ') break;
        q = e + 1;
    }
    if (e > p && street_word(t, pt_skip_spaces(t, e))) return p;
    return e;
}

/* After a verb ending at p: where the person's name would start, past
 * "to", "a message to" and a title; 0 when no space follows the verb. */
static size_t before_person(const pii_text *t, size_t p) {
    static const char *const lead[] = {"to ", "a message to ", "a text to ", "an email to ", "a note to ", NULL};
    size_t q = pt_skip_spaces(t, p), w;
    if (q == p) return 0;
    q += pt_is_any(t, q, lead);
    if ((w = pt_word_any(t, q, titles)) && pt_upper(t->s[q])) {
        size_t r = q + w + (pt_at(t, q + w) == '.');
        if (pt_at(t, r) == ' ') q = r + 1;
    }
    return q;
}

/* Capitalised words at p followed by "'s number", "'s address" …. */
static bool owned_follows(const pii_text *t, size_t p) {
    static const char *const marks[] = {"'s ", "\xE2\x80\x99s ", NULL};
    size_t w, m;
    for (int k = 0; k < 3 && (w = cap_word(t, p, false)); k++) {
        p += w;
        if ((m = pt_is_any(t, p, marks))) return pt_word_any(t, p + m, owned) > 0;
        if (pt_at(t, p) != ' ') return false;
        p++;
    }
    return false;
}

/* The name a word at i introduces: its start in *s, its end (or 0). */
static size_t en_name(const pii_text *t, size_t i, const pii_ctx *ctx, size_t *s) {
    size_t w, p = 0, b;
    int v;
    unsigned cls = pt_word(t, i, &w, &v);
    unsigned char c = t->s[i] | 32;
    if (cls & PTW_CONTACT) {
        p = before_person(t, i + w);
    } else if (cls & PTW_INTRO) {
        if (c == 'e' && pt_is(t, i + 1, "-mail ")) p = before_person(t, i + 6);
        else if (c == 'i' && (pt_is(t, i, "I'm ") || pt_is(t, i, "I\xE2\x80\x99m "))) p = i + (t->s[i + 1] == '\'' ? 4 : 6);
        else if (c == 'i' && pt_is(t, i, "I am ")) p = i + 5;
        else if ((c == 't' || c == 'n') && pt_is(t, i + w, " is ")) p = i + w + 4;
        else if (c == 'm' && pt_at(t, i + 2) == ' ' && (b = pt_word_any(t, i + 3, relations))) p = i + 3 + b;
        if (p) p = pt_skip_spaces(t, p);
    } else if (pt_upper(t->s[i])) {
        b = i >= 5 && pt_is(t, i - 5, " and ") ? i - 5 : i >= 2 && pt_is(t, i - 2, ", ") ? i - 2 : i;
        bool chained = b < i && ctx->any_name && ctx->name_end == b;
        if (!chained && !owned_follows(t, i)) return 0;
        size_t e = en_person(t, i);
        return e > i ? (*s = i, e) : 0;
    }
    if (!p) return 0;
    size_t e = en_person(t, p);
    return e > p ? (*s = p, e) : 0;
}

/* ---- entry points ---- */

bool piiword_ascii(const pii_text *t, size_t i, pii_kindset kinds, pii_ctx *ctx, pii_hit *h) {
    size_t len, start, end;
    if (pt_digit(t->s[i])) return ON(kinds, PII_ADDRESS) && (len = en_address(t, i)) && found_until(h, i, i + len, PII_ADDRESS);
    if (ON(kinds, PII_NAME) && pt_alpha(t->s[i]) && (end = en_name(t, i, ctx, &start))) {
        ctx->any_name = true;
        ctx->name_end = end;
        return found_until(h, start, end, PII_NAME);
    }
    return false;
}

bool piiword_cjk(const pii_text *t, size_t i, uint32_t cp, unsigned cls, pii_kindset kinds, pii_ctx *ctx,
                 pii_hit *h) {
    size_t e, floor = ctx->hit_end;
    if (ON(kinds, PII_ADDRESS)) {
        if ((cls & PT_ROAD) && (e = road_address_end(t, i, cp))) return found_until(h, address_start(t, i, floor), e, PII_ADDRESS);
        if ((cls & PT_ESTATE) && (e = estate_address_end(t, i, cp))) return found_until(h, address_start(t, i, floor), e, PII_ADDRESS);
    }
    if (ON(kinds, PII_NAME) && (cls & (PT_SURNAME | PT_SURNAME2)) && (e = zh_name(t, i, cls, ctx))) {
        ctx->any_name = true;
        ctx->name_end = e;
        return found_until(h, i, e, PII_NAME);
    }
    return false;
}
