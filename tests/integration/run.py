#!/usr/bin/env python3
"""Runs chatd's integration tests (tests/integration/test_*.py) against the binary named
by CHATD_BIN (default build/chatd) and the mock upstream. Prints unittest's verbose output,
then alone on the last line: "integration: N passed, M failed". Skipped tests count as
failed (there must be none). Exit status 0 only when nothing failed.

    CHATD_BIN=build/chatd python3 tests/integration/run.py [-k PATTERN ...]"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class Result(unittest.TextTestResult):
    """Remembers the tests that passed (a test whose tearDown failed did not)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed.append(test.id())


def main(argv):
    sys.path.insert(0, HERE)
    import chatd_harness  # noqa: E402

    patterns = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "-k" and args:
            patterns.append(args.pop(0))
        elif a.startswith("-k"):
            patterns.append(a[2:])
        else:
            sys.stderr.write(__doc__)
            return 2
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = ["*%s*" % p if "*" not in p else p for p in patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result)
    try:
        result = runner.run(suite)
    finally:
        chatd_harness.kill_all()
    failed = (len(result.failures) + len(result.errors) + len(result.skipped)
              + len(result.unexpectedSuccesses) + len(result.expectedFailures))
    passed = len(result.passed)
    if result.testsRun == 0:
        failed = max(failed, 1)
    sys.stdout.flush()
    print("integration: %d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
