/* Backend selection and the host<->backend tensor copies shared by every backend. */
#include "common/tensor/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#ifdef OV_TENSOR_HAVE_CUDA
/* Defined by the CUDA backend (ops_cuda.cu) when the build has it. */
int ov_backend_cuda_open(int device, ov_backend **out);
void ov_backend_cuda_close(ov_backend *be);
#endif

int ov_backend_open(int kind, int device, ov_backend **out)
{
    *out = NULL;
    if (kind == OV_BACKEND_CPU) {
        *out = ov_backend_cpu();
        return 0;
    }
    if (kind == OV_BACKEND_CUDA) {
#ifdef OV_TENSOR_HAVE_CUDA
        return ov_backend_cuda_open(device, out);
#else
        return ov_tensor_fail(OV_EUNSUPP, "backend: this build has no CUDA backend");
#endif
    }
    return ov_tensor_fail(OV_EINVAL, "backend: unknown kind %d", kind);
}

void ov_backend_close(ov_backend *be)
{
    if (!be || be->kind == OV_BACKEND_CPU)
        return;
#ifdef OV_TENSOR_HAVE_CUDA
    if (be->kind == OV_BACKEND_CUDA)
        ov_backend_cuda_close(be);
#endif
}

static int check_xfer(const ov_tensor *t, size_t bytes, const char *what)
{
    char sb[96];
    if (!t->backend || !t->data)
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' has no memory", what, t->name);
    if (!ov_tensor_is_contiguous(t))
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s is not contiguous", what, t->name,
                              ov_tensor_shape_str(t, sb, sizeof sb));
    if (bytes != ov_tensor_nbytes(t))
        return ov_tensor_fail(OV_EINVAL, "%s: '%s' %s holds %zu bytes, %zu given", what, t->name,
                              ov_tensor_shape_str(t, sb, sizeof sb), ov_tensor_nbytes(t), bytes);
    return 0;
}

int ov_tensor_upload(ov_tensor *t, const void *src_host, size_t bytes)
{
    int rc = check_xfer(t, bytes, "upload");
    if (rc)
        return rc;
    return bytes ? t->backend->ops->upload(t->backend, t->data, src_host, bytes) : 0;
}

int ov_tensor_download(const ov_tensor *t, void *dst_host, size_t bytes)
{
    int rc = check_xfer(t, bytes, "download");
    if (rc)
        return rc;
    return bytes ? t->backend->ops->download(t->backend, dst_host, t->data, bytes) : 0;
}

int ov_backend_sync(ov_backend *be)
{
    return be->ops->sync ? be->ops->sync(be) : 0;
}

void ov_backend_phase(ov_backend *be, const char *name)
{
    if (be && be->ops->phase)
        be->ops->phase(be, name);
}

int ov_backend_can_stream(const ov_backend *be)
{
    const ov_backend_ops *o = be ? be->ops : NULL;
    return o && o->host_alloc && o->host_free && o->upload_async && o->wait_slot;
}

int ov_backend_pick(const char *name, int *kind, char *err, size_t errlen)
{
    if (!name || !*name)
        name = getenv("OURVIDZ_BACKEND");
    if (!name || !*name)
        name = "auto";
    if (strcmp(name, "cpu") == 0) {
        *kind = OV_BACKEND_CPU;
        return 0;
    }
    if (strcmp(name, "cuda") != 0 && strcmp(name, "auto") != 0) {
        snprintf(err, errlen, "unknown backend '%s' (auto, cpu or cuda)", name);
        return OV_EINVAL;
    }
    ov_backend *be = NULL;
    int rc = ov_backend_open(OV_BACKEND_CUDA, 0, &be);
    if (rc == 0) {
        ov_backend_close(be);
        *kind = OV_BACKEND_CUDA;
        return 0;
    }
    if (strcmp(name, "cuda") == 0) {
        snprintf(err, errlen, "backend cuda: %s", ov_strerror(rc));
        return OV_EUNSUPP;
    }
    *kind = OV_BACKEND_CPU;
    return 0;
}
