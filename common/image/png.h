/* PNG files: 8-bit RGB with text chunks, written atomically (temp file + rename); a reader for tests. */
#ifndef OV_IMAGE_PNG_H
#define OV_IMAGE_PNG_H

#include <stddef.h>
#include <stdint.h>

/* One text chunk. Keys: 1..79 Latin-1 printable characters, no leading, trailing or double
 * spaces (PNG spec 11.3.4). A value that is pure ASCII goes into tEXt; any other value is taken
 * as UTF-8 and goes into an uncompressed iTXt (what PIL's PngInfo.add_text, and so A1111, does),
 * so a prompt with "é" or "猫" survives. */
typedef struct ov_png_text {
    const char *key;
    const char *value;
} ov_png_text;

#define OV_PNG_MAX_SIDE 16384      /* read/write limit per side */
#define OV_PNG_MAX_TEXT (1u << 20) /* bytes per text value */
/* zlib level of written PNGs: $OURVIDZ_PNG_LEVEL (0..9), else this. Level 3 vs libpng's default 6 on
 * a 1024² RGB picture (dev-2c): 75 vs 132 ms per image for 13 % more bytes (level 1: 62 ms, 14 %);
 * a batch of 6 SDXL images spent 0.27 s in PNG encoding on the H100 host at level 6. */
#define OV_PNG_LEVEL_DEFAULT 3
int ov_png_level(void);

/* Write rgb (height rows of width·3 bytes, R,G,B) with the text chunks to `path`. The bytes go
 * to "<path>.tmp-XXXXXX" in the same folder, are flushed and fsync'd, then renamed over path, so
 * a reader sees the old file or the whole new one, never half a PNG; on any failure the temp
 * file is removed. 0, or OV_EINVAL (bad size, key or NULL), OV_ERANGE (value too long),
 * OV_EIO (create, write, fsync or rename failed; message names the path and errno text),
 * OV_ENOMEM; the message goes to err (err_cap bytes; err may be NULL). Pictures of 1 MiB and more
 * are compressed on $OURVIDZ_PNG_THREADS threads (default min(8, CPUs); common/image/png_idat.h). */
int ov_png_write(const char *path, const uint8_t *rgb, int width, int height, const ov_png_text *text,
                 size_t n_text, char *err, size_t err_cap);

/* Convenience for a model output: chw [3, height, width] float in [-1, 1] -> ov_image_to_rgb8
 * (diffusers rounding) -> ov_png_write. OV_ERANGE when a value is NaN/inf (nothing written). */
int ov_png_write_float(const char *path, const float *chw, int width, int height, const ov_png_text *text,
                       size_t n_text, char *err, size_t err_cap);

/* A decoded PNG: always 8-bit RGB (palette, grey, 16-bit and alpha are converted: alpha
 * dropped). Every tEXt/zTXt/iTXt chunk is in text[] (keys and values copied, UTF-8/Latin-1 as
 * stored). Free with ov_png_image_free(). */
typedef struct ov_png_image {
    int width, height;
    uint8_t *rgb; /* height·width·3 */
    size_t n_text;
    ov_png_text *text;
} ov_png_image;

/* 0, or OV_ENOENT/OV_EIO (open/read), OV_EFORMAT (not a PNG, corrupt, larger than
 * OV_PNG_MAX_SIDE), OV_ENOMEM; message in err. *out is zeroed on failure. */
int ov_png_read(const char *path, ov_png_image *out, char *err, size_t err_cap);
void ov_png_image_free(ov_png_image *img);
/* The value of the first chunk with this key, or NULL. */
const char *ov_png_image_text(const ov_png_image *img, const char *key);

#endif
