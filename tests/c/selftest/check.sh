#!/bin/sh
# Runs the harness self-test ($1) and checks its report: the crash, the hang,
# the failure and the leak named with their reasons, the good cases run, a
# non-zero exit. Prints one "harness: N passed, N failed" line.
set -u
out=$(SL_TEST_TIMEOUT=1 "$1" 2>/dev/null)
status=$?
passed=0 failed=0
expect() { # a whole line, or its start when the pattern ends in '...'
    found=no
    while IFS= read -r line; do
        case "$1" in
            *...) [ "${line#"${1%...}"}" != "$line" ] && found=yes ;;
            *) [ "$line" = "$1" ] && found=yes ;;
        esac
    done <<OUT
$out
OUT
    if [ "$found" = yes ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "harness self-test: no line '$1' in:"; printf '%s\n' "$out"; fi
}
expect 'ok   passes_before'
expect 'FAIL crashes (crashed: signal ...'
expect 'FAIL hangs (hung: killed after 1 s)'
expect 'FAIL fails'
expect 'FAIL leaks_an_fd (left fds open)'
expect 'ok   passes_after'
expect 'harness_selftest: 2 passed, 4 failed'
if [ "$status" -ne 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "harness self-test exited 0"; fi
echo "harness: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
