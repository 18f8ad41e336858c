/* support_fakelm: a loopback fake of an OpenAI-compatible chat-completions
 * server (libmicrohttpd, one thread per connection) for tests and benchmarks.
 *
 * Every POST (any path) is answered by the next scripted behaviour from a
 * FIFO queue; when the queue is empty the default behaviour answers.  The
 * server records each request it received (path, body, Authorization header)
 * and counts how many requests were being handled at the same moment.
 *
 * A normal reply is
 *   {"id":"fake-N","object":"chat.completion","model":<request model>,
 *    "choices":[{"index":0,"message":{"role":"assistant","content":C},
 *                "finish_reason":"stop"}],
 *    "usage":{"prompt_tokens":P,"completion_tokens":Q,"total_tokens":P+Q}}
 * where C is the scripted content, or, when that is NULL, the first line of
 * the last user message (an echo model, handy for benchmarks).  P and Q are
 * byte counts divided by 4, rounded up: deterministic, not real tokens.
 *
 * Thread safety: every function may be called from any thread while the
 * server runs.  Strings returned by fakelm_request_* are malloc'd copies. */
#ifndef DSE_TEST_SUPPORT_FAKELM_H
#define DSE_TEST_SUPPORT_FAKELM_H

#include <stddef.h>
#include <stdint.h>

enum fakelm_kind {
    FAKELM_OK,         /* 200 with a normal reply (after delay_ms) */
    FAKELM_429,        /* 429 with "Retry-After: 1" */
    FAKELM_500,        /* 500 with a small JSON error body */
    FAKELM_STATUS,     /* `status` with body `content` (e.g. 400 + an error JSON) */
    FAKELM_ECHO_AUTH,  /* `status` (default 400) whose body quotes the Authorization header */
    FAKELM_HANG,       /* never answers; released only by fakelm_stop */
    FAKELM_TRUNCATED,  /* announces Content-Length 1000, sends 10 bytes, closes */
    FAKELM_NOT_JSON,   /* 200 with an HTML page */
    FAKELM_NO_CONTENT, /* 200 with valid JSON that lacks choices[0].message.content */
    FAKELM_HUGE,       /* 200, chunked, 64 MiB of a never-ending JSON string */
};

struct fakelm_step {
    enum fakelm_kind kind;
    const char *content; /* FAKELM_OK: reply text (NULL = echo); FAKELM_STATUS: body */
    int status;          /* FAKELM_STATUS / FAKELM_ECHO_AUTH */
    int delay_ms;        /* FAKELM_OK: answer after this many ms */
};

struct fakelm;

/* Start on 127.0.0.1 with an ephemeral port.  Default behaviour: echo reply
 * with no delay.  Returns NULL (and prints why) if the server cannot start. */
struct fakelm *fakelm_start(void);
/* The standalone fixed-latency LM for benchmarks: default behaviour is the
 * echo reply after latency_ms.  port 0 = ephemeral. */
struct fakelm *fakelm_start_latency(int port, int latency_ms);
/* Stops the server, releasing any hanging handler, and frees everything. */
void fakelm_stop(struct fakelm *f);

/* "http://127.0.0.1:PORT" (no trailing slash, no /v1); valid until stop. */
const char *fakelm_url(const struct fakelm *f);
int fakelm_port(const struct fakelm *f);

/* Queue behaviours for the next requests, in order. */
void fakelm_push(struct fakelm *f, struct fakelm_step step);
void fakelm_push_kind(struct fakelm *f, enum fakelm_kind kind, int times);
void fakelm_push_ok(struct fakelm *f, const char *content);
/* Replace the default behaviour (used when the queue is empty). */
void fakelm_set_default(struct fakelm *f, struct fakelm_step step);
/* Hold each request until `n` requests have arrived in its group (arrivals
 * 1..n form the first group, n+1..2n the next, ...), then answer them all.
 * 0 disables.  A group that never fills is released after 10 s so a broken
 * client fails a test instead of hanging it. */
void fakelm_set_barrier(struct fakelm *f, int n);

/* Requests received so far (complete bodies only). */
int fakelm_requests(struct fakelm *f);
/* Body / Authorization header of request i (0-based), NULL if absent. */
char *fakelm_request_body(struct fakelm *f, int i);
char *fakelm_request_auth(struct fakelm *f, int i);
char *fakelm_request_path(struct fakelm *f, int i); /* e.g. "/v1/chat/completions" */
/* Highest number of requests being handled at once since the last reset. */
int fakelm_max_in_flight(struct fakelm *f);
/* TCP connections accepted (connection reuse shows as fewer than requests). */
int fakelm_connections(struct fakelm *f);
/* How far the FAKELM_HUGE stream got before the client hung up. */
uint64_t fakelm_huge_bytes_sent(struct fakelm *f);
/* Forget recorded requests, counters and maxima (the queue stays). */
void fakelm_reset_stats(struct fakelm *f);

#endif
