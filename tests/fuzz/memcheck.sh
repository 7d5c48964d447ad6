#!/bin/sh
# fuzz_ts on its seeds under valgrind memcheck: usage memcheck.sh FUZZ_TS SEED...
# Exits 77 (ctest: skipped) only when valgrind cannot start the program at
# all on this CPU: libavcodec links libjxl, whose libhwy executes RDTSCP in a
# constructor, before main. The CPU runs it, but valgrind 3.19 decodes it
# only when cpuid advertises it, and some VMs hide the flag: the program dies
# of SIGILL inside libhwy whatever our code does. Every other outcome is the
# test's.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
valgrind -q --error-exitcode=9 "$@" 2>"$log"
rc=$?
cat "$log" >&2
if [ "$rc" -eq 132 ] && grep -q 'Illegal opcode' "$log" && grep -q 'libhwy' "$log" \
   && ! grep -qw rdtscp /proc/cpuinfo; then
    echo "SKIP: valgrind cannot run libav* here: libhwy executes RDTSCP, which this CPU" \
         "does not advertise (no rdtscp in /proc/cpuinfo flags)" >&2
    exit 77
fi
exit "$rc"
