/* IPC framing: a 4-byte big-endian length, then that many bytes of msgpack; hard size cap. */
#ifndef OV_IPC_FRAME_H
#define OV_IPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define OV_IPC_FRAME_HEADER 4
#define OV_IPC_FRAME_MAX (1u << 20) /* payload cap: 1 MiB; a larger length kills the connection */

/* Incremental reader for a byte stream (libuv read callbacks, or blocking reads).
 * Feed whatever bytes arrived; take complete frames out one at a time. */
typedef struct ov_frame_reader {
    uint8_t *buf;
    size_t len, cap, off;
    size_t max_payload;
} ov_frame_reader;

void ov_frame_reader_init(ov_frame_reader *r, size_t max_payload);
void ov_frame_reader_free(ov_frame_reader *r);
/* Append received bytes. 0 or OV_ENOMEM. */
int ov_frame_reader_feed(ov_frame_reader *r, const void *data, size_t n);
/* 1 and (*payload,*len) = the next complete frame (valid until the next feed/next call);
 * 0 when more bytes are needed; OV_EPROTO when the announced length is over the cap (the stream
 * is then unusable: close the connection). A zero-length frame is OV_EPROTO too. */
int ov_frame_reader_next(ov_frame_reader *r, const uint8_t **payload, size_t *len);

/* Write the 4-byte header for a payload of n bytes into hdr. */
void ov_frame_put_header(uint8_t hdr[OV_IPC_FRAME_HEADER], uint32_t n);

/* Blocking helpers for workers (plain fds, EINTR-safe). write_all: 0 or OV_EIO/OV_ECLOSED.
 * read_frame: blocks until one frame arrives or timeout_ms passes (-1 = no deadline);
 * returns 1 with a malloc'd payload (*out, caller frees), OV_ETIMEDOUT, OV_ECLOSED, OV_EIO,
 * OV_EPROTO. Uses r for buffering across calls. */
int ov_fd_write_all(int fd, const void *data, size_t n);
int ov_frame_read_fd(int fd, ov_frame_reader *r, int timeout_ms, uint8_t **out, size_t *len);

#endif
