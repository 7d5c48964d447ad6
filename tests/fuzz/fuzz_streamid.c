/* SRT stream ids, as a caller sends them before any authentication. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "podium/config.h"
#include "podium/ingest.h"
#include "podium/log.h"

int fuzz_init(void)
{
    static const char *const ids[] = {
        "#!::r=keynote,m=publish", "keynote", "#!::m=request,r=track-2",
        "#!::u=ada,r=panel1,m=publish,s=abc", "#!::r=,m=publish", "#!::r=a,m=play",
        "#!::r=x,r=y", "#!:r=keynote",
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        fuzz_add_seed(ids[i], strlen(ids[i]));
    log_set_level((enum log_level)(LV_ERROR + 1));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sid = fuzz_cstring(data, size);
    struct streamid out;
    const char *why = NULL;
    int r = ingest_parse_streamid(sid, &out, &why);
    if (r < 0 && !why)
        abort();                              /* a refusal must say why */
    if (r == 0 && !config_valid_id(out.session))
        abort();                              /* the id names a folder on disk */
    free(sid);
    return 0;
}
