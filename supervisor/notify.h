/* systemd notify protocol without libsystemd: one AF_UNIX datagram to $NOTIFY_SOCKET. */
#ifndef OV_SUP_NOTIFY_H
#define OV_SUP_NOTIFY_H

#include <stdint.h>

/* Send `state` ("READY=1", "STATUS=...", "STOPPING=1", "WATCHDOG=1"; newline-separated
 * assignments allowed). 0 (also when $NOTIFY_SOCKET is unset: not under systemd), OV_EINVAL (bad
 * socket path), OV_EIO. Never blocks. */
int ov_notify(const char *state);
/* The watchdog period in microseconds from $WATCHDOG_USEC (0 when unset, invalid, or meant for
 * another process per $WATCHDOG_PID). Ping at half of it. */
int64_t ov_notify_watchdog_usec(void);

#endif
