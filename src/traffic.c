#include "traffic.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "json.h"
#include "predict.h"
#include "store.h"
#include "util.h"

void traffic_thread_id(const char *prefix, int k, int j, char out[96])
{
    if (j == 0)
        snprintf(out, 96, "%s-%d", prefix, k);
    else
        snprintf(out, 96, "%s-%d.%d", prefix, k, j);
}

void traffic_pick_salt(const char *seed, const char *signature_id, const char *prefix,
                       int threads, int ids_per_thread, int rollout_pct, int want, char out[128])
{
    int best = -1;
    char cand[128];
    for (int i = 0; i < 500; i++) {
        snprintf(cand, sizeof cand, "%s-%d", seed, i);
        int in = 0;
        for (int k = 0; k < threads; k++)
            for (int j = 0; j < ids_per_thread; j++) {
                char tid[96];
                traffic_thread_id(prefix, k, j, tid);
                if ((int)hash_canary_bucket(cand, tid, signature_id) < rollout_pct)
                    in++;
            }
        if (in > best) {
            best = in;
            snprintf(out, 128, "%s", cand);
        }
        if (in >= want)
            return;
    }
}

struct shared {
    struct store *st;
    const struct traffic_opts *o;
    const cJSON *sig;
    const struct dataset *d;
    atomic_long next;
    int64_t t0;          /* monotonic start */
    pthread_mutex_t lock;
    struct traffic_stats *s;
};

