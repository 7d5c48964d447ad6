/* Unit tests: the session registry as the organizer API drives it (create,
 * delete, lookups, limits). Run under ASan, they also check that a deleted
 * session's memory stays valid for threads still holding it. */
#include "unit.h"

#include <stdlib.h>

#include "podium/session.h"

static struct registry *new_registry(struct config *cfg)
{
    config_defaults(cfg);
    cfg->adhoc_sessions = false;
    struct registry *reg = registry_create(cfg, NULL);
    assert_non_null(reg);
    return reg;
}

static void free_registry(struct registry **reg, struct config *cfg)
{
    registry_free(reg);
    assert_null(*reg);
    config_free(cfg);
}

static int add(struct registry *reg, const char *id, struct session **out)
{
    struct session_conf c = { .format = FORMAT_PRESENTATION };
    snprintf(c.id, sizeof(c.id), "%s", id);
    return registry_add(reg, &c, out);
}

static struct session *add_ok(struct registry *reg, const char *id)
{
    struct session *s = NULL;
    int err = add(reg, id, &s);
    if (err < 0)
        fail_msg("create %s: %s (%d)", id, registry_strerror(err), err);
    assert_non_null(s);
    return s;
}

/* Deleted sessions must not hold the live table's slots: many more
 * create/delete cycles than REGISTRY_MAX_SESSIONS all succeed (they failed
 * from the 1025th on when a deleted session kept its slot). */
static void test_delete_frees_the_slot(void **state)
{
    (void)state;
    struct config cfg;
    struct registry *reg = new_registry(&cfg);
    struct session *first = NULL;
    for (int i = 0; i < 3 * REGISTRY_MAX_SESSIONS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "talk-%d", i);
        struct session *s = NULL;
        int err = add(reg, id, &s);
        if (err < 0)
            fail_msg("create %d (%s) failed after %d create/delete cycles: %s", i, id, i,
                     registry_strerror(err));
        if (!first)
            first = s;
        registry_remove(reg, s);
        assert_null(registry_find(reg, id));
    }
    /* a thread holding the first one may still read it */
    assert_string_equal(first->id, "talk-0");
    assert_true(first->deleted);
    struct session *list[REGISTRY_MAX_SESSIONS];
    assert_int_equal(registry_list(reg, list, REGISTRY_MAX_SESSIONS), 0);
    free_registry(&reg, &cfg);
}

/* Deleting from the middle keeps the others, in creation order; the id can
 * be created again as a new session; deleting twice is harmless. */
static void test_delete_keeps_the_others(void **state)
{
    (void)state;
    struct config cfg;
    struct registry *reg = new_registry(&cfg);
    struct session *a = add_ok(reg, "a");
    struct session *b = add_ok(reg, "b");
    struct session *c = add_ok(reg, "c");
    struct session *dup = NULL;
    assert_int_equal(add(reg, "b", &dup), REGISTRY_EXISTS);
    assert_null(dup);

    registry_remove(reg, b);
    registry_remove(reg, b);            /* two DELETEs that both found it */
    struct session *list[REGISTRY_MAX_SESSIONS];
    assert_int_equal(registry_list(reg, list, REGISTRY_MAX_SESSIONS), 2);
    assert_ptr_equal(list[0], a);
    assert_ptr_equal(list[1], c);
    assert_ptr_equal(registry_find(reg, "a"), a);
    assert_ptr_equal(registry_find(reg, "c"), c);
    assert_null(registry_find(reg, "b"));

    struct session *b2 = add_ok(reg, "b");
    assert_ptr_not_equal(b2, b);
    assert_false(b2->deleted);
    assert_true(b->deleted);
    assert_ptr_equal(registry_find(reg, "b"), b2);
    assert_int_equal(registry_list(reg, list, REGISTRY_MAX_SESSIONS), 3);
    assert_ptr_equal(list[2], b2);

    char *dump = registry_dump_api(reg);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "\"b\""));
    free(dump);
    free_registry(&reg, &cfg);
}

/* REGISTRY_MAX_SESSIONS live sessions are the limit; deleting one makes
 * room again. Deleted objects are kept (not freed) up to
 * REGISTRY_MAX_KEPT, then creating fails with its own error while deleting
 * still works. */
static void test_limits(void **state)
{
    (void)state;
    struct config cfg;
    struct registry *reg = new_registry(&cfg);
    static struct session *live[REGISTRY_MAX_SESSIONS];
    char id[32];
    for (int i = 0; i < REGISTRY_MAX_SESSIONS; i++) {
        snprintf(id, sizeof(id), "live-%d", i);
        live[i] = add_ok(reg, id);
    }
    struct session *s = NULL;
    assert_int_equal(add(reg, "one-more", &s), REGISTRY_FULL);
    assert_null(s);
    registry_remove(reg, live[0]);
    live[0] = add_ok(reg, "one-more");

    /* 1 deleted so far; cycle until live + deleted reach the cap */
    int cycles = REGISTRY_MAX_KEPT - REGISTRY_MAX_SESSIONS - 1;
    for (int i = 0; i < cycles; i++) {
        snprintf(id, sizeof(id), "cycle-%d", i);
        registry_remove(reg, live[1]);
        live[1] = add_ok(reg, id);
    }
    registry_remove(reg, live[1]);
    assert_int_equal(add(reg, "refused", &s), REGISTRY_FULL_DELETED);
    assert_null(s);
    assert_non_null(strstr(registry_strerror(REGISTRY_FULL_DELETED), "deleted sessions"));
    /* deleting never fails, even now */
    for (int i = 2; i < REGISTRY_MAX_SESSIONS; i++)
        registry_remove(reg, live[i]);
    struct session *list[REGISTRY_MAX_SESSIONS];
    assert_int_equal(registry_list(reg, list, REGISTRY_MAX_SESSIONS), 1);
    assert_ptr_equal(list[0], live[0]);
    assert_int_equal(add(reg, "refused", &s), REGISTRY_FULL_DELETED);
    free_registry(&reg, &cfg);
}

