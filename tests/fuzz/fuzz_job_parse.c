/* libFuzzer target: ov_job_parse on hostile queue payloads, with the contract's invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "supervisor/job_contract.h"

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c))                                                                                            \
            abort();                                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size copy: any read past the end is an ASan finding */
    char *raw = malloc(size ? size : 1);
    if (!raw)
        return 0;
    if (size)
        memcpy(raw, data, size);
    const ov_job_types *t = ov_job_types_default();
    ov_job_spec s;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = ov_job_parse(t, raw, size, &s, err, sizeof err);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    if (rc == 0) {
        CHECK(ov_job_id_is_safe(s.id) && ov_job_id_is_safe(s.user_id));
        CHECK(!s.video_id[0] || ov_job_id_is_safe(s.video_id));
        CHECK(s.nstages >= 1 && s.nstages <= OV_JOB_STAGES_MAX);
        CHECK(s.seed >= 1 && s.prompt && ov_job_types_find(t, s.type));
        CHECK(s.steps >= 1 && s.steps <= t->caps.max_steps);
        CHECK(s.width % 16 == 0 && s.height % 16 == 0 && s.width <= t->caps.max_width &&
              s.height <= t->caps.max_height);
        CHECK(s.frames == 1 || ((s.frames - 1) % 4 == 0 && s.frames <= t->caps.max_frames));
        CHECK(s.num_images == 1 || s.num_images == 3 || s.num_images == 6);
        CHECK(s.cfg >= t->caps.min_cfg && s.cfg <= t->caps.max_cfg);
        ov_buf b;
        ov_buf_init(&b, 1 << 22);
        CHECK(ov_job_spec_metadata_json(&s, &b) == 0);
        ov_buf_free(&b);
        if (s.nstages == 2) {
            CHECK(s.stages[0].kind == OV_KIND_QWEN);
            if (size & 1)
                CHECK(ov_job_spec_apply_enhanced(&s, t, "an enhanced prompt") == 0);
            else
                CHECK(ov_job_spec_skip_enhancement(&s, "fuzz") == 0);
        }
    } else if (rc == OV_EINVAL) {
        CHECK(ov_job_id_is_safe(s.id) && err[0]);
        CHECK(s.nstages == 0);
    } else {
        CHECK(rc == OV_EFORMAT && s.id[0] == '\0' && err[0]);
    }
    ov_job_spec_free(&s);
    free(raw);
    return 0;
}