static bool stopping(const struct shared *sh)
{
    if (sh->o->stop && atomic_load(sh->o->stop))
        return true;
    if (sh->o->duration_ms > 0 && util_mono_ms() - sh->t0 >= sh->o->duration_ms)
        return true;
    return false;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait until ticket i's slot; false when told to stop meanwhile. */
static bool pace(struct shared *sh, long i)
{
    if (sh->o->rate <= 0)
        return !stopping(sh);
    int64_t due = sh->t0 + (int64_t)((double)i * 1000.0 / sh->o->rate);
    for (;;) {
        if (stopping(sh))
            return false;
        int64_t now = util_mono_ms();
        if (now >= due)
            return true;
        sleep_ms(due - now < 50 ? due - now : 50);
    }
}

static void tally(struct shared *sh, const struct predict_result *r, int rc,
                  const struct dse_err *err)
{
    struct traffic_stats *s = sh->s;
    pthread_mutex_lock(&sh->lock);
    s->calls++;
    if (rc < 0) {
        s->unrecorded++;
        char buf[200];
        snprintf(s->last_error, sizeof s->last_error, "%s", dse_err_str(err, buf, sizeof buf));
    } else {
        if (r->ok)
            s->ok++;
        else
            s->errors++;
        if (r->canary) {
            s->canary++;
            if (r->ok)
                s->canary_ok++;
            else
                s->canary_errors++;
        }
        int at = -1;
        for (int i = 0; i < s->n_ids; i++)
            if (!strcmp(s->by_id[i].compiled_id, r->compiled_id))
                at = i;
        if (at < 0 && s->n_ids < TRAFFIC_MAX_IDS) {
            at = s->n_ids++;
            snprintf(s->by_id[at].compiled_id, sizeof s->by_id[at].compiled_id, "%s",
                     r->compiled_id);
        }
        if (at >= 0) {
            if (r->ok)
                s->by_id[at].ok++;
            else
                s->by_id[at].errors++;
        }
    }
    pthread_mutex_unlock(&sh->lock);
}

struct worker {
    struct shared *sh;
    int k;
    pthread_t tid;
    atomic_int done;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    const struct traffic_opts *o = sh->o;
    int per = o->ids_per_thread > 0 ? o->ids_per_thread : 1;
    const char *prefix = o->thread_prefix && *o->thread_prefix ? o->thread_prefix : "traffic";
    long mine = 0;
    for (;;) {
        long i = atomic_fetch_add(&sh->next, 1);
        if (o->count > 0 && i >= o->count)
            break;
        if (!pace(sh, i))
            break;
        const struct dataset_example *ex = &sh->d->ex[(size_t)i % sh->d->n];
        char tid[96];
        traffic_thread_id(prefix, w->k, (int)(mine++ % per), tid);
        struct predict_result r = {0};
        struct dse_err err = {0};
        const cJSON *blobs = json_get(ex->meta, "blobs");
        struct predict_live_opts lo = {.blobs = cJSON_IsArray(blobs) ? blobs : NULL};
        int rc = predict_live_ex(sh->st, o->lm, sh->sig, tid, sh->s->run_id, ex->input, &lo, &r,
                                 &err);
        tally(sh, &r, rc, &err);
        predict_result_free(&r);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

int traffic_run(struct store *st, const struct traffic_opts *o, struct traffic_stats *out,
                struct dse_err *err)
{
    memset(out, 0, sizeof *out);
    if (!o->lm)
        return dse_fail(err, "invalid_input", "traffic needs an LM client (lmopts_open)");
    if (o->count <= 0 && o->duration_ms <= 0 && !o->stop)
        return dse_fail(err, "invalid_input", "traffic needs a count, a duration or a stop flag");
    if (o->run_id && *o->run_id) {
        snprintf(out->run_id, sizeof out->run_id, "%s", o->run_id);
    } else {
        char u[37];
        util_uuid(u);
        snprintf(out->run_id, sizeof out->run_id, "dse_traffic_%s", u);
    }
    cJSON *sig = store_signature(st, o->signature_id, err);
    if (!sig)
        return -1;
    struct dataset *all = dataset_load(st, sig, err), *d = NULL;
    if (!all) {
        cJSON_Delete(sig);
        return -1;
    }
    const char *split = o->split && *o->split ? o->split : "train";
    if (strcmp(split, "all") != 0) {
        d = dataset_split(all, split);
    } else {
        size_t *idx = xcalloc(all->n + 1, sizeof *idx);
        for (size_t i = 0; i < all->n; i++)
            idx[i] = i;
        d = dataset_select(all, idx, all->n);
        free(idx);
    }
    if (!d || d->n == 0) {
        dse_fail(err, "no_examples", "%s has no %s examples to replay", o->signature_id, split);
        dataset_free(d);
        dataset_free(all);
        cJSON_Delete(sig);
        return -1;
    }
    int threads = o->threads > 0 ? o->threads : 4;
    if (threads > 64)
        threads = 64;
    struct shared sh = {.st = st, .o = o, .sig = sig, .d = d, .s = out};
    atomic_init(&sh.next, 0);
    pthread_mutex_init(&sh.lock, NULL);
    sh.t0 = util_mono_ms();
    struct worker *w = xcalloc((size_t)threads, sizeof *w);
    int started = 0;
    for (int k = 0; k < threads; k++) {
        w[k].sh = &sh;
        w[k].k = k;
        atomic_init(&w[k].done, 0);
        if (pthread_create(&w[k].tid, NULL, worker_main, &w[k]) != 0)
            break;
        started++;
    }
    if (started == 0) {
        w[0].sh = &sh;
        worker_main(&w[0]);
    }
    /* The caller's thread reports progress until every worker is done. */
    int every = o->progress_ms > 0 ? o->progress_ms : 1000;
    int64_t last = util_mono_ms();
    for (;;) {
        int alive = 0;
        for (int k = 0; k < started; k++)
            alive += !atomic_load(&w[k].done);
        if (!alive)
            break;
        sleep_ms(20);
        if (o->progress && util_mono_ms() - last >= every) {
            last = util_mono_ms();
            pthread_mutex_lock(&sh.lock);
            struct traffic_stats snap = *out;
            pthread_mutex_unlock(&sh.lock);
            snap.elapsed_ms = last - sh.t0;
            o->progress(o->user, &snap);
        }
    }
    for (int k = 0; k < started; k++)
        pthread_join(w[k].tid, NULL);
    out->elapsed_ms = util_mono_ms() - sh.t0;
    free(w);
    pthread_mutex_destroy(&sh.lock);
    dataset_free(d);
    dataset_free(all);
    cJSON_Delete(sig);
    return 0;
}

cJSON *traffic_stats_json(const struct traffic_stats *s)
{
    cJSON *o = json_obj();
    json_set_str(o, "runId", s->run_id);
    json_set_num(o, "calls", (double)s->calls);
    json_set_num(o, "ok", (double)s->ok);
    json_set_num(o, "errors", (double)s->errors);
    json_set_num(o, "unrecorded", (double)s->unrecorded);
    json_set_num(o, "canary", (double)s->canary);
    json_set_num(o, "canaryOk", (double)s->canary_ok);
    json_set_num(o, "canaryErrors", (double)s->canary_errors);
    cJSON *by = json_obj();
    for (int i = 0; i < s->n_ids; i++) {
        cJSON *e = json_obj();
        json_set_num(e, "ok", (double)s->by_id[i].ok);
        json_set_num(e, "errors", (double)s->by_id[i].errors);
        json_set(by, s->by_id[i].compiled_id, e);
    }
    json_set(o, "byCompiledId", by);
    json_set_num(o, "elapsedMs", (double)s->elapsed_ms);
    if (s->last_error[0])
        json_set_str(o, "lastError", s->last_error);
    return o;
}
