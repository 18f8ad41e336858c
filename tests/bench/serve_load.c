/* Load on `dse serve` through the real client (store_open_remote): N
 * threads, each with its own remote store (one kept-alive connection),
 * each making M small queries (dse/active:getActive).  Not part of make test.
 *
 *   make BUILD=build/x build/x/libdse.a
 *   cc -O2 -std=c11 -D_DEFAULT_SOURCE -Isrc $(pkg-config --cflags libcjson) \
 *      tests/bench/serve_load.c build/x/libdse.a \
 *      $(pkg-config --libs sqlite3 libcjson libcurl libcrypto libmicrohttpd) -lpthread -lm \
 *      -o build/x/serve_load
 *   build/x/dse --db /tmp/b.db serve --listen 127.0.0.1:0 --tokens T --log /tmp/access.log &
 *   DSE_TOKEN=... build/x/serve_load http://127.0.0.1:PORT 8 2000
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "store.h"
#include "util.h"

static const char *url, *token;
static int per_thread;

static void *worker(void *arg)
{
    (void)arg;
    struct dse_err e;
    struct store *st = store_open_remote(url, token, STORE_READ_ONLY, &e);
    if (!st) {
        fprintf(stderr, "serve_load: %s: %s\n", e.code, e.msg);
        exit(1);
    }
    cJSON *args = json_obj();
    json_set_str(args, "signatureId", "bench.sig");
    for (int i = 0; i < per_thread; i++) {
        cJSON *out;
        if (store_call(st, STORE_OP_active_get, args, &out, &e) < 0) {
            fprintf(stderr, "serve_load: %s: %s\n", e.code, e.msg);
            exit(1);
        }
        cJSON_Delete(out);
    }
    cJSON_Delete(args);
    store_close(st);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: DSE_TOKEN=... serve_load URL THREADS QUERIES_PER_THREAD\n");
        return 2;
    }
    url = argv[1];
    token = getenv("DSE_TOKEN");
    int threads = atoi(argv[2]);
    per_thread = atoi(argv[3]);
    if (threads < 1 || threads > 256 || per_thread < 1)
        return 2;
    pthread_t *th = xcalloc((size_t)threads, sizeof *th);
    int64_t t0 = util_mono_ms();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    int64_t ms = util_mono_ms() - t0;
    printf("%d clients x %d queries: %lld ms, %.0f queries/s\n", threads, per_thread,
           (long long)ms, (double)threads * per_thread * 1000.0 / (double)(ms ? ms : 1));
    free(th);
    return 0;
}
