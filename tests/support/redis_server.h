/* Tests: a private redis-server on a Unix socket (each test starts its own; CI runs none). */
#ifndef OV_TEST_REDIS_SERVER_H
#define OV_TEST_REDIS_SERVER_H

#include <sys/types.h>

/* Start redis-server on Unix socket `sock`, its files and redis.log in `dir`, the append-only file
 * on when aof (fsync always), nothing saved otherwise. Returns its pid once it answers PING (the
 * test fails after ~5 s). It is SIGKILLed when the test process exits or dies. */
pid_t ov_test_redis_start(const char *dir, const char *sock, int aof);

/* SIGKILL and reap a server from ov_test_redis_start (0: nothing). */
void ov_test_redis_stop(pid_t pid);

#endif
