/* langid: scripts, the Latin-script languages by their function words,
 * what stays undetermined, the bound on what is read, and conversations. */
#include <stdlib.h>
#include <string.h>

#include "langid.h"
#include "testlib.h"

static langid *id;

static const char *lang_of(const char *text) { return langid_code(langid_text(id, text, strlen(text))); }

static void test_scripts(void)
{
    CHECK_STR(lang_of("打开空调"), "zh");
    CHECK_STR(lang_of("エアコンをつけて"), "ja");
    /* One kana among Han characters is Japanese; Chinese has none. */
    CHECK_STR(lang_of("東京駅周辺の天気"), "ja");
    CHECK_STR(lang_of("에어컨 켜 줘"), "ko");
    CHECK_STR(lang_of("Включи свет в салоне"), "ru");
    CHECK_STR(lang_of("Увімкни світло"), "uk");
    CHECK_STR(lang_of("شغل الضوء من فضلك"), "ar");
    CHECK_STR(lang_of("چراغ را روشن کن"), "fa");
    CHECK_STR(lang_of("เปิดไฟหน้า"), "th");
    CHECK_STR(lang_of("איפה התחנה"), "he");
    CHECK_STR(lang_of("Πού είναι ο σταθμός"), "el");
    CHECK_STR(lang_of("स्टेशन कहाँ है"), "hi");
    /* A CJK character weighs about a word: a Chinese request naming an
     * English song is Chinese. */
    CHECK_STR(lang_of("帮我放一首Yesterday"), "zh");
}

static void test_latin(void)
{
    CHECK_STR(lang_of("What is the weather like tomorrow?"), "en");
    CHECK_STR(lang_of("Wie ist das Wetter morgen?"), "de");
    CHECK_STR(lang_of("Heizung an"), "de");
    CHECK_STR(lang_of("¿Dónde está la estación de tren?"), "es");
    CHECK_STR(lang_of("Où est la gare ?"), "fr");
    CHECK_STR(lang_of("Onde fica a estação?"), "pt");
    CHECK_STR(lang_of("Dove si trova la stazione?"), "it");
    CHECK_STR(lang_of("Waar is het station?"), "nl");
    CHECK_STR(lang_of("İstasyon nerede?"), "tr");
    CHECK_STR(lang_of("Klimayı aç"), "tr");
    CHECK_STR(lang_of("Gdzie jest dworzec?"), "pl");
    CHECK_STR(lang_of("Xin chào, bạn khỏe không?"), "vi");
    /* A five-letter word is shorter than some endings ("ciones"). */
    CHECK_STR(lang_of("trade-offs of a plane"), "en");
    /* Case does not matter. */
    CHECK_STR(lang_of("WIE IST DAS WETTER"), "de");
}

static void test_undetermined(void)
{
    char *big = malloc(LANGID_LIMIT + 64);

    CHECK_STR(lang_of(""), "und");
    CHECK_STR(lang_of("42 + 17 = ?"), "und");
    /* One word that no language claims says nothing about the speaker. */
    CHECK_STR(lang_of("Defrost"), "und");
    CHECK(langid_text(id, NULL, 0) == LANG_UND);
    /* Only the first LANGID_LIMIT bytes are read. */
    if (big) {
        memset(big, ' ', LANGID_LIMIT);
        strcpy(big + LANGID_LIMIT, " 打开空调 打开空调");
        CHECK_STR(lang_of(big), "und");
        memcpy(big + LANGID_LIMIT - 6, "打开", 6);
        CHECK_STR(lang_of(big), "zh");
    }
    free(big);
    /* Invalid UTF-8 is tolerated, and a cut sequence at the end too. */
    CHECK_STR(lang_of("\xff\xfe打开空调\xe6"), "zh");
}

#define MSG(user, text) {(user), (text), sizeof(text) - 1}

static void test_conversation(void)
{
    const feature_message followup[] = {
        MSG(true, "Wie weit ist es bis Köln?"),
        MSG(false, "Noch 80 Kilometer."),
        MSG(true, "ok"),
    };
    const feature_message assistant_only[] = {MSG(false, "Hola, ¿qué tal?")};
    const feature_message switched[] = {MSG(true, "Wie weit ist es?"), MSG(true, "打开空调")};

    /* An undetermined follow-up takes the language of the turns before it;
     * the assistant's turn is not read. */
    CHECK_STR(langid_code(langid_detect(id, followup, 3)), "de");
    CHECK_STR(langid_code(langid_detect(id, followup + 1, 2)), "und");
    /* With no user turn the request is the last message. */
    CHECK_STR(langid_code(langid_detect(id, assistant_only, 1)), "es");
    CHECK_STR(langid_code(langid_detect(id, switched, 2)), "zh");
    CHECK(langid_detect(id, NULL, 0) == LANG_UND);
}

static void test_codes(void)
{
    CHECK_STR(langid_code(LANG_UND), "und");
    CHECK(langid_from_code("xx") == LANG_UND);
    CHECK(langid_from_code("und") == LANG_UND);
    CHECK(langid_from_code(NULL) == LANG_UND);
    for (unsigned l = 1; l < LANG_COUNT; l++) {
        CHECK_INT(strlen(langid_code((langid_lang)l)), 2);
        CHECK(langid_from_code(langid_code((langid_lang)l)) == (langid_lang)l);
    }
}

int main(void)
{
    id = langid_new();
    CHECK(id != NULL);
    if (!id) return 1;
    test_scripts();
    test_latin();
    test_undetermined();
    test_conversation();
    test_codes();
    langid_free(id);
    TEST_MAIN_END();
}
