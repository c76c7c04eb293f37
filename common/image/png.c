/* PNG files through libpng: RGB8 + text chunks written atomically (temp + fsync + rename); a reader. */
#include "common/image/png.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <png.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/image/png_idat.h"
#include "common/image/rgb8.h"

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t cap, int code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* libpng reports errors through a callback that must not return: keep the text, longjmp. */
typedef struct png_msg {
    char text[200];
} png_msg;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_msg *m = png_get_error_ptr(png);
    if (m)
        snprintf(m->text, sizeof m->text, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* PNG spec 11.3.4.3: 1-79 Latin-1 printable bytes (32-126, 161-255), no leading/trailing space,
 * no two spaces in a row. */
static int key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        if (!((c >= 32 && c <= 126) || c >= 161) || (c == ' ' && k[i + 1] == ' '))
            return 0;
    }
    return 1;
}

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 128)
            return 0;
    return 1;
}

/* Threads for one image's IDAT ($OURVIDZ_PNG_THREADS, default min(8, online CPUs)); 1: libpng
 * compresses on the calling thread. */
static int png_threads(void)
{
    const char *e = getenv("OURVIDZ_PNG_THREADS");
    if (e && *e) {
        long v = strtol(e, NULL, 10);
        return v < 1 ? 1 : v > OV_PNG_IDAT_THREADS_MAX ? OV_PNG_IDAT_THREADS_MAX : (int)v;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
}

/* Images of at least this many bytes get their IDAT from ov_png_idat on several threads (small ones,
 * one thread, level 0: libpng's own). */
#define IDAT_PARALLEL_BYTES ((size_t)1 << 20)

/* Encodes the whole PNG to fp: libpng writes the signature, IHDR and text chunks, then either its
 * own IDAT (idat NULL) or idat's idat_len bytes, and IEND. Everything that changes after setjmp
 * lives behind pointers fixed before it (tx), so a longjmp leaves no indeterminate locals. */
static int write_png(FILE *fp, const uint8_t *rgb, int width, int height, const ov_png_text *text,
                     size_t n_text, png_msg *msg, int level, const uint8_t *idat, size_t idat_len)
{
    png_textp tx = calloc(n_text ? n_text : 1, sizeof *tx);
    if (!tx)
        return OV_ENOMEM;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        free(tx);
        return OV_ENOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(tx);
        return OV_EIO;
    }
    png_init_io(png, fp);
    png_set_compression_level(png, level);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (size_t i = 0; i < n_text; i++) {
        int ascii = is_ascii(text[i].value);
        tx[i].compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
        tx[i].key = (png_charp)(uintptr_t)text[i].key;
        tx[i].text = (png_charp)(uintptr_t)text[i].value;
        tx[i].text_length = ascii ? strlen(text[i].value) : 0;
        tx[i].itxt_length = ascii ? 0 : strlen(text[i].value);
    }
    if (n_text)
        png_set_text(png, info, tx, (int)n_text);
    png_write_info(png, info);
    if (idat) {
        /* the zlib stream in IDAT chunks of at most 1 MiB (readers concatenate them), then IEND */
        for (size_t o = 0; o < idat_len; o += (size_t)1 << 20) {
            const size_t n = idat_len - o < ((size_t)1 << 20) ? idat_len - o : (size_t)1 << 20;
            png_write_chunk(png, (png_const_bytep) "IDAT", idat + o, n);
        }
        png_write_chunk(png, (png_const_bytep) "IEND", NULL, 0);
        png_write_flush(png);
    } else {
        for (int y = 0; y < height; y++)
            png_write_row(png, rgb + (size_t)y * (size_t)width * 3);
        png_write_end(png, info);
    }
    png_destroy_write_struct(&png, &info);
    free(tx);
    return 0;
}

