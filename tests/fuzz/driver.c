/* Runs one fuzz target without libFuzzer.
 *
 *   fuzz_<name> [-n ITERATIONS] [-r SEED] [-s SEEDFILE]... [INPUT...]
 *
 * With INPUT files: runs each once (a crash found elsewhere replays here).
 * Otherwise: every seed as is, then ITERATIONS inputs (default 20000), each
 * a seed with 1-8 random mutations, from a fixed PRNG seed so a failure in
 * CI is the same failure on a desk. The input being run is written to
 * fuzz_<name>-last.bin (in the working directory) first: after a crash,
 * that file replays it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"

#define MAX_SEEDS 64
#define MAX_INPUT (256 * 1024)

static struct { uint8_t *data; size_t size; } seeds[MAX_SEEDS];
static size_t n_seeds;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

void fuzz_add_seed(const void *data, size_t size)
{
    if (n_seeds == MAX_SEEDS || size > MAX_INPUT)
        return;
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return;
    memcpy(copy, data, size);
    seeds[n_seeds].data = copy;
    seeds[n_seeds].size = size;
    n_seeds++;
}

char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(MAX_INPUT);
    size_t n = buf ? fread(buf, 1, MAX_INPUT, f) : 0;
    fclose(f);
    *size = n;
    return buf;
}

int fuzz_add_seed_file(const char *path)
{
    size_t n;
    uint8_t *buf = read_file(path, &n);
    if (!buf)
        return -1;
    fuzz_add_seed(buf, n);
    free(buf);
    return 0;
}

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t below(size_t n)
{
    return n ? (size_t)(next() % n) : 0;
}

/* Bytes parsers care about: separators, quotes, line ends, TS sync, limits. */
static const uint8_t special[] = { 0, 0xff, 0x7f, 0x80, 0x47, '\n', '\r', '#', '"', ',',
                                   '=', ':', '.', '-', '/', '{', '}', '[', ']', '0', '9' };

static size_t mutate(uint8_t *buf, size_t size, size_t cap)
{
    switch (below(8)) {
    case 0:                                   /* flip a bit */
        if (size)
            buf[below(size)] ^= (uint8_t)(1u << below(8));
        break;
    case 1:                                   /* a random byte */
        if (size)
            buf[below(size)] = (uint8_t)next();
        break;
    case 2:                                   /* a byte that means something */
        if (size)
            buf[below(size)] = special[below(sizeof(special))];
        break;
    case 3: {                                 /* delete a run */
        if (!size)
            break;
        size_t at = below(size), n = 1 + below(size - at < 64 ? size - at : 64);
        memmove(buf + at, buf + at + n, size - at - n);
        size -= n;
        break;
    }
    case 4: {                                 /* duplicate a run */
        if (!size)
            break;
        size_t at = below(size), n = 1 + below(size - at < 256 ? size - at : 256);
        if (size + n > cap)
            break;
        memmove(buf + at + n, buf + at, size - at);
        size += n;
        break;
    }
    case 5: {                                 /* a long run of digits or 0xff */
        size_t at = below(size + 1), n = 1 + below(24);
        if (size + n > cap)
            break;
        memmove(buf + at + n, buf + at, size - at);
        uint8_t c = below(2) ? '9' : 0xff;
        memset(buf + at, c, n);
        size += n;
        break;
    }
    case 6:                                   /* truncate */
        size = below(size + 1);
        break;
    default: {                                /* splice in part of another seed */
        size_t k = below(n_seeds);
        if (!seeds[k].size)
            break;
        size_t from = below(seeds[k].size), n = 1 + below(seeds[k].size - from);
        size_t at = below(size + 1);
        if (at + n > cap)
            n = cap - at;
        memcpy(buf + at, seeds[k].data + from, n);
        if (at + n > size)
            size = at + n;
        break;
    }
    }
    return size;
}

static const char *last_path;

static void run_one(const uint8_t *data, size_t size)
{
    FILE *f = last_path ? fopen(last_path, "wb") : NULL;
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
    }
    LLVMFuzzerTestOneInput(data, size);
}

int main(int argc, char **argv)
{
    long iterations = 20000;
    int first_input = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            iterations = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            rng = strtoull(argv[++i], NULL, 0) | 1;
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            if (fuzz_add_seed_file(argv[++i]) < 0) {
                fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i], strerror(errno));
                return 2;
            }
        } else {
            first_input = i;
            break;
        }
    }
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char last[256];
    snprintf(last, sizeof(last), "%s-last.bin", name);
    last_path = first_input < argc ? NULL : last;    /* a replay has its file */
    if (fuzz_init() < 0) {
        fprintf(stderr, "%s: setup failed\n", name);
        return 2;
    }
    if (first_input < argc) {
        for (int i = first_input; i < argc; i++) {
            size_t n;
            uint8_t *buf = read_file(argv[i], &n);
            if (!buf) {
                fprintf(stderr, "%s: %s: %s\n", name, argv[i], strerror(errno));
                return 2;
            }
            run_one(buf, n);
            free(buf);
        }
        printf("%s: %d input(s) ran\n", name, argc - first_input);
        return 0;
    }
    if (!n_seeds)
        fuzz_add_seed("", 0);
    uint8_t *buf = malloc(MAX_INPUT);
    if (!buf)
        return 2;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t k = 0; k < n_seeds; k++)
        run_one(seeds[k].data, seeds[k].size);
    for (long i = 0; i < iterations; i++) {
        size_t k = below(n_seeds), size = seeds[k].size;
        memcpy(buf, seeds[k].data, size);
        for (size_t m = 1 + below(8); m > 0; m--)
            size = mutate(buf, size, MAX_INPUT);
        run_one(buf, size);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%s: %zu seeds + %ld mutated inputs in %.1f s, no crash\n", name, n_seeds, iterations,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    remove(last);
    for (size_t k = 0; k < n_seeds; k++)
        free(seeds[k].data);
    free(buf);
    return 0;
}
