/* Signal handling on the loop: SIGTERM/SIGINT drain (a second one stops at once); SIGPIPE ignored. */
#ifndef OV_SUP_SIGNALS_H
#define OV_SUP_SIGNALS_H

struct ov_sup;

/* Ignore SIGPIPE (a write to a dead worker must be EPIPE) and watch SIGTERM/SIGINT/SIGHUP.
 * 0 or OV_EIO. */
int ov_signals_start(struct ov_sup *s);
/* Close the signal handles. */
void ov_signals_close(void);

#endif
