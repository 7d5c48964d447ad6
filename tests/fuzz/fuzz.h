/* Fuzz targets: each tests/fuzz/fuzz_<name>.c defines the libFuzzer entry
 * point and its seeds. driver.c runs a target without libFuzzer: a
 * deterministic mutation run over the seeds (every ctest), or the inputs
 * named on the command line (to replay a crash). */
#ifndef PODIUM_TESTS_FUZZ_H
#define PODIUM_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* One input; must not keep data after it returns. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Called once before the first input; returns 0 or -1 (setup failed). */
int fuzz_init(void);

/* Adds a copy of a seed to the mutation corpus (for fuzz_init). */
void fuzz_add_seed(const void *data, size_t size);

/* The input as a NUL-terminated string (text parsers take C strings); the
 * caller frees it. Aborts when out of memory. */
char *fuzz_cstring(const uint8_t *data, size_t size);

/* Adds the contents of a file as a seed; -1 if it cannot be read. */
int fuzz_add_seed_file(const char *path);

#endif
