/* test_modelfile: the classifier's model file: a round trip, every way
 * loading must fail (each with one line naming the file and the fault), the
 * older version the trainer's base loader reads, and running out of memory
 * while loading or copying a model. */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classifier.h"
#include "testlib.h"

#define SHIPPED TIERGATE_SOURCE_DIR "/config/classifier.model"
#define HASHED (1u << FEATURES_HASH_BITS)
#define NAMED_AT 40u                                /* offset of the named weights */
#define FILE_BYTES (NAMED_AT + 4u * FEATURES_NNAMED + HASHED + 4u)
static char dir[] = "/tmp/tiergate-test-classifier-XXXXXX";

/* calloc, failing on demand: this test is linked with --wrap=calloc
 * (tests/CMakeLists.txt), so every calloc of the code under test comes
 * here.  calloc_lets counts the calls let through before one fails; -1,
 * none fails. */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
static int calloc_lets = -1;

void *__wrap_calloc(size_t n, size_t size)
{
    if (calloc_lets == 0) {
        calloc_lets = -1;
        return NULL;
    }
    if (calloc_lets > 0) calloc_lets--;
    return __real_calloc(n, size);
}

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(FILE_BYTES + 16);

    *n = f && buf ? fread(buf, 1, FILE_BYTES + 16, f) : 0;
    if (f) fclose(f);
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");

    CHECK(f != NULL);
    if (!f) return;
    CHECK_INT(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* The CRC-32 of the format, to forge files whose only fault is elsewhere. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static void reseal(unsigned char *buf, size_t n) { put32(buf + n - 4, crc32(buf, n - 4)); }

/* Loading path must fail with an error naming it and containing want. */
static void expect_load_error(const char *path, const char *want)
{
    char err[512] = "";
    classifier *m = classifier_load(path, err, sizeof err);

    CHECK(m == NULL);
    if (!strstr(err, path) || !strstr(err, want)) fprintf(stderr, "  got: %s\n  want: %s\n", err, want);
    CHECK(strstr(err, path) == err);
    CHECK(strstr(err, want) != NULL);
    CHECK(strchr(err, '\n') == NULL);
    classifier_free(m);
}

static void test_file_round_trip(void)
{
    float *w = calloc(FEATURES_DIM, sizeof *w);
    char err[512];
    classifier *m, *back;

    for (size_t i = 0; i < FEATURES_DIM; i++) w[i] = (float)((double)(i % 7) - 3.0) / 8;
    w[FEATURES_NNAMED + 1] = 1e-3f;   /* below half a step: rounds to 0 */
    m = classifier_new(-0.25, w, 1u << LANG_DE | 1u << LANG_JA | 1u << LANG_UND | 1u << 31);
    CHECK(m != NULL);
    if (!m) {
        free(w);
        return;
    }
    /* The named weights are kept as they are, the hashed ones within half a
     * step (the largest, 3/8, over 127) of theirs; the largest and zero are
     * exact. */
    for (uint32_t i = 0; i < FEATURES_DIM; i++) {
        if (i < FEATURES_NNAMED) CHECK(classifier_weight(m, i) == w[i]);
        else CHECK(fabs(classifier_weight(m, i) - w[i]) <= 0.375 / 127 / 2 * (1 + 1e-6));
        if (fabs(w[i]) == 0.375f || w[i] == 0) CHECK(fabs(classifier_weight(m, i) - w[i]) < 1e-7);
    }
    CHECK(classifier_weight(m, FEATURES_NNAMED + 1) == 0);
    /* A directory that is not there: refused, naming the file it could not write. */
    CHECK_INT(classifier_save(m, tmp_path("missing/a.model"), err, sizeof err), -1);
    CHECK(strstr(err, "missing/a.model.tmp: cannot write") != NULL);
    CHECK_INT(classifier_save(m, tmp_path("a.model"), err, sizeof err), 0);
    back = classifier_load(tmp_path("a.model"), err, sizeof err);
    CHECK(back != NULL);
    if (back) {
        bool same = true;
        CHECK(classifier_bias(back) == -0.25);
        for (uint32_t i = 0; i < FEATURES_DIM; i++) same &= classifier_weight(back, i) == classifier_weight(m, i);
        CHECK(same);
        /* The learned languages survive the file; "undetermined" is never one. */
        CHECK_INT(classifier_languages(back), 1u << LANG_DE | 1u << LANG_JA);
        CHECK(classifier_learned(back, LANG_JA) && !classifier_learned(back, LANG_TR));
        CHECK(classifier_learned(back, LANG_UND));
    }
    CHECK(access(tmp_path("a.model.tmp"), F_OK) != 0);   /* the temporary file was renamed */
    classifier_free(back);
    classifier_free(m);
    w[5] = NAN;
    CHECK(classifier_new(0, w, 0) == NULL);
    w[5] = 0;
    CHECK(classifier_new(INFINITY, w, 0) == NULL);
    /* All hashed weights zero: a step of 0, and a model that loads. */
    memset(w + FEATURES_NNAMED, 0, (FEATURES_DIM - FEATURES_NNAMED) * sizeof *w);
    m = classifier_new(0.5, w, 0);
    CHECK(m != NULL);
    if (m) CHECK_INT(classifier_save(m, tmp_path("zero.model"), err, sizeof err), 0);
    back = classifier_load(tmp_path("zero.model"), err, sizeof err);
    CHECK(back != NULL && classifier_weight(back, FEATURES_DIM - 1) == 0);
    classifier_free(back);
    classifier_free(m);
    free(w);
}

/* good (n bytes) with the 32 bits at `at` set to value, written as name
 * (its checksum made again when seal): loading it must fail with want. */
static void patched(const unsigned char *good, unsigned char *bad, size_t n, size_t at, uint32_t value, bool seal,
                    const char *name, const char *want)
{
    memcpy(bad, good, n);
    put32(bad + at, value);
    if (seal) reseal(bad, n);
    write_all(tmp_path(name), bad, n);
    expect_load_error(tmp_path(name), want);
}

/* Every way a model file can be wrong is refused, with one line that names
 * the file and says what is wrong. */
static void test_load_errors(void)
{
    size_t n;
    unsigned char *good = read_all(tmp_path("a.model"), &n), *bad = malloc(FILE_BYTES + 16);
    float nan = NAN;
    uint32_t bits;

    CHECK_INT(n, FILE_BYTES);
    expect_load_error(tmp_path("missing.model"), "cannot open the classifier model: No such file");
    write_all(tmp_path("empty.model"), good, 0);
    expect_load_error(tmp_path("empty.model"), "not a tiergate classifier model");
    memcpy(bad, good, n);
    memcpy(bad, "TGXM", 4);
    write_all(tmp_path("magic.model"), bad, n);
    expect_load_error(tmp_path("magic.model"), "bad magic");
    write_all(tmp_path("truncated.model"), good, n / 2);
    expect_load_error(tmp_path("truncated.model"), "truncated");
    write_all(tmp_path("named.model"), good, NAMED_AT + 10);   /* cut inside the named weights */
    expect_load_error(tmp_path("named.model"), "truncated: 50 bytes, a model has");
    write_all(tmp_path("nocrc.model"), good, n - 2);           /* cut inside the checksum */
    {
        char want[64];
        snprintf(want, sizeof want, "truncated: %zu bytes", n - 2);
        expect_load_error(tmp_path("nocrc.model"), want);
    }
    write_all(tmp_path("header.model"), good, 20);
    expect_load_error(tmp_path("header.model"), "file too short");
    memcpy(bad, good, n);
    bad[n] = 0;
    write_all(tmp_path("long.model"), bad, n + 1);
    expect_load_error(tmp_path("long.model"), "trailing data");
    memcpy(bad, good, n);
    bad[1000] ^= 0x10;
    write_all(tmp_path("flipped.model"), bad, n);
    expect_load_error(tmp_path("flipped.model"), "checksum mismatch");
    patched(good, bad, n, 4, 1, true, "version.model", "format version 1");
    patched(good, bad, n, 12, FEATURES_DIM + 1, true, "dims.model", "retrain");
    patched(good, bad, n, 20, FEATURES_HASH_BITS + 1, true, "bits.model", "hash bits");
    patched(good, bad, n, 8, FEATURES_VERSION + 1, true, "fversion.model", "retrain");
    memcpy(&bits, &nan, 4);
    patched(good, bad, n, NAMED_AT + 4 * 7, bits, true, "nan.model", "weight 7 is not a finite number");
    /* The bias's high word made a NaN. */
    patched(good, bad, n, 28, 0x7ff80000u, true, "bias.model", "the bias is not a finite number");
    /* A damaged value whose checksum was not made again is bit rot. */
    patched(good, bad, n, 28, 0x7ff80000u, false, "rot.model", "checksum mismatch");
    patched(good, bad, n, 16, FEATURES_NNAMED + 1, true, "named-count.model", "retrain");
    patched(good, bad, n, 36, bits, true, "step.model", "step of the hashed weights");
    /* Steps of -1 and +infinity. */
    patched(good, bad, n, 36, 0xbf800000u, true, "negstep.model", "step of the hashed weights");
    patched(good, bad, n, 36, 0x7f800000u, true, "infstep.model", "step of the hashed weights");
    /* -128, which the trainer never writes, is read as a weight like any other. */
    memcpy(bad, good, n);
    bad[NAMED_AT + 4 * FEATURES_NNAMED + 5] = 0x80;
    reseal(bad, n);
    write_all(tmp_path("q128.model"), bad, n);
    {
        char err[512];
        classifier *m = classifier_load(tmp_path("q128.model"), err, sizeof err);
        float step;
        bits = (uint32_t)good[36] | (uint32_t)good[37] << 8 | (uint32_t)good[38] << 16 | (uint32_t)good[39] << 24;
        memcpy(&step, &bits, 4);
        CHECK(m != NULL && step > 0);
        if (m) CHECK(classifier_weight(m, FEATURES_NNAMED + 5) == -128.0 * step);
        classifier_free(m);
    }
    expect_load_error(dir, "cannot");   /* a directory */
    free(good);
    free(bad);
}

/* A model file of FEATURES_EXTENDS, made from a.model's bytes: its first
 * FEATURES_EXTENDS_NNAMED named weights, its hashed weights.  The gateway's
 * loader refuses it; the base loader reads it with the named weights it
 * lacks (the second stage's) at 0, and classifier_with_named() keeps
 * everything else bit for bit. */
static void test_load_base(void)
{
    size_t n, drop = 4u * (FEATURES_NNAMED - FEATURES_EXTENDS_NNAMED);
    unsigned char *good = read_all(tmp_path("a.model"), &n), *old = malloc(FILE_BYTES);
    float named[FEATURES_NNAMED];
    char err[512];
    classifier *a, *b, *c = NULL;

    CHECK_INT(n, FILE_BYTES);
    memcpy(old, good, NAMED_AT + 4u * FEATURES_EXTENDS_NNAMED);
    memcpy(old + NAMED_AT + 4u * FEATURES_EXTENDS_NNAMED, good + NAMED_AT + 4u * FEATURES_NNAMED, HASHED + 4);
    n -= drop;
    put32(old + 8, FEATURES_EXTENDS);
    put32(old + 12, FEATURES_EXTENDS_NNAMED + HASHED);
    put32(old + 16, FEATURES_EXTENDS_NNAMED);
    reseal(old, n);
    write_all(tmp_path("base.model"), old, n);
    expect_load_error(tmp_path("base.model"), "retrain");
    a = classifier_load(tmp_path("a.model"), err, sizeof err);
    b = classifier_load_base(tmp_path("base.model"), err, sizeof err);
    CHECK(a != NULL && b != NULL);
    if (a && b) {
        bool same = classifier_bias(a) == classifier_bias(b) && classifier_languages(a) == classifier_languages(b);
        for (uint32_t i = 0; i < FEATURES_DIM; i++)
            same &= classifier_weight(b, i) == (i >= FEATURES_EXTENDS_NNAMED && i < FEATURES_NNAMED
                                                    ? 0 : classifier_weight(a, i));
        CHECK(same);
        for (uint32_t i = 0; i < FEATURES_NNAMED; i++) named[i] = (float)i / 4;
        c = classifier_with_named(b, named);
        CHECK(c != NULL);
        if (c) {
            same = classifier_bias(c) == classifier_bias(b) && classifier_languages(c) == classifier_languages(b);
            for (uint32_t i = 0; i < FEATURES_DIM; i++)
                same &= classifier_weight(c, i) == (i < FEATURES_NNAMED ? named[i] : classifier_weight(b, i));
            CHECK(same);
        }
        named[3] = NAN;
        CHECK(classifier_with_named(b, named) == NULL);
    }
    classifier_free(a);
    classifier_free(b);
    classifier_free(c);
    /* The base loader reads this version as the other does, and no version
     * but these two. */
    b = classifier_load_base(tmp_path("a.model"), err, sizeof err);
    CHECK(b != NULL);
    classifier_free(b);
    put32(old + 8, FEATURES_EXTENDS - 1);
    reseal(old, n);
    write_all(tmp_path("base6.model"), old, n);
    CHECK(classifier_load_base(tmp_path("base6.model"), err, sizeof err) == NULL);
    CHECK(strstr(err, "retrain") != NULL);
    put32(old + 8, FEATURES_EXTENDS);
    put32(old + 16, FEATURES_NNAMED);
    reseal(old, n);
    write_all(tmp_path("base-named.model"), old, n);
    CHECK(classifier_load_base(tmp_path("base-named.model"), err, sizeof err) == NULL);
    remove(tmp_path("base.model"));
    remove(tmp_path("base6.model"));
    remove(tmp_path("base-named.model"));
    free(good);
    free(old);
}

static void test_out_of_memory(void)
{
    float *w = calloc(FEATURES_DIM, sizeof *w);
    char err[512];
    int failures = 0;

    CHECK(w != NULL);
    for (int k = 0; w && k < 100; k++) {
        classifier *m, *n;
        bool failed;

        calloc_lets = k;
        m = classifier_load(SHIPPED, err, sizeof err);
        failed = calloc_lets == -1;
        calloc_lets = k;
        n = classifier_new(0, w, 0);
        calloc_lets = -1;
        if (!failed) {
            CHECK(m != NULL && n != NULL);
            classifier_free(m);
            classifier_free(n);
            break;
        }
        failures++;
        CHECK(m == NULL && n == NULL);
        CHECK(strstr(err, SHIPPED) == err && strstr(err, "out of memory") != NULL);
    }
    CHECK(failures >= 3);
    /* A copy with new named weights fails as a new model does. */
    {
        classifier *base = classifier_load(SHIPPED, err, sizeof err), *c = NULL;
        failures = 0;
        for (int k = 0; base && w && k < 100; k++) {
            calloc_lets = k;
            c = classifier_with_named(base, w);
            calloc_lets = -1;
            if (c) break;
            failures++;
        }
        CHECK(c != NULL && failures >= 1);
        classifier_free(c);
        classifier_free(base);
    }
    free(w);
}
int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    test_file_round_trip();
    test_load_errors();
    test_load_base();
    test_out_of_memory();
    {
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) remove(tmp_path(e->d_name));
        if (d) closedir(d);
    }
    CHECK_INT(rmdir(dir), 0);
    TEST_MAIN_END();
}
