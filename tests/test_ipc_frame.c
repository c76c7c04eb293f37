/* Tests for ipc/frame.c: incremental frame reader, header, blocking fd helpers over socketpairs. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "ipc/frame.h"

/* Three frames of different sizes, concatenated: the payloads are "a", "hello" and 300 x 'z'. */
static size_t make_stream(uint8_t *out, const uint8_t **payloads, size_t *lens)
{
    static uint8_t big[300];
    memset(big, 'z', sizeof big);
    payloads[0] = (const uint8_t *)"a";
    lens[0] = 1;
    payloads[1] = (const uint8_t *)"hello";
    lens[1] = 5;
    payloads[2] = big;
    lens[2] = sizeof big;
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        ov_frame_put_header(out + n, (uint32_t)lens[i]);
        memcpy(out + n + OV_IPC_FRAME_HEADER, payloads[i], lens[i]);
        n += OV_IPC_FRAME_HEADER + lens[i];
    }
    return n;
}

/* Drain every complete frame, checking each against the expected list. */
static void drain(ov_frame_reader *r, const uint8_t **payloads, const size_t *lens, int *got)
{
    const uint8_t *p;
    size_t n;
    int rc;
    while ((rc = ov_frame_reader_next(r, &p, &n)) == 1) {
        ck_assert_int_lt(*got, 3);
        ck_assert_uint_eq(n, lens[*got]);
        ck_assert_int_eq(memcmp(p, payloads[*got], n), 0);
        (*got)++;
    }
    ck_assert_int_eq(rc, 0);
}

START_TEST(header_is_big_endian)
{
    uint8_t h[4];
    ov_frame_put_header(h, 0x01020304u);
    ck_assert_int_eq(h[0], 1);
    ck_assert_int_eq(h[1], 2);
    ck_assert_int_eq(h[2], 3);
    ck_assert_int_eq(h[3], 4);
    ov_frame_put_header(h, 5);
    ck_assert_int_eq(memcmp(h, "\0\0\0\5", 4), 0);
}
END_TEST

START_TEST(split_at_every_byte_boundary)
{
    uint8_t stream[512];
    const uint8_t *payloads[3];
    size_t lens[3];
    size_t total = make_stream(stream, payloads, lens);
    for (size_t cut = 0; cut <= total; cut++) {
        ov_frame_reader r;
        ov_frame_reader_init(&r, 0);
        int got = 0;
        ck_assert_int_eq(ov_frame_reader_feed(&r, stream, cut), 0);
        drain(&r, payloads, lens, &got);
        ck_assert_int_eq(ov_frame_reader_feed(&r, stream + cut, total - cut), 0);
        drain(&r, payloads, lens, &got);
        ck_assert_int_eq(got, 3);
        ck_assert_uint_eq(r.len - r.off, 0);
        ov_frame_reader_free(&r);
    }
}
END_TEST

START_TEST(byte_by_byte_and_buffer_stays_small)
{
    uint8_t stream[512];
    const uint8_t *payloads[3];
    size_t lens[3];
    size_t total = make_stream(stream, payloads, lens);
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    for (int round = 0; round < 50; round++) {
        int got = 0;
        for (size_t i = 0; i < total; i++) {
            ck_assert_int_eq(ov_frame_reader_feed(&r, stream + i, 1), 0);
            drain(&r, payloads, lens, &got);
        }
        ck_assert_int_eq(got, 3);
    }
    /* 50 rounds x 319 bytes went through; compaction keeps the buffer at its first size. */
    ck_assert_uint_eq(r.cap, 4096);
    ov_frame_reader_free(&r);
    ck_assert_ptr_null(r.buf);
}
END_TEST

START_TEST(several_frames_in_one_feed)
{
    uint8_t stream[512];
    const uint8_t *payloads[3];
    size_t lens[3];
    size_t total = make_stream(stream, payloads, lens);
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    ck_assert_int_eq(ov_frame_reader_feed(&r, stream, total), 0);
    int got = 0;
    drain(&r, payloads, lens, &got);
    ck_assert_int_eq(got, 3);
    ov_frame_reader_free(&r);
}
END_TEST

