/* Attendee tokens: "<reg>.<expiry>.<mac>", mac = hex HMAC-SHA256 over
 * "<reg>.<expiry>" with a server secret. Stateless to check. */
#ifndef PODIUM_TOKEN_H
#define PODIUM_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOKEN_SECRET_LEN 32
#define TOKEN_MAX 128
#define TOKEN_REG_LEN 16            /* hex characters of the registration id */

enum token_verdict { TOKEN_OK, TOKEN_MISSING, TOKEN_FORGED, TOKEN_EXPIRED };

/* Writes a token for registration id reg (TOKEN_REG_LEN hex chars) expiring
 * at expiry into out (TOKEN_MAX). Returns 0 or -1. */
int token_issue(const uint8_t secret[TOKEN_SECRET_LEN], const char *reg, time_t expiry,
                char *out, size_t len);

/* Checks a token (NULL or empty: TOKEN_MISSING) against the secret, in
 * constant time for the MAC comparison. */
enum token_verdict token_check(const uint8_t secret[TOKEN_SECRET_LEN], const char *token,
                               time_t now);

#endif
