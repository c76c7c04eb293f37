/* Status socket: one line command per connection (status, status json, metrics, submit, job). */
#ifndef OV_SUP_STATUS_H
#define OV_SUP_STATUS_H

#include "common/buf.h"

struct ov_sup;

#define OV_STATUS_LINE_MAX 4096         /* a longer command line is refused */
#define OV_STATUS_READ_DEADLINE_MS 2000 /* a client must send its line within this */
#define OV_STATUS_REPLY_MAX (8u << 20)
#define OV_STATUS_CLIENTS_MAX 64

/* Listen on <runtime_dir>/status.sock (mode 0660). 0 or OV_EIO (logged). */
int ov_status_start(struct ov_sup *s);
/* Stop listening and drop clients (handles are freed in their close callbacks). */
void ov_status_close(struct ov_sup *s);
/* The reply for one command line (no trailing newline in `line`). Always appends something,
 * "error: ..." lines for bad input. 0 or OV_ENOMEM. */
int ov_status_command(struct ov_sup *s, const char *line, ov_buf *out);
/* Snapshot as JSON / as a human table. 0 or OV_ENOMEM. */
int ov_status_json(const struct ov_sup *s, ov_buf *out);
int ov_status_table(const struct ov_sup *s, ov_buf *out);
/* One-line summary for systemd STATUS=. */
void ov_status_summary(const struct ov_sup *s, char *out, unsigned long n);

#endif
