/* ourvidzctl submit --type / wait: push a job into Redis the way the frontend does, follow it to the end. */
#include "ctl_jobs.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "redis_conn.h"

#define CTL_IO_TIMEOUT_S 5
#define CTL_POLL_MS 50

static void jobs_usage(FILE *f)
{
    fprintf(f, "usage: ourvidzctl [--config PATH] [--redis-url URL] submit --type T --prompt P [--user-id U]\n"
               "                  [--num-images N] [--seed S] [--resolution WxH] [--steps N] [--queue-end left|right]\n"
               "       ourvidzctl [--config PATH] [--redis-url URL] wait ID [--timeout S]\n"
               "Redis comes from --redis-url, else $REDIS_URL / the config's [redis] url.\n"
               "submit prints the job id; wait prints the job's final status as JSON and exits 0 when it\n"
               "completed, 1 when it failed or was dead-lettered, 3 on timeout.\n");
}

static redisContext *connect_redis(const ov_redis_url *u)
{
    struct timeval tv = {CTL_IO_TIMEOUT_S, 0};
    redisContext *c = u->is_unix ? redisConnectUnixWithTimeout(u->host, tv)
                                 : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        fprintf(stderr, "ourvidzctl: cannot connect to redis: %s\n", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (u->password[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", u->password);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "ourvidzctl: redis AUTH failed\n");
            redisFree(c);
            return NULL;
        }
    }
    if (u->db) {
        redisReply *r = redisCommand(c, "SELECT %d", u->db);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "ourvidzctl: redis SELECT %d failed\n", u->db);
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static void uuid4(char *out, size_t n)
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        srand((unsigned)(tv.tv_usec ^ getpid()));
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    }
    if (f)
        fclose(f);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int parse_pos_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v;
    if (ov_parse_int64(s, &v) != 0 || v < lo || v > hi)
        return OV_EINVAL;
    *out = v;
    return 0;
}