START_TEST(oversized_length_is_eproto_and_sticky)
{
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    ck_assert_uint_eq(r.max_payload, OV_IPC_FRAME_MAX);
    uint8_t h[4];
    ov_frame_put_header(h, OV_IPC_FRAME_MAX + 1);
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(ov_frame_reader_feed(&r, h, 3), 0);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), 0); /* header incomplete */
    ck_assert_int_eq(ov_frame_reader_feed(&r, h + 3, 1), 0);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), OV_EPROTO);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), OV_EPROTO);
    ov_frame_reader_free(&r);

    ov_frame_put_header(h, 0xffffffffu);
    ov_frame_reader_init(&r, 0);
    ck_assert_int_eq(ov_frame_reader_feed(&r, h, 4), 0);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), OV_EPROTO);
    ov_frame_reader_free(&r);

    /* A smaller cap: exactly the cap passes, one more fails. */
    ov_frame_reader_init(&r, 16);
    uint8_t f[4 + 16];
    ov_frame_put_header(f, 16);
    memset(f + 4, 'x', 16);
    ck_assert_int_eq(ov_frame_reader_feed(&r, f, sizeof f), 0);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), 1);
    ck_assert_uint_eq(n, 16);
    ov_frame_put_header(h, 17);
    ck_assert_int_eq(ov_frame_reader_feed(&r, h, 4), 0);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), OV_EPROTO);
    ov_frame_reader_free(&r);
}
END_TEST

START_TEST(zero_length_is_eproto)
{
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    const uint8_t z[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(ov_frame_reader_feed(&r, z, sizeof z), 0);
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), OV_EPROTO);
    ov_frame_reader_free(&r);
}
END_TEST

START_TEST(reader_buffer_is_capped)
{
    ov_frame_reader r;
    ov_frame_reader_init(&r, 100);
    /* The limit is 2 x (100 + 4) bytes of unconsumed data. */
    static uint8_t junk[300];
    memset(junk, 0, sizeof junk);
    ov_frame_put_header(junk, 100);
    ck_assert_int_eq(ov_frame_reader_feed(&r, junk, 300), OV_ENOMEM);
    ck_assert_int_eq(ov_frame_reader_feed(&r, junk, 208), 0);
    ck_assert_int_eq(ov_frame_reader_feed(&r, junk, 1), OV_ENOMEM);
    ck_assert_uint_le(r.cap, 208);
    /* Draining one frame makes room again. */
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), 1);
    ck_assert_int_eq(ov_frame_reader_feed(&r, junk, 104), 0);
    ov_frame_reader_free(&r);
}
END_TEST

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(read_fd_gets_a_frame_written_in_pieces)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sv[0]);
        uint8_t f[4 + 6];
        ov_frame_put_header(f, 6);
        memcpy(f + 4, "abcdef", 6);
        for (size_t i = 0; i < sizeof f; i++) {
            if (ov_fd_write_all(sv[1], f + i, 1) != 0)
                _exit(1);
            usleep(2000);
        }
        _exit(0);
    }
    close(sv[1]);
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    uint8_t *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 5000, &out, &len), 1);
    ck_assert_uint_eq(len, 6);
    ck_assert_int_eq(memcmp(out, "abcdef", 6), 0);
    free(out);
    /* Then the child exits: peer close. */
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 5000, &out, &len), OV_ECLOSED);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ov_frame_reader_free(&r);
    close(sv[0]);
}
END_TEST

