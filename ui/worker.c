#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sanitize.h"
#include "util.h"

struct job *job_new(const char *title, const char *signature_id, job_run_fn *run,
                    job_done_fn *done, void *arg, void (*free_arg)(void *))
{
    struct job *j = xcalloc(1, sizeof *j);
    sanitize_into(j->title, sizeof j->title, title, strlen(title), 0);
    snprintf(j->signature_id, sizeof j->signature_id, "%s", signature_id ? signature_id : "");
    j->run = run;
    j->done = done;
    j->arg = arg;
    j->free_arg = free_arg;
    atomic_init(&j->cancel, 0);
    pthread_mutex_init(&j->lock, NULL);
    j->wake_fd = -1;
    return j;
}

static void job_free(struct job *j)
{
    if (j->free_arg)
        j->free_arg(j->arg);
    if (j->own_st)
        store_close(j->st);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

static void wake(struct job *j)
{
    if (j->wake_fd >= 0) {
        ssize_t r = write(j->wake_fd, "j", 1);
        (void)r; /* a full pipe already means "wake up" */
    }
}

void job_progress(struct job *j, const char *fmt, ...)
{
    char raw[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&j->lock);
    sanitize_into(j->progress, sizeof j->progress, raw, strlen(raw), 0);
    pthread_mutex_unlock(&j->lock);
    wake(j);
}

static void *job_main(void *p)
{
    struct job *j = p;
    struct dse_err err = {0};
    int rc = j->run(j, j->st, &err);
    pthread_mutex_lock(&j->lock);
    j->rc = rc;
    j->err = err;
    j->finished = true;
    pthread_mutex_unlock(&j->lock);
    wake(j);
    return NULL;
}

int worker_start(struct ui *ui, struct job *j)
{
    struct dse_err err = {0};
    if (ui->remote) {
        /* The same URL with the token from the same environment variable;
         * with --token-file the handle is shared (its lock serialises). */
        const char *var = ui->ctx->token_env ? ui->ctx->token_env : "DSE_TOKEN";
        const char *tok = getenv(var);
        j->st = NULL;
        if (!ui->ctx->token_file && ui->ctx->remote)
            j->st = store_open_remote(ui->ctx->remote, tok && *tok ? tok : NULL, 0, &err);
        if (j->st) {
            store_set_actor(j->st, ui->st->actor);
            j->own_st = true;
        } else {
            j->st = ui->st;
            j->own_st = false;
        }
    } else if (!ui->store_path[0]) {
        j->st = ui->st;
        j->own_st = false;
    } else {
        j->st = store_open_sqlite(ui->store_path, STORE_NO_CREATE, &err);
        if (!j->st) {
            ui_err(ui, &err);
            job_free(j);
            return -1;
        }
        store_set_actor(j->st, ui->st->actor);
        j->own_st = true;
    }
    j->wake_fd = ui->job_pipe[1];
    j->started_ms = util_now_ms();
    snprintf(j->progress, sizeof j->progress, "starting");
    if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        ui_msg(ui, ROLE_ERROR, "cannot start a worker thread: %s", strerror(errno));
        job_free(j);
        return -1;
    }
    j->next = ui->jobs;
    ui->jobs = j;
    return 0;
}

void worker_poll(struct ui *ui)
{
    char buf[256];
    while (read(ui->job_pipe[0], buf, sizeof buf) > 0) {
    }
    struct job **pp = &ui->jobs;
    while (*pp) {
        struct job *j = *pp;
        pthread_mutex_lock(&j->lock);
        bool fin = j->finished;
        pthread_mutex_unlock(&j->lock);
        if (!fin) {
            pp = &j->next;
            continue;
        }
        pthread_join(j->thread, NULL);
        *pp = j->next;
        if (j->done)
            j->done(ui, j, j->rc, &j->err);
        job_free(j);
    }
    ui_dirty(ui, PANE_COMPILE);
    ui_dirty(ui, PANE_OVERVIEW);
    ui->chrome_dirty = true;
}

void worker_stop_all(struct ui *ui)
{
    for (struct job *j = ui->jobs; j; j = j->next)
        atomic_store(&j->cancel, 1);
    while (ui->jobs) {
        struct job *j = ui->jobs;
        pthread_join(j->thread, NULL);
        ui->jobs = j->next;
        job_free(j);
    }
}

bool worker_status(struct ui *ui, const char *sig, char *buf, size_t cap)
{
    for (struct job *j = ui->jobs; j; j = j->next) {
        if (sig && strcmp(j->signature_id, sig) != 0)
            continue;
        pthread_mutex_lock(&j->lock);
        char age[16];
        util_age(util_now_ms() - j->started_ms, age);
        snprintf(buf, cap, "%s: %s (%s)", j->title, j->progress, age);
        pthread_mutex_unlock(&j->lock);
        return true;
    }
    return false;
}

int worker_count(struct ui *ui)
{
    int n = 0;
    for (struct job *j = ui->jobs; j; j = j->next)
        n++;
    return n;
}
