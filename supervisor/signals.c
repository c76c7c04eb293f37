/* Signals as loop events: TERM/INT begin the drain, a second one forces the stop, HUP is logged. */
#include "signals.h"

#include <signal.h>
#include <uv.h>

#include "common/error.h"
#include "common/log.h"
#include "sup.h"

static uv_signal_t sig_term, sig_int, sig_hup;
static int started;

static void on_signal(uv_signal_t *h, int signum)
{
    ov_sup *s = h->data;
    if (signum == SIGHUP) {
        ov_log(OV_LOG_NOTICE, "signal",
               "signal=SIGHUP action=ignored reason=\"reload is not supported; restart\"");
        return;
    }
    int fast = s->draining;
    ov_log(OV_LOG_NOTICE, "signal", "signal=%s action=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT",
           fast ? "stop_now" : "drain");
    ov_sup_begin_drain(s, fast);
}

int ov_signals_start(ov_sup *s)
{
    signal(SIGPIPE, SIG_IGN);
    uv_signal_t *hs[] = {&sig_term, &sig_int, &sig_hup};
    int nums[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(s->loop, hs[i]);
        hs[i]->data = s;
        if (uv_signal_start(hs[i], on_signal, nums[i]) != 0)
            return OV_EIO;
    }
    started = 1;
    return 0;
}

void ov_signals_close(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
}
