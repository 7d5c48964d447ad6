/* SRT ingest: one libsrt listener; the listen callback authorises each
 * caller by stream id and session passphrase before the handshake ends. */
#ifndef PODIUM_INGEST_H
#define PODIUM_INGEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "podium/config.h"
#include "podium/session.h"

#define INGEST_MAX_PUBLISHERS 1024
#define INGEST_EOF (-1)          /* ingest_conn_read: connection is gone */
#define INGEST_TIMEOUT (-2)      /* ingest_conn_read: nothing within timeout_ms */

enum ingest_mode { INGEST_PUBLISH, INGEST_REQUEST };

struct streamid {
    char session[CONFIG_ID_MAX];
    enum ingest_mode mode;
};

/* Parses an SRT stream id: "#!::r=<id>,m=publish|request" (SRT Access
 * Control; m defaults to request) or a bare "<id>" (publish).
 * Returns 0, or -1 with a reason in *why (static string). */
int ingest_parse_streamid(const char *sid, struct streamid *out, const char **why);

struct ingest;
struct ingest_conn;

/* Called on the accept thread for every authorised publisher. Takes
 * ownership of conn, which must eventually be released with
 * ingest_conn_close (from any thread). */
typedef void (*ingest_publisher_fn)(struct ingest_conn *conn, void *opaque);

/* Called on the accept thread for every authorised m=request connection to
 * session s (peer: its address). Takes ownership of the SRT socket. */
typedef void (*ingest_subscriber_fn)(struct session *s, int sock, const char *peer,
                                     void *opaque);

/* Binds the listener, logs `msg="listening" proto=srt addr=...` and starts
 * the accept thread. NULL on failure (logged). */
struct ingest *ingest_start(const struct config *cfg, struct registry *reg,
                            ingest_publisher_fn on_publisher,
                            ingest_subscriber_fn on_subscriber, void *opaque);

/* The port the listener is bound to (the config's, or the one picked for
 * port 0). */
int ingest_port(const struct ingest *ing);

/* Stops accepting, closes every publisher connection and waits (up to
 * timeout_ms) for all of them to be released; frees the ingest. */
void ingest_stop(struct ingest **ing, int timeout_ms);

/* Blocking read of SRT payload straight into buf, for at most timeout_ms
 * (-1: no limit). Returns bytes read (>0), INGEST_TIMEOUT, or INGEST_EOF
 * when the connection was closed, broken or taken over. */
int ingest_conn_read(struct ingest_conn *c, uint8_t *buf, size_t len, int timeout_ms);

struct session *ingest_conn_session(const struct ingest_conn *c);
uint32_t ingest_conn_gen(const struct ingest_conn *c);
const char *ingest_conn_peer(const struct ingest_conn *c);

/* SRT link statistics for the API and metrics; -1 when unavailable. */
struct ingest_link_stats {
    double rtt_ms, mbps_recv;
    int64_t pkts_lost, pkts_retrans, pkts_dropped;
    int rcvbuf_ms;
};
int ingest_sock_stats(int sock, struct ingest_link_stats *out);

/* Closes a publisher's socket from outside its thread (organizer ended the
 * session); its pipeline then ends as on a disconnect. */
void ingest_kick(int sock);

/* Closes the connection, detaches it from its session if it is still the
 * current publisher, frees it and sets *c to NULL. */
void ingest_conn_close(struct ingest_conn **c);

#endif