/* After the organizer's end: everyone is refused for the hold; only tries
 * from the kicked publisher's host move it on, so nobody else can keep the
 * session closed by connecting over and over. */
static void test_end_hold(void **state)
{
    (void)state;
    struct config cfg;
    struct registry *reg = new_registry(&cfg);
    struct session *s = add_ok(reg, "talk");
    assert_false(session_publisher_held(s, "192.0.2.7:5000"));     /* never ended */

    uint32_t gen;
    assert_int_equal(session_attach(s, 42, "192.0.2.7:5000", &gen, NULL, 0), NO_PUBLISHER);
    session_hold_publishers(s);
    assert_true(session_publisher_held(s, "198.51.100.9:6000"));
    assert_true(session_publisher_held(s, "192.0.2.7:5001"));

    long long soon = s->end_hold_ms - (SESSION_END_HOLD_S * 1000LL - 50);   /* 50 ms left */
    s->end_hold_ms = soon;
    assert_true(session_publisher_held(s, "198.51.100.9:6001"));
    assert_true(s->end_hold_ms == soon);                           /* a stranger's try */
    assert_true(session_publisher_held(s, "192.0.2.70:5002"));      /* a longer host */
    assert_true(s->end_hold_ms == soon);
    assert_true(session_publisher_held(s, "192.0.2.7:5003"));
    assert_true(s->end_hold_ms > soon + 5000);                     /* the encoder's */

    s->end_hold_ms = 0;                                             /* over */
    assert_false(session_publisher_held(s, "192.0.2.7:5004"));
    assert_true(session_detach(s, gen));
    session_hold_publishers(s);                                     /* none to kick */
    assert_true(session_publisher_held(s, "192.0.2.7:5005"));
    assert_int_equal(s->end_hold_host[0], '\0');
    free_registry(&reg, &cfg);
}

/* Ad-hoc sessions: made once per id by a publish or a restored recording
 * (asking whether one fits makes none), marked as such; an API session of the same id wins; nothing is made from
 * an invalid id or with a config file. */
static void test_adhoc(void **state)
{
    (void)state;
    struct config cfg;
    struct registry *reg = new_registry(&cfg);
    assert_int_equal(registry_restore_adhoc(reg, "talk"), REGISTRY_FAILED);  /* -c given */
    assert_int_equal(registry_adhoc_room(reg, "talk"), REGISTRY_FAILED);
    assert_null(registry_get_for_publish(reg, "talk"));
    free_registry(&reg, &cfg);

    config_defaults(&cfg);                  /* no -c: ad-hoc */
    reg = registry_create(&cfg, NULL);
    assert_non_null(reg);
    struct session *api = add_ok(reg, "panel");
    assert_int_equal(registry_restore_adhoc(reg, "panel"), 0);
    assert_false(api->adhoc);
    assert_int_equal(registry_restore_adhoc(reg, "talk"), 1);
    assert_int_equal(registry_restore_adhoc(reg, "talk"), 0);
    assert_int_equal(registry_restore_adhoc(reg, "bad.id"), REGISTRY_FAILED);
    struct session *talk = registry_find(reg, "talk");
    assert_non_null(talk);
    assert_true(talk->adhoc && !talk->from_api);
    assert_ptr_equal(registry_get_for_publish(reg, "talk"), talk);
    /* asked before the handshake, it makes nothing */
    assert_int_equal(registry_adhoc_room(reg, "talk"), REGISTRY_EXISTS);
    assert_int_equal(registry_adhoc_room(reg, "bad.id"), REGISTRY_FAILED);
    assert_int_equal(registry_adhoc_room(reg, "other"), 0);
    assert_int_equal(registry_adhoc_room(reg, "other"), 0);
    assert_null(registry_find(reg, "other"));
    struct session *other = registry_get_for_publish(reg, "other");
    assert_non_null(other);
    assert_true(other->adhoc);
    struct session_info in;
    session_info(other, &in);
    assert_true(in.adhoc && !in.has_passphrase);
    assert_int_equal(registry_count(reg), 3);
    free_registry(&reg, &cfg);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delete_frees_the_slot),
        cmocka_unit_test(test_delete_keeps_the_others),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_end_hold),
        cmocka_unit_test(test_adhoc),
    };
    return unit_main(argc, argv, "session", tests, UNIT_LEN(tests));
}
