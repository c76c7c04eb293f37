/* Helpers for the supervisor integration suites: start a supervisor, talk to status.sock, fake workers. */
#ifndef OV_TEST_SUPERVISOR_UTIL_H
#define OV_TEST_SUPERVISOR_UTIL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/message.h"

typedef struct tsup {
    char dir[128]; /* temp dir: config, log, run/ */
    char run[160]; /* runtime dir */
    char conf[192];
    char log[192];
    pid_t pid; /* supervisor */
} tsup;

/* Path of a binary in build/bin ("ourvidz-supervisor") or build/tests ("ourvidz-testworker"). */
const char *tsup_bin(const char *name);
const char *tsup_test_bin(const char *name);
/* Make a temp dir and write a config: `body` is appended after [supervisor] runtime_dir = ... */
void tsup_prepare(tsup *t, const char *body);
/* Start the supervisor on t->conf with extra argv (NULL-terminated), wait until status.sock answers
 * (deadline 10 s). Registers an atexit cleanup killing its process group. */
void tsup_start(tsup *t, const char *const *extra_args);
/* Send one line to status.sock; returns the malloc'd reply (NULL if no connection). */
char *tsup_cmd(const tsup *t, const char *line);
/* Raw exchange: send n bytes (no newline added), read the reply until EOF or deadline_ms.
 * Returns the malloc'd reply ("" if closed without reply), NULL if connect failed. */
char *tsup_raw(const tsup *t, const void *data, size_t n, int deadline_ms, int64_t *elapsed_ms);
/* "status json" parsed (caller json_decref), asserted valid. */
json_t *tsup_status(const tsup *t);
/* The worker object named `name` from a status (borrowed). */
json_t *tsup_worker(json_t *status, const char *name);
const char *tsup_wstate(json_t *status, const char *name);
int64_t tsup_wint(json_t *status, const char *name, const char *field);
/* Poll status until worker `name` has `state` (deadline ms). 1 reached, 0 not. */
int tsup_wait_state(const tsup *t, const char *name, const char *state, int deadline_ms);
/* Poll `job <id>` until its state is `state`. */
int tsup_wait_job(const tsup *t, const char *id, const char *state, int deadline_ms);
/* submit; returns the id in a static buffer (asserted). */
const char *tsup_submit(const tsup *t, const char *kind, const char *task, const char *params);
/* Wait for the supervisor to exit; returns its wait status, or -1 on timeout. */
int tsup_wait_exit(tsup *t, int deadline_ms);
/* Count occurrences of `needle` in the supervisor log. */
int tsup_log_count(const tsup *t, const char *needle);
void tsup_kill_all(tsup *t);
int64_t tsup_now_ms(void);
void tsup_sleep_ms(int ms);

/* A fake worker talking to the unit-mode socket (workers.sock). */
int fake_connect(const tsup *t);
/* Send a message; 0 or <0. */
int fake_send(int fd, const ov_msg *m);
/* The pid fake_hello() announces (0 = our own). Unit mode kills that pid on a hang or a
 * protocol violation, so in-process fakes that expect a kill announce a sacrificial child. */
extern pid_t fake_hello_pid;
/* Send hello (protocol given) then, if ready, a ready frame. */
int fake_hello(int fd, const char *name, const char *kind, int64_t protocol, int ready);
/* Read one message with a deadline: 1 and *m filled, or <0. */
int fake_read(int fd, int timeout_ms, ov_msg *m);

#endif
