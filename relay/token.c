#include "podium/token.h"

#include <libavutil/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 32

static int mac_hex(const uint8_t secret[TOKEN_SECRET_LEN], const char *msg, size_t len,
                   char hex[2 * MAC_LEN + 1])
{
    AVHMAC *h = av_hmac_alloc(AV_HMAC_SHA256);
    uint8_t mac[MAC_LEN];
    if (!h)
        return -1;
    int n = av_hmac_calc(h, (const uint8_t *)msg, (unsigned)len, secret,
                         TOKEN_SECRET_LEN, mac, sizeof(mac));
    av_hmac_free(h);
    if (n != MAC_LEN)
        return -1;
    for (int i = 0; i < MAC_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

int token_issue(const uint8_t secret[TOKEN_SECRET_LEN], const char *reg, time_t expiry,
                char *out, size_t len)
{
    char msg[64], hex[2 * MAC_LEN + 1];
    int n = snprintf(msg, sizeof(msg), "%s.%lld", reg, (long long)expiry);
    if (n < 0 || (size_t)n >= sizeof(msg) || mac_hex(secret, msg, (size_t)n, hex) < 0)
        return -1;
    n = snprintf(out, len, "%s.%s", msg, hex);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

enum token_verdict token_check(const uint8_t secret[TOKEN_SECRET_LEN], const char *token,
                               time_t now)
{
    if (!token || !*token)
        return TOKEN_MISSING;
    size_t n = strlen(token);
    if (n >= TOKEN_MAX)
        return TOKEN_FORGED;
    const char *mac = strrchr(token, '.');
    if (!mac || (size_t)(token + n - mac - 1) != 2 * MAC_LEN)
        return TOKEN_FORGED;
    char hex[2 * MAC_LEN + 1];
    if (mac_hex(secret, token, (size_t)(mac - token), hex) < 0)
        return TOKEN_FORGED;
    unsigned char diff = 0;
    for (int i = 0; i < 2 * MAC_LEN; i++)
        diff |= (unsigned char)(hex[i] ^ mac[1 + i]);
    if (diff)
        return TOKEN_FORGED;
    /* authentic: now the expiry can be trusted */
    const char *dot = memchr(token, '.', (size_t)(mac - token));
    if (!dot)
        return TOKEN_FORGED;
    long long expiry = strtoll(dot + 1, NULL, 10);
    return (long long)now > expiry ? TOKEN_EXPIRED : TOKEN_OK;
}