/* The July 2025 queue-job payload (contract §2.1), with the fields a CLI can know. */
static char *build_payload(const char *id, const char *type, const char *prompt, const char *user, int64_t num_images,
                           int have_seed, int64_t seed, const char *resolution, int64_t steps, const char *queue)
{
    int sdxl = strncmp(type, "sdxl_", 5) == 0;
    int video = strstr(type, "video") != NULL;
    char created[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    json_t *config = json_object();
    json_object_set_new(config, "num_images", json_integer(num_images));
    if (have_seed)
        json_object_set_new(config, "seed", json_integer(seed));
    /* Overrides the job contract allows (docs/JOBS.md): SDXL `resolution` / WAN `size`, and the
     * step count under each family's own key. The supervisor validates them. */
    if (resolution)
        json_object_set_new(config, sdxl ? "resolution" : "size", json_string(resolution));
    if (steps > 0)
        json_object_set_new(config, sdxl ? "num_inference_steps" : "sample_steps", json_integer(steps));
    if (!sdxl) {
        json_object_set_new(config, "frame_num", json_integer(video ? 83 : 1));
        json_object_set_new(config, "content_type", json_string(video ? "video" : "image"));
        json_object_set_new(config, "file_extension", json_string(video ? "mp4" : "png"));
    } else {
        json_object_set_new(config, "content_type", json_string("image"));
        json_object_set_new(config, "file_extension", json_string("png"));
    }
    json_t *meta = json_object();
    json_object_set_new(meta, "queue", json_string(queue));
    json_object_set_new(meta, "num_images", json_integer(num_images));
    json_object_set_new(meta, "prompt", json_string(prompt));
    json_object_set_new(meta, "edge_function_version", json_string("ourvidzctl"));
    json_t *root = json_object();
    json_object_set_new(root, "id", json_string(id));
    json_object_set_new(root, "type", json_string(type));
    json_object_set_new(root, "prompt", json_string(prompt));
    json_object_set_new(root, "config", config);
    json_object_set_new(root, "user_id", json_string(user));
    json_object_set_new(root, "created_at", json_string(created));
    json_object_set_new(root, "bucket", json_string(type));
    json_object_set_new(root, "metadata", meta);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

static int do_submit(const ov_config *cfg, const ov_redis_url *u, int argc, char **argv)
{
    const char *type = NULL, *prompt = NULL, *user = "00000000-0000-4000-8000-000000000000", *end = "left";
    const char *resolution = NULL;
    int64_t num_images = 1, seed = 0, steps = 0;
    int have_seed = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "ourvidzctl: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--type") == 0)
            type = v;
        else if (strcmp(a, "--prompt") == 0)
            prompt = v;
        else if (strcmp(a, "--user-id") == 0)
            user = v;
        else if (strcmp(a, "--queue-end") == 0)
            end = v;
        else if (strcmp(a, "--num-images") == 0) {
            if (parse_pos_int(v, 1, 64, &num_images) != 0) {
                fprintf(stderr, "ourvidzctl: --num-images wants a number\n");
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_pos_int(v, 0, INT64_MAX, &seed) != 0) {
                fprintf(stderr, "ourvidzctl: --seed wants a non-negative number\n");
                return 2;
            }
            have_seed = 1;
        } else if (strcmp(a, "--resolution") == 0) {
            resolution = v;
        } else if (strcmp(a, "--steps") == 0) {
            if (parse_pos_int(v, 1, 1000, &steps) != 0) {
                fprintf(stderr, "ourvidzctl: --steps wants a positive number\n");
                return 2;
            }
        } else {
            fprintf(stderr, "ourvidzctl: unknown submit option '%s'\n", a);
            return 2;
        }
        i++;
    }
    if (!type || !prompt || (strcmp(end, "left") != 0 && strcmp(end, "right") != 0)) {
        jobs_usage(stderr);
        return 2;
    }
    /* The producer's routing rule (queue-job, July 2025): sdxl_* -> sdxl queue, the rest -> wan. */
    const char *queue = strncmp(type, "sdxl_", 5) == 0 ? cfg->redis_sdxl_queue : cfg->redis_wan_queue;
    char id[40];
    uuid4(id, sizeof id);
    char *payload = build_payload(id, type, prompt, user, num_images, have_seed, seed, resolution, steps, queue);
    if (!payload) {
        fprintf(stderr, "ourvidzctl: out of memory\n");
        return 1;
    }
    redisContext *c = connect_redis(u);
    if (!c) {
        free(payload);
        return 1;
    }
    redisReply *r = redisCommand(c, "%s %s %s", strcmp(end, "left") == 0 ? "LPUSH" : "RPUSH", queue, payload);
    free(payload);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (!ok)
        fprintf(stderr, "ourvidzctl: push failed: %s\n", r && r->str ? r->str : c->errstr);
    if (r)
        freeReplyObject(r);
    redisFree(c);
    if (!ok)
        return 1;
    printf("%s\n", id);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int do_wait(const ov_config *cfg, const ov_redis_url *u, int argc, char **argv)
{
    const char *id = NULL;
    int64_t timeout_s = 3600;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (parse_pos_int(argv[++i], 1, 86400 * 7, &timeout_s) != 0) {
                fprintf(stderr, "ourvidzctl: --timeout wants seconds\n");
                return 2;
            }
        } else if (!id && argv[i][0] != '-')
            id = argv[i];
        else {
            jobs_usage(stderr);
            return 2;
        }
    }
    if (!id || strlen(id) > 64) {
        jobs_usage(stderr);
        return 2;
    }
    redisContext *c = connect_redis(u);
    if (!c)
        return 1;
    int64_t deadline = now_ms() + timeout_s * 1000;
    char last[32] = "";
    int rc = 3;
    for (;;) {
        redisReply *r = redisCommand(c, "HGETALL %s:status:%s", cfg->redis_key_prefix, id);
        if (!r) {
            fprintf(stderr, "ourvidzctl: redis: %s\n", c->errstr);
            rc = 1;
            break;
        }
        const char *state = NULL;
        json_t *obj = json_object();
        json_object_set_new(obj, "id", json_string(id));
        if (r->type == REDIS_REPLY_ARRAY)
            for (size_t k = 0; k + 1 < r->elements; k += 2) {
                json_object_set_new(obj, r->element[k]->str, json_string(r->element[k + 1]->str));
                if (strcmp(r->element[k]->str, "state") == 0)
                    state = r->element[k + 1]->str;
            }
        int final = state && (strcmp(state, "completed") == 0 || strcmp(state, "failed") == 0 ||
                              strcmp(state, "dead") == 0);
        if (state && strcmp(state, last) != 0 && !final) {
            fprintf(stderr, "ourvidzctl: %s %s\n", id, state);
            snprintf(last, sizeof last, "%s", state);
        }
        if (final) {
            char *s = json_dumps(obj, JSON_COMPACT);
            printf("%s\n", s ? s : "{}");
            free(s);
            rc = strcmp(state, "completed") == 0 ? 0 : 1;
        }
        json_decref(obj);
        freeReplyObject(r);
        if (final)
            break;
        if (now_ms() >= deadline) {
            fprintf(stderr, "ourvidzctl: %s not finished after %lld s (state %s)\n", id, (long long)timeout_s,
                    last[0] ? last : "queued/unknown");
            break;
        }
        usleep(CTL_POLL_MS * 1000);
    }
    redisFree(c);
    return rc;
}

int ov_ctl_jobs_main(const char *cmd, int argc, char **argv)
{
    const char *config_path = NULL, *url = NULL;
    int i = 0;
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    int nrest = 0;
    if (!rest)
        return 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--redis-url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            jobs_usage(stdout);
            free(rest);
            return 0;
        } else
            rest[nrest++] = argv[i];
    }
    ov_config cfg;
    char err[512];
    if (ov_config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "ourvidzctl: configuration error: %s\n", err);
        free(rest);
        return 78;
    }
    if (url)
        snprintf(cfg.redis_url, sizeof cfg.redis_url, "%s", url);
    ov_redis_url u;
    if (!cfg.redis_url[0]) {
        fprintf(stderr, "ourvidzctl: no redis url (set REDIS_URL, --redis-url or [redis] url)\n");
        free(rest);
        return 2;
    }
    if (ov_redis_url_parse(cfg.redis_url, &u, err, sizeof err) != 0) {
        fprintf(stderr, "ourvidzctl: %s\n", err);
        free(rest);
        return 2;
    }
    int rc = strcmp(cmd, "wait") == 0 ? do_wait(&cfg, &u, nrest, rest) : do_submit(&cfg, &u, nrest, rest);
    free(rest);
    return rc;
}

int ov_ctl_jobs_wants(const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "wait") == 0)
        return 1;
    if (strcmp(cmd, "submit") != 0)
        return 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--type") == 0)
            return 1;
    return 0;
}