START_TEST(read_fd_times_out)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    uint8_t *out = NULL;
    size_t len = 0;
    /* Half a frame arrives, then nothing. */
    uint8_t f[4 + 2];
    ov_frame_put_header(f, 10);
    f[4] = 'x';
    f[5] = 'y';
    ck_assert_int_eq(ov_fd_write_all(sv[1], f, sizeof f), 0);
    int64_t t0 = mono_ms();
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 150, &out, &len), OV_ETIMEDOUT);
    int64_t dt = mono_ms() - t0;
    ck_assert_int_ge(dt, 140);
    ck_assert_int_lt(dt, 2000);
    ck_assert_ptr_null(out);
    /* timeout 0 polls once. */
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 0, &out, &len), OV_ETIMEDOUT);
    /* The rest arrives: the buffered half is kept across calls. */
    ck_assert_int_eq(ov_fd_write_all(sv[1], "12345678", 8), 0);
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 1000, &out, &len), 1);
    ck_assert_uint_eq(len, 10);
    ck_assert_int_eq(memcmp(out, "xy12345678", 10), 0);
    free(out);
    ov_frame_reader_free(&r);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(read_fd_peer_close_mid_frame_and_bad_header)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    uint8_t *out = NULL;
    size_t len = 0;
    uint8_t f[4 + 1];
    ov_frame_put_header(f, 3);
    f[4] = 'x';
    ck_assert_int_eq(ov_fd_write_all(sv[1], f, sizeof f), 0);
    close(sv[1]);
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 1000, &out, &len), OV_ECLOSED);
    ov_frame_reader_free(&r);
    close(sv[0]);

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ov_frame_reader_init(&r, 0);
    ov_frame_put_header(f, 0x7fffffff);
    ck_assert_int_eq(ov_fd_write_all(sv[1], f, 4), 0);
    ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 1000, &out, &len), OV_EPROTO);
    ov_frame_reader_free(&r);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(write_all_to_closed_peer_is_eclosed_not_sigpipe)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill this forked test */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[0]);
    ck_assert_int_eq(ov_fd_write_all(sv[1], "abc", 3), OV_ECLOSED);
    close(sv[1]);
    ck_assert_int_eq(ov_fd_write_all(-1, "abc", 3), OV_EIO);
}
END_TEST

START_TEST(write_all_large_payload_partial_writes)
{
    /* 4 MiB through a socket buffer of a few hundred KiB: many partial writes. */
    size_t total = 4u << 20;
    uint8_t *data = malloc(total);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < total; i++)
        data[i] = (uint8_t)(i * 131u + 7u);
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sv[1]);
        size_t got = 0;
        uint8_t chunk[65536];
        while (got < total) {
            ssize_t n = read(sv[0], chunk, sizeof chunk);
            if (n <= 0)
                _exit(2);
            for (ssize_t i = 0; i < n; i++)
                if (chunk[i] != (uint8_t)((got + (size_t)i) * 131u + 7u))
                    _exit(3);
            got += (size_t)n;
            usleep(100);
        }
        _exit(0);
    }
    close(sv[0]);
    ck_assert_int_eq(ov_fd_write_all(sv[1], data, total), 0);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    close(sv[1]);
    free(data);
}
END_TEST

START_TEST(read_fd_small_cap_many_frames_in_one_write)
{
    /* 200 frames of 10 bytes in one write, read by a reader capped at 16-byte payloads: reads
     * must stay within the reader's buffer cap (2 x (16 + 4) bytes). */
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    uint8_t stream[200 * 14];
    for (int i = 0; i < 200; i++) {
        ov_frame_put_header(stream + i * 14, 10);
        memset(stream + i * 14 + 4, 'a' + i % 26, 10);
    }
    ck_assert_int_eq(ov_fd_write_all(sv[1], stream, sizeof stream), 0);
    ov_frame_reader r;
    ov_frame_reader_init(&r, 16);
    for (int i = 0; i < 200; i++) {
        uint8_t *out = NULL;
        size_t len = 0;
        ck_assert_int_eq(ov_frame_read_fd(sv[0], &r, 1000, &out, &len), 1);
        ck_assert_uint_eq(len, 10);
        ck_assert_int_eq(out[9], 'a' + i % 26);
        free(out);
    }
    ck_assert_uint_le(r.cap, 40);
    ov_frame_reader_free(&r);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("ipc_frame");
    TCase *tc = tcase_create("frame");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, header_is_big_endian);
    tcase_add_test(tc, split_at_every_byte_boundary);
    tcase_add_test(tc, byte_by_byte_and_buffer_stays_small);
    tcase_add_test(tc, several_frames_in_one_feed);
    tcase_add_test(tc, oversized_length_is_eproto_and_sticky);
    tcase_add_test(tc, zero_length_is_eproto);
    tcase_add_test(tc, reader_buffer_is_capped);
    tcase_add_test(tc, read_fd_gets_a_frame_written_in_pieces);
    tcase_add_test(tc, read_fd_times_out);
    tcase_add_test(tc, read_fd_small_cap_many_frames_in_one_write);
    tcase_add_test(tc, read_fd_peer_close_mid_frame_and_bad_header);
    tcase_add_test(tc, write_all_to_closed_peer_is_eclosed_not_sigpipe);
    tcase_add_test(tc, write_all_large_payload_partial_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(frame_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
