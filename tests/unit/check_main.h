/* check_main — the one main every unit test shares: a named suite of tests, run in one
 * test case, with check's exit status. Header-only: each test is built from its .c alone. */
#ifndef CHATD_CHECK_MAIN_H
#define CHATD_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

__attribute__((unused)) static int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* check_tests("name", t1, t2, ...): every START_TEST given, in order. */
#define check_tests(name, ...)                                                                     \
    check_suite(name, (const TTest *const[]){__VA_ARGS__},                                         \
                sizeof((const TTest *const[]){__VA_ARGS__}) / sizeof(const TTest *))

__attribute__((unused)) static int check_suite(const char *name, const TTest *const *tests,
                                               size_t n)
{
    Suite *s = suite_create(name);
    TCase *t = tcase_create("core");
    for (size_t i = 0; i < n; i++)
        tcase_add_test(t, tests[i]);
    suite_add_tcase(s, t);
    return check_run(s);
}

#endif
