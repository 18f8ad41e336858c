/* worker: background jobs (compile, promote, canary start) so the console
 * stays responsive.
 *
 * A job runs on its own thread with its own store handle (a second SQLite
 * connection on the same file, or a second client of the same remote URL
 * with the token from the same environment variable; with --token-file the
 * console's handle is shared and its lock serialises calls).  The thread reports progress by updating the job under
 * its mutex and writing a byte to a pipe that the main loop polls; the main
 * loop then redraws and, when the job is finished, joins the thread and
 * runs the job's done() callback on the main thread.  Nothing on the worker
 * thread touches curses or struct ui. */
#ifndef DSE_UI_WORKER_H
#define DSE_UI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "console.h"

struct job;
typedef int job_run_fn(struct job *j, struct store *st, struct dse_err *err);
typedef void job_done_fn(struct ui *ui, struct job *j, int rc, const struct dse_err *err);

struct job {
    char title[160];          /* clean text: "compile SelectTool.v1" */
    char signature_id[256];
    job_run_fn *run;          /* worker thread */
    job_done_fn *done;        /* main thread */
    void *arg;
    void (*free_arg)(void *);
    atomic_int cancel;        /* set on exit; long jobs poll it */

    /* shared with the worker: guarded by lock */
    pthread_mutex_t lock;
    char progress[300];       /* latest progress line (clean) */
    bool finished;
    int rc;
    struct dse_err err;

    /* main thread only */
    pthread_t thread;
    int wake_fd;
    struct store *st;         /* the worker's handle */
    bool own_st;
    int64_t started_ms;
    struct job *next;
};

/* New job (zeroed, lock initialised). */
struct job *job_new(const char *title, const char *signature_id, job_run_fn *run,
                    job_done_fn *done, void *arg, void (*free_arg)(void *));
/* From the worker thread: set the progress line and wake the loop. */
void job_progress(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the worker's store and start the thread.  On failure the job is
 * freed and -1 returned (message shown). */
int worker_start(struct ui *ui, struct job *j);
/* The pipe woke: redraw progress, finish completed jobs. */
void worker_poll(struct ui *ui);
/* Cancel and join every job (on exit). */
void worker_stop_all(struct ui *ui);
/* Progress line of the running job for a signature (NULL when none). */
bool worker_status(struct ui *ui, const char *signature_id, char *buf, size_t cap);
int worker_count(struct ui *ui);

#endif