static int write_stream(FILE *fp, const uint8_t *rgb, int width, int height, const ov_png_text *text,
                        size_t n_text, png_msg *msg)
{
    const int level = ov_png_level(), threads = png_threads();
    uint8_t *idat = NULL;
    size_t idat_len = 0;
    if (level > 0 && threads > 1 && (size_t)width * (size_t)height * 3 >= IDAT_PARALLEL_BYTES) {
        int rc = ov_png_idat(rgb, width, height, level, threads, &idat, &idat_len);
        if (rc)
            return rc;
    }
    int rc = write_png(fp, rgb, width, height, text, n_text, msg, level, idat, idat_len);
    free(idat);
    return rc;
}

/* Makes the rename durable: fsync the folder that holds path (best effort). */
static void sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir)
        return;
    if (n == 0) {
        dir[0] = slash ? '/' : '.';
        dir[1] = 0;
    } else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int ov_png_level(void)
{
    const char *e = getenv("OURVIDZ_PNG_LEVEL");
    if (e && e[0] >= '0' && e[0] <= '9' && e[1] == '\0')
        return e[0] - '0';
    return OV_PNG_LEVEL_DEFAULT;
}

int ov_png_write(const char *path, const uint8_t *rgb, int width, int height, const ov_png_text *text,
                 size_t n_text, char *err, size_t err_cap)
{
    if (!path || !path[0] || !rgb || (n_text && !text))
        return fail(err, err_cap, OV_EINVAL, "png: NULL path, pixels or text");
    if (width < 1 || height < 1 || width > OV_PNG_MAX_SIDE || height > OV_PNG_MAX_SIDE)
        return fail(err, err_cap, OV_EINVAL, "png %s: size %dx%d outside 1..%d", path, width, height,
                    OV_PNG_MAX_SIDE);
    for (size_t i = 0; i < n_text; i++) {
        if (!key_ok(text[i].key))
            return fail(err, err_cap, OV_EINVAL,
                        "png %s: text key '%s' is not a PNG keyword (1-79 Latin-1 chars)", path,
                        text[i].key ? text[i].key : "(null)");
        if (!text[i].value)
            return fail(err, err_cap, OV_EINVAL, "png %s: text '%s' has a NULL value", path, text[i].key);
        if (strlen(text[i].value) > OV_PNG_MAX_TEXT)
            return fail(err, err_cap, OV_ERANGE, "png %s: text '%s' longer than %u bytes", path, text[i].key,
                        OV_PNG_MAX_TEXT);
    }
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
        return fail(err, err_cap, OV_EINVAL, "png: path too long");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return fail(err, err_cap, OV_EIO, "png %s: cannot create a temp file: %s", path, strerror(errno));
    (void)fchmod(fd, 0644);
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fail(err, err_cap, OV_EIO, "png %s: fdopen: %s", path, strerror(e));
    }
    png_msg msg = {""};
    int rc = write_stream(fp, rgb, width, height, text, n_text, &msg);
    if (rc == OV_ENOMEM)
        fail(err, err_cap, rc, "png %s: out of memory", path);
    else if (rc)
        fail(err, err_cap, rc, "png %s: write failed: %s (%s)", path, msg.text, strerror(errno));
    if (!rc && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        rc = fail(err, err_cap, OV_EIO, "png %s: flush: %s", path, strerror(errno));
    if (fclose(fp) != 0 && !rc)
        rc = fail(err, err_cap, OV_EIO, "png %s: close: %s", path, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = fail(err, err_cap, OV_EIO, "png %s: rename from %s: %s", path, tmp, strerror(errno));
    if (rc) {
        unlink(tmp);
        return rc;
    }
    sync_dir_of(path);
    return 0;
}

int ov_png_write_float(const char *path, const float *chw, int width, int height, const ov_png_text *text,
                       size_t n_text, char *err, size_t err_cap)
{
    if (!chw || width < 1 || height < 1 || width > OV_PNG_MAX_SIDE || height > OV_PNG_MAX_SIDE)
        return fail(err, err_cap, OV_EINVAL, "png %s: bad image (%dx%d)", path ? path : "(null)", width,
                    height);
    uint8_t *rgb = malloc((size_t)width * (size_t)height * 3);
    if (!rgb)
        return fail(err, err_cap, OV_ENOMEM, "png %s: out of memory", path ? path : "(null)");
    int rc = ov_image_to_rgb8(chw, width, height, rgb);
    if (rc == OV_ERANGE)
        fail(err, err_cap, rc, "png %s: the image has NaN/inf values (decoder overflow?); nothing written",
             path ? path : "(null)");
    else if (!rc)
        rc = ov_png_write(path, rgb, width, height, text, n_text, err, err_cap);
    free(rgb);
    return rc;
}

/* ---- reading ---- */

typedef struct read_state {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    ov_png_image *out;
} read_state;

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The setjmp-protected part; st's fields are reached through a pointer fixed before setjmp. */
static int read_stream(FILE *fp, read_state *st, png_msg *msg)
{
    st->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, msg, on_png_error, on_png_warning);
    st->info = st->png ? png_create_info_struct(st->png) : NULL;
    if (!st->info)
        return OV_ENOMEM;
    if (setjmp(png_jmpbuf(st->png)))
        return OV_EFORMAT;
    png_init_io(st->png, fp);
    png_set_sig_bytes(st->png, 8);
    png_set_user_limits(st->png, OV_PNG_MAX_SIDE, OV_PNG_MAX_SIDE);
    png_read_info(st->png, st->info);
    png_set_expand(st->png);
    png_set_strip_16(st->png);
    png_set_strip_alpha(st->png);
    png_set_gray_to_rgb(st->png);
    (void)png_set_interlace_handling(st->png);
    png_read_update_info(st->png, st->info);
    png_uint_32 w = png_get_image_width(st->png, st->info), h = png_get_image_height(st->png, st->info);
    if (png_get_rowbytes(st->png, st->info) != (size_t)w * 3)
        png_error(st->png, "unexpected row size after conversion to RGB8");
    st->out->width = (int)w;
    st->out->height = (int)h;
    st->out->rgb = malloc((size_t)w * h * 3);
    st->rows = malloc((size_t)h * sizeof *st->rows);
    if (!st->out->rgb || !st->rows)
        return OV_ENOMEM;
    for (png_uint_32 y = 0; y < h; y++)
        st->rows[y] = st->out->rgb + (size_t)y * w * 3;
    png_read_image(st->png, st->rows);
    png_read_end(st->png, st->info);
    png_textp tp = NULL;
    int nt = png_get_text(st->png, st->info, &tp, NULL);
    if (nt > 0) {
        st->out->text = calloc((size_t)nt, sizeof *st->out->text);
        if (!st->out->text)
            return OV_ENOMEM;
        for (int i = 0; i < nt; i++) {
            ov_png_text *t = &st->out->text[st->out->n_text];
            t->key = dup_str(tp[i].key);
            t->value = dup_str(tp[i].text ? tp[i].text : "");
            st->out->n_text++;
            if (!t->key || !t->value)
                return OV_ENOMEM;
        }
    }
    return 0;
}

