/* Attendee tokens arrive in every query string and Authorization header. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "podium/token.h"

static const uint8_t secret[TOKEN_SECRET_LEN] = "0123456789abcdef0123456789abcde";
#define NOW ((time_t)1800000000)

int fuzz_init(void)
{
    char tok[TOKEN_MAX];
    if (token_issue(secret, "0123456789abcdef", NOW + 3600, tok, sizeof(tok)) < 0)
        return -1;
    fuzz_add_seed(tok, strlen(tok));
    if (token_issue(secret, "fedcba9876543210", NOW - 1, tok, sizeof(tok)) < 0)
        return -1;
    fuzz_add_seed(tok, strlen(tok));
    fuzz_add_seed("a.b.c", 5);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = fuzz_cstring(data, size);
    enum token_verdict v = token_check(secret, tok, NOW);
    /* only a token this secret issued may pass: re-issuing its reg and
     * expiry must give back exactly the same text */
    if (v == TOKEN_OK) {
        char reg[TOKEN_REG_LEN + 1], again[TOKEN_MAX];
        memcpy(reg, tok, TOKEN_REG_LEN);
        reg[TOKEN_REG_LEN] = '\0';
        time_t expiry = (time_t)strtoll(tok + TOKEN_REG_LEN + 1, NULL, 10);
        if (token_issue(secret, reg, expiry, again, sizeof(again)) < 0 || strcmp(again, tok) != 0)
            abort();
    }
    free(tok);
    return 0;
}
