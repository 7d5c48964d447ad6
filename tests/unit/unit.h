/* Shared by the cmocka unit tests (header-only: every test is one file). */
#ifndef PODIUM_TESTS_UNIT_H
#define PODIUM_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define UNIT_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Runs `tests` as one cmocka group. */
static inline int unit_main(int argc, char **argv, const char *suite,
                            const struct CMUnitTest *tests, size_t n)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: %s\n", argv[0]);
        return 2;
    }
    return _cmocka_run_group_tests(suite, tests, n, NULL, NULL);
}

#endif
