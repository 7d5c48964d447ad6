/* Unit tests: ingest_parse_streamid (SRT Access Control stream ids). */
#include "unit.h"

#include "podium/ingest.h"

static void expect_ok(const char *sid, const char *session, enum ingest_mode mode)
{
    struct streamid out;
    const char *why = NULL;
    memset(&out, 0x5a, sizeof(out));
    int rc = ingest_parse_streamid(sid, &out, &why);
    if (rc != 0)
        fail_msg("'%s' refused: %s", sid, why ? why : "(why not set)");
    assert_string_equal(out.session, session);
    if (out.mode != mode)
        fail_msg("'%s': mode %d, expected %d", sid, (int)out.mode, (int)mode);
}

static void expect_err(const char *sid)
{
    struct streamid out;
    const char *why = NULL;
    int rc = ingest_parse_streamid(sid, &out, &why);
    if (rc != -1)
        fail_msg("'%s' accepted (rc %d) as session '%s' mode %d", sid ? sid : "(null)",
                 rc, out.session, (int)out.mode);
    if (!why || !*why)
        fail_msg("'%s' refused without a reason in *why", sid ? sid : "(null)");
}

static void test_publish_forms(void **state)
{
    (void)state;
    expect_ok("#!::r=keynote,m=publish", "keynote", INGEST_PUBLISH);
    expect_ok("keynote", "keynote", INGEST_PUBLISH);      /* bare id */
    expect_ok("Track-A_2", "Track-A_2", INGEST_PUBLISH);
    expect_ok("#!::m=publish,r=keynote", "keynote", INGEST_PUBLISH); /* any order */
}

static void test_request_forms(void **state)
{
    (void)state;
    expect_ok("#!::r=keynote,m=request", "keynote", INGEST_REQUEST);
    /* SRT Access Control: m defaults to request */
    expect_ok("#!::r=keynote", "keynote", INGEST_REQUEST);
}

static void test_other_keys_ignored(void **state)
{
    (void)state;
    expect_ok("#!::u=bob,r=keynote,m=publish", "keynote", INGEST_PUBLISH);
    expect_ok("#!::r=keynote,u=bob,m=publish", "keynote", INGEST_PUBLISH);
    expect_ok("#!::h=live.example.org,r=keynote,s=abc,t=stream,m=publish",
              "keynote", INGEST_PUBLISH);
    /* a u= value that would be a bad session id does not matter */
    expect_ok("#!::u=../etc,r=talk-1,m=publish", "talk-1", INGEST_PUBLISH);
}

static void test_id_lengths(void **state)
{
    (void)state;
    char id[CONFIG_ID_MAX + 1], sid[CONFIG_ID_MAX + 32];
    memset(id, 'x', CONFIG_ID_LEN);
    id[CONFIG_ID_LEN] = '\0';                         /* 40: longest valid */
    expect_ok(id, id, INGEST_PUBLISH);
    snprintf(sid, sizeof(sid), "#!::r=%s,m=publish", id);
    expect_ok(sid, id, INGEST_PUBLISH);
    expect_ok("#!::r=k,m=publish", "k", INGEST_PUBLISH);

    memset(id, 'x', CONFIG_ID_LEN + 1);
    id[CONFIG_ID_LEN + 1] = '\0';                     /* 41: too long */
    expect_err(id);
    snprintf(sid, sizeof(sid), "#!::r=%s,m=publish", id);
    expect_err(sid);
    snprintf(sid, sizeof(sid), "#!::r=%s", id);
    expect_err(sid);
}

static void test_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "#!::",                       /* no items */
        "#!::m=publish",              /* no r */
        "#!::u=bob,m=publish",
        "#!::r=,m=publish",           /* empty r */
        "#!::r=../x,m=publish",       /* bad id characters */
        "#!::r=a b,m=publish",
        "#!::r=a/b,m=publish",
        "#!::r=a.b",
        "../x",
        "a b",
        "a,b",
        "key=value",
        "#!::r=x,m=bogus",            /* bad mode */
        "#!::r=x,m=",
        "#!::r=x,m=publisher",
        "#!::r=x,m=pub",
        "#!::r=keynote,garbage",      /* item without '=' */
        "#!::garbage,r=keynote",
        "#!::r=keynote,,m=publish",   /* empty item */
    };
    for (size_t i = 0; i < UNIT_LEN(bad); i++)
        expect_err(bad[i]);
    expect_err(NULL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_forms),
        cmocka_unit_test(test_request_forms),
        cmocka_unit_test(test_other_keys_ignored),
        cmocka_unit_test(test_id_lengths),
        cmocka_unit_test(test_errors),
    };
    return unit_main(argc, argv, "streamid", tests, UNIT_LEN(tests));
}
