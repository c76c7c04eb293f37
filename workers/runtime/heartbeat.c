/* Heartbeat thread: a HEARTBEAT frame every interval, so a long load or GPU step is never a hang. */
#include <errno.h>
#include <time.h>

#include "common/log.h"
#include "runtime.h"

static const char *state_name(int s)
{
    return s == OV_RT_LOADING ? "loading" : s == OV_RT_IDLE ? "idle" : "busy";
}

static void *heartbeat_main(void *arg)
{
    ov_worker_rt *rt = arg;
    pthread_mutex_lock(&rt->lock);
    while (!rt->stop_threads) {
        int state = rt->state;
        int64_t seq = ++rt->hb_seq;
        pthread_mutex_unlock(&rt->lock);

        ov_msg m;
        ov_msg_init(&m, OV_MSG_HEARTBEAT);
        m.u.heartbeat.seq = seq;
        m.u.heartbeat.state = (char *)state_name(state);
        m.u.heartbeat.vram_used_bytes = atomic_load(&rt->vram_used_bytes);
        int rc = ov_rt_send(rt, &m); /* borrowed strings: encode only, never ov_msg_free */

        pthread_mutex_lock(&rt->lock);
        if (rc != 0) {
            pthread_cond_broadcast(&rt->cond);
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts); /* the condvar's clock */
        int64_t ns = ts.tv_nsec + (rt->args.heartbeat_ms % 1000) * 1000000LL;
        ts.tv_sec += rt->args.heartbeat_ms / 1000 + ns / 1000000000LL;
        ts.tv_nsec = ns % 1000000000LL;
        while (!rt->stop_threads) {
            int w = pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
            if (w == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

int ov_rt_heartbeat_start(ov_worker_rt *rt, pthread_t *th)
{
    return pthread_create(th, NULL, heartbeat_main, rt) == 0 ? 0 : -1;
}
