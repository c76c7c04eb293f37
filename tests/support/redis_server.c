/* Tests: a private redis-server on a Unix socket. */
#include "support/redis_server.h"

#include <check.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 8
static pid_t g_live[MAX_SERVERS];

static void kill_live(void)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_live[i] > 0)
            kill(g_live[i], SIGKILL);
}

static int answers_ping(const char *sock)
{
    redisContext *c = redisConnectUnix(sock);
    int ok = c && !c->err;
    if (ok) {
        redisReply *rep = redisCommand(c, "PING");
        ok = rep && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
    }
    if (c)
        redisFree(c);
    return ok;
}

pid_t ov_test_redis_start(const char *dir, const char *sock, int aof)
{
    static int registered;
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char logf[512];
        snprintf(logf, sizeof logf, "%s/redis.log", dir);
        int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
               "--save", "", "--appendonly", aof ? "yes" : "no", "--appendfsync", "always", "--dir", dir,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_live[i] <= 0) {
            g_live[i] = p;
            break;
        }
    if (!registered) {
        registered = 1;
        atexit(kill_live);
    }
    for (int i = 0; i < 500; i++) {
        if (answers_ping(sock))
            return p;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("redis-server did not start (log: %s/redis.log)", dir);
    return -1;
}

void ov_test_redis_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < MAX_SERVERS; i++)
        if (g_live[i] == pid)
            g_live[i] = 0;
}