int ov_png_read(const char *path, ov_png_image *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return fail(err, err_cap, errno == ENOENT ? OV_ENOENT : OV_EIO, "png %s: %s", path, strerror(errno));
    unsigned char sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(fp);
        return fail(err, err_cap, OV_EFORMAT, "png %s: not a PNG file", path);
    }
    png_msg msg = {""};
    read_state st = {NULL, NULL, NULL, out};
    int rc = read_stream(fp, &st, &msg);
    png_destroy_read_struct(&st.png, &st.info, NULL);
    free(st.rows);
    fclose(fp);
    if (rc) {
        ov_png_image_free(out);
        return fail(err, err_cap, rc, "png %s: %s", path, rc == OV_ENOMEM ? "out of memory" : msg.text);
    }
    return 0;
}

void ov_png_image_free(ov_png_image *img)
{
    if (!img)
        return;
    for (size_t i = 0; i < img->n_text; i++) {
        free((void *)(uintptr_t)img->text[i].key);
        free((void *)(uintptr_t)img->text[i].value);
    }
    free(img->text);
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

const char *ov_png_image_text(const ov_png_image *img, const char *key)
{
    for (size_t i = 0; i < img->n_text; i++)
        if (!strcmp(img->text[i].key, key))
            return img->text[i].value;
    return NULL;
}
