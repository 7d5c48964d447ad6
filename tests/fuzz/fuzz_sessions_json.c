/* data_dir/sessions.json, read back at start-up: the organizer API's
 * sessions, through the same validation as the API's JSON bodies. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "podium/config.h"
#include "podium/log.h"
#include "podium/session.h"

static struct config cfg;

int fuzz_init(void)
{
    config_defaults(&cfg);
    log_set_level((enum log_level)(LV_ERROR + 1));
    static const char *const seeds[] = {
        "{\"sessions\":[{\"id\":\"talk-1\",\"title\":\"Opening\",\"speakers\":\"Ada, Alan\","
        "\"format\":\"panel\",\"starts\":1800000000,\"passphrase\":\"0123456789\","
        "\"ingest_window\":\"strict\"},{\"id\":\"w2\",\"title\":\"Workshop\",\"speakers\":\"\","
        "\"format\":\"workshop\",\"starts\":0,\"passphrase\":\"abcdefghijk\","
        "\"ingest_window\":\"open\"}]}",
        "{\"sessions\":[{\"id\":\"x\",\"title\":\"\\u00e9\\ud83d\\ude00\",\"starts\":-99999999999999,"
        "\"passphrase\":\"0123456789\"},{\"id\":\"x\"}]}",
        "{\"sessions\":{}}",
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        fuzz_add_seed(seeds[i], strlen(seeds[i]));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    struct registry *reg = registry_create(&cfg, NULL);
    if (!reg)
        abort();
    registry_load_api(reg, text);
    /* what was accepted must survive a save and a reload unchanged */
    char *saved = registry_dump_api(reg);
    struct registry *again = registry_create(&cfg, NULL);
    if (!saved || !again)
        abort();
    registry_load_api(again, saved);
    char *resaved = registry_dump_api(again);
    if (!resaved || strcmp(saved, resaved) != 0)
        abort();
    free(resaved);
    free(saved);
    registry_free(&again);
    registry_free(&reg);
    free(text);
    return 0;
}
