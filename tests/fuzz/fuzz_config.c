/* Config files as organizers write them: every error reported, none fatal
 * to the parser, and a config that loads names only valid sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "podium/config.h"

static char path[] = "/tmp/podium-fuzz-config-XXXXXX";
static int fd = -1;
static FILE *devnull;

static void remove_file(void)
{
    unlink(path);
}

int fuzz_init(void)
{
    fd = mkstemp(path);
    devnull = fopen("/dev/null", "w");
    if (fd < 0 || !devnull)
        return -1;
    atexit(remove_file);
    if (fuzz_add_seed_file(PODIUM_SOURCE_DIR "/config/podium.ini") < 0
        || fuzz_add_seed_file(PODIUM_SOURCE_DIR "/config/demo.ini") < 0)
        return -1;
    static const char small[] = "[hls]\nformat = fmp4\npart_duration = 0.2\n"
                                "[session a-b_c]\npassphrase = 0123456789\nstarts = 2026-02-30T25:61:61Z\n";
    fuzz_add_seed(small, sizeof(small) - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct config cfg;
    int r = config_load(&cfg, path, devnull);
    for (size_t i = 0; r == 0 && i < cfg.n_sessions; i++)
        if (!config_valid_id(cfg.sessions[i].id))
            abort();
    config_free(&cfg);
    return 0;
}
