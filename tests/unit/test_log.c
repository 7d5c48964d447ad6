/* Unit tests: log_escape, the guard of one event per log line; log_quota;
 * log_recent. */
#include "unit.h"

#include "podium/log.h"

static void expect(const char *in, size_t max, const char *want)
{
    char buf[256];
    memset(buf, 'Z', sizeof(buf));
    const char *got = log_escape(buf, sizeof(buf), in, max);
    if (got != buf || strcmp(got, want) != 0)
        fail_msg("log_escape(\"%s\", %zu) = \"%s\", expected \"%s\"", in, max, got, want);
}

static void test_plain_and_escaped(void **state)
{
    (void)state;
    expect("", 80, "");
    expect("#!::r=keynote,m=publish", 80, "#!::r=keynote,m=publish");
    expect("a\"b", 80, "a\\\"b");
    expect("a\\b", 80, "a\\\\b");
    expect("x\nlevel=error msg=\"forged\"", 80, "x\\nlevel=error msg=\\\"forged\\\"");
    expect("\r\t\x01\x1f\x7f", 80, "\\r\\t\\x01\\x1f\\x7f");
    expect("caf\xc3\xa9", 80, "caf\xc3\xa9");      /* UTF-8 passes as it is */
}

static void test_cut(void **state)
{
    (void)state;
    expect("abcdef", 3, "abc...");
    expect("abc", 3, "abc");
    expect("\"\"\"\"", 2, "\\\"\\\"...");
}

/* Whatever the input, the result fits the buffer, is terminated, holds no
 * byte that could end the line or an unescaped quote. */
static void test_small_buffers(void **state)
{
    (void)state;
    const char *in = "\"\n\x01\\abc";
    for (size_t cap = 1; cap < 24; cap++) {
        char buf[32];
        memset(buf, 'Z', sizeof(buf));
        log_escape(buf, cap, in, 80);
        size_t n = strnlen(buf, sizeof(buf));
        if (n >= cap)
            fail_msg("cap %zu: %zu bytes written, not terminated within the buffer", cap, n);
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || buf[i] == '\r' || (unsigned char)buf[i] < 0x20)
                fail_msg("cap %zu: control byte 0x%02x in \"%s\"", cap, (unsigned char)buf[i], buf);
            if (buf[i] == '"' && (i == 0 || buf[i - 1] != '\\'))
                fail_msg("cap %zu: bare quote in \"%s\"", cap, buf);
        }
        if (buf[cap] != 'Z' && cap < sizeof(buf))
            fail_msg("cap %zu: wrote past the buffer", cap);
    }
}

/* A window's budget, then its count once it is over, from the next line
 * or from the tick, whichever comes first; never twice. */
static void test_quota(void **state)
{
    (void)state;
    static struct log_quota q = LOG_QUOTA("unit", 3, 10);
    for (int i = 0; i < 3; i++)
        assert_true(log_quota_take(&q, 1000));
    assert_false(log_quota_take(&q, 1001));
    assert_false(log_quota_take(&q, 1009));
    assert_int_equal(log_quota_tick(&q, 1009), 0);     /* not over yet */
    assert_int_equal(log_quota_tick(&q, 1010), 2);
    assert_int_equal(log_quota_tick(&q, 1011), 0);     /* counted once */
    assert_true(log_quota_take(&q, 1011));             /* a fresh window */
    for (int i = 0; i < 5; i++)
        log_quota_take(&q, 1012);
    assert_true(log_quota_take(&q, 1030));             /* this line reports the 3 */
    assert_int_equal(log_quota_tick(&q, 1045), 0);
}

/* The organizer page's "Recent problems": warn and error lines, the newest
 * LOG_RECENT_MAX, oldest first, long ones cut; none about HTTP clients. */
static void test_recent(void **state)
{
    (void)state;
    static char got[LOG_RECENT_MAX + 4][LOG_RECENT_LEN];
    char long_msg[LOG_RECENT_LEN * 2];
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    for (int i = 1; i <= 40; i++) {
        log_msg(LV_INFO, "s0", "\"info, not kept\" i=%d", i);
        log_client(LV_WARN, "\"a client's bad request, not kept\" i=%d", i);
        if (i % 2)
            log_msg(LV_WARN, "s1", "\"problem\" i=%d", i);
        else
            log_msg(LV_ERROR, NULL, "\"server problem\" i=%d", i);
    }
    size_t n = log_recent(got, LOG_RECENT_MAX + 4);
    assert_int_equal(n, LOG_RECENT_MAX);
    for (size_t k = 0; k < n; k++) {
        size_t i = 40 - LOG_RECENT_MAX + 1 + k;
        char want[32];
        snprintf(want, sizeof(want), " i=%zu", i);
        const char *msg = i % 2 ? "level=warn session=s1 msg=\"problem\"" : "level=error msg=\"server problem\"";
        if (!strstr(got[k], msg) || strcmp(got[k] + strlen(got[k]) - strlen(want), want)
            || strchr(got[k], '\n'))
            fail_msg("recent line %zu: \"%s\", expected %s ending \"%s\"", k, got[k], msg, want);
    }
    assert_int_equal(log_recent(got, 3), 3);            /* the newest three */
    assert_non_null(strstr(got[2], " i=40"));
    assert_non_null(strstr(got[0], " i=38"));
    /* a client quota's count line is about clients too */
    static struct log_quota q = LOG_CLIENT_QUOTA("clients", 1, 10);
    log_quota_take(&q, 1000);
    log_quota_take(&q, 1001);
    assert_int_equal(log_quota_tick(&q, 1011), 1);
    assert_int_equal(log_recent(got, 1), 1);
    assert_non_null(strstr(got[0], " i=40"));
    log_msg(LV_WARN, "s2", "\"%s\"", long_msg);          /* cut, not dropped */
    assert_int_equal(log_recent(got, 1), 1);
    assert_int_equal(strlen(got[0]), LOG_RECENT_LEN - 1);
    assert_non_null(strstr(got[0], "session=s2 msg=\"xxx"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_escaped),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_recent),
    };
    return unit_main(argc, argv, "log", tests, UNIT_LEN(tests));
}
