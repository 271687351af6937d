#!/bin/sh
# Adds up the pass/fail counts that every suite printed (cargo test, the C
# harness, pytest, the install and example checks) into one closing line.
set -eu
awk '
/^test result: /          { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } next }
/: [0-9]+ passed, [0-9]+ failed/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } next }
/^=+ .* in [0-9.]+s/ || /^[0-9]+ (passed|failed).* in [0-9.]+s/ {
    for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } next }
END { printf "make test: %d passed, %d failed\n", p, f; exit (f > 0) }
' "$@"
