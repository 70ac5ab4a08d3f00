#!/bin/sh
# Runs chatd under valgrind (memcheck) for the integration suite: any invalid access or
# leak makes chatd exit 99, which the suite's exit-code checks report.
here=$(dirname "$0")
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect "${CHATD_REAL_BIN:-$here/../build/chatd}" "$@"
