/* IPC message schema shared by the supervisor and the workers: types, fields, encode/decode. */
#ifndef OV_IPC_MESSAGE_H
#define OV_IPC_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

/* Bumped on any incompatible change; both sides refuse a peer whose hello says otherwise. */
#define OV_IPC_PROTOCOL_VERSION 1

/* Decoder limits (msgpack-c has none of its own: ECOSYSTEM.md §6.1). */
#define OV_IPC_DEPTH_MAX 8
#define OV_IPC_KV_MAX 128      /* entries in params / meta */
#define OV_IPC_OUTPUTS_MAX 64  /* files in one result */
#define OV_IPC_STR_MAX (512u * 1024u)

/* Wire form: one msgpack map per frame, {"t": "<type name>", field: value, ...}.
 * Unknown keys are ignored (newer peers may add fields); known keys must have the right type. */
enum ov_msg_type {
    OV_MSG_HELLO = 1, /* w->s  first frame: who I am */
    OV_MSG_READY,     /* w->s  model loaded, accepting jobs */
    OV_MSG_JOB,       /* s->w  run this */
    OV_MSG_ACCEPT,    /* w->s  job received and started (dispatch acknowledgement) */
    OV_MSG_PROGRESS,  /* w->s  phase, step/total */
    OV_MSG_RESULT,    /* w->s  job done: output files + metadata */
    OV_MSG_ERROR,     /* w->s  job (or worker) failed */
    OV_MSG_HEARTBEAT, /* w->s  I am alive (sent from its own thread) */
    OV_MSG_CANCEL,    /* s->w  stop this job */
    OV_MSG_SHUTDOWN,  /* s->w  finish or abandon, then exit 0 */
    OV_MSG_TYPE_COUNT
};

/* "hello", "ready", ...; NULL if out of range. */
const char *ov_msg_type_name(int type);

/* A typed key/value list: job parameters and result metadata. */
enum ov_kv_type { OV_KV_INT = 1, OV_KV_FLOAT, OV_KV_STR, OV_KV_BOOL };
typedef struct ov_kv {
    char *key;
    int type;
    int64_t i; /* OV_KV_INT, OV_KV_BOOL (0/1) */
    double f;  /* OV_KV_FLOAT */
    char *s;   /* OV_KV_STR */
} ov_kv;
typedef struct ov_kvlist {
    ov_kv *items;
    uint32_t n, cap;
} ov_kvlist;

/* Setters replace an existing key. All copy their arguments. 0, OV_ENOMEM, OV_ERANGE (full). */
int ov_kvlist_set_int(ov_kvlist *l, const char *key, int64_t v);
int ov_kvlist_set_float(ov_kvlist *l, const char *key, double v);
int ov_kvlist_set_str(ov_kvlist *l, const char *key, const char *v);
int ov_kvlist_set_bool(ov_kvlist *l, const char *key, bool v);
/* NULL when absent. */
const ov_kv *ov_kvlist_get(const ov_kvlist *l, const char *key);
/* Typed getters: 0 and *out set; OV_ENOENT absent (out untouched); OV_EINVAL wrong type.
 * get_float accepts an INT too. */
int ov_kvlist_get_int(const ov_kvlist *l, const char *key, int64_t *out);
int ov_kvlist_get_float(const ov_kvlist *l, const char *key, double *out);
int ov_kvlist_get_str(const ov_kvlist *l, const char *key, const char **out);
int ov_kvlist_get_bool(const ov_kvlist *l, const char *key, bool *out);
void ov_kvlist_free(ov_kvlist *l);
/* Deep copy src into an empty dst. 0 or OV_ENOMEM. */
int ov_kvlist_copy(ov_kvlist *dst, const ov_kvlist *src);

typedef struct ov_output {
    char *path; /* absolute path of a file the worker wrote into its spool directory */
    char *mime; /* "image/png", "video/mp4", "text/plain" */
} ov_output;

typedef struct ov_msg {
    int type; /* enum ov_msg_type */
    union {
        struct {
            char *kind;  /* "wan" | "sdxl" | "qwen" | test kinds */
            char *name;  /* instance name, "wan.0" */
            int64_t pid;
            int64_t protocol;
            char *model; /* model identity: path / hash / name */
            int64_t vram_budget_bytes;
        } hello;
        struct {
            char *model;
            int64_t load_ms;
            int64_t vram_used_bytes;
        } ready;
        struct {
            char *job_id;
            char *task; /* "t2v", "t2i", "sdxl", "enhance", ... */
            ov_kvlist params;
        } job;
        struct {
            char *job_id;
        } accept;
        struct {
            char *job_id;
            char *phase; /* "load", "encode", "denoise", "decode", "write", "enhance" */
            int64_t step, total;
        } progress;
        struct {
            char *job_id;
            ov_output *outputs;
            uint32_t noutputs;
            ov_kvlist meta;
        } result;
        struct {
            char *job_id;  /* empty string when not about a job */
            int64_t code;  /* OV_E* */
            char *message;
            bool retriable; /* the job may succeed if run again */
        } error;
        struct {
            int64_t seq;
            char *state; /* "loading" | "idle" | "busy" */
            int64_t vram_used_bytes;
        } heartbeat;
        struct {
            char *job_id;
        } cancel;
        struct {
            int64_t deadline_ms; /* finish the running job within this, then exit 0 */
        } shutdown;
    } u;
} ov_msg;

/* Zero the message and set its type. */
void ov_msg_init(ov_msg *m, int type);
/* Free everything the message owns (decoded or built); leaves it zeroed. */
void ov_msg_free(ov_msg *m);

/* Encode as one complete frame (4-byte header + payload) appended to out.
 * NULL string fields are sent as "". 0, OV_ENOMEM, OV_EINVAL (bad type, frame over cap). */
int ov_msg_encode(const ov_msg *m, ov_buf *out);

/* Decode one frame payload (without its 4-byte header). Every byte is hostile: container counts
 * are checked against the bytes remaining before msgpack-c allocates, nesting is capped, every
 * known field is type-checked, strings are copied and NUL-checked.
 * 0 and *m filled (caller frees with ov_msg_free); OV_EPROTO with a message in err on any
 * problem (m is left zeroed). */
int ov_msg_decode(const uint8_t *payload, size_t len, ov_msg *m, char *err, size_t errlen);

/* Added after the first contract (additions only). */
/* "hello" -> OV_MSG_HELLO; 0 when unknown. */
int ov_msg_type_from_name(const char *name);
/* Append one output to a result message (path and mime copied). 0, OV_EINVAL (not a result or
 * NULL argument), OV_ERANGE (OV_IPC_OUTPUTS_MAX reached), OV_ENOMEM. */
int ov_msg_add_output(ov_msg *m, const char *path, const char *mime);
/* Deep equality of two messages (NULL string == ""; kv lists compared in order; floats
 * bitwise). For tests and the fuzz round trip. */
bool ov_msg_equal(const ov_msg *a, const ov_msg *b);

#endif
