/* Device wrappers and the name lookup. Callers never call iface hooks
 * directly: the wrappers are where argument checks live. */
#include "device.h"

#include <string.h>

sf_device_t *sf_device_by_name(const char *name)
{
    if (strcmp(name, "cpu") == 0)
        return sf_device_cpu();
    if (strcmp(name, "meta") == 0)
        return sf_device_meta();
    return NULL;
}

sf_status_t sf_device_copy(sf_device_t *dev, void *dst, const void *src, size_t nbytes,
                           sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->copy(dev, dst, src, nbytes, err);
}

sf_status_t sf_device_upload(sf_device_t *dev, void *dst, const void *host_src, size_t nbytes,
                             sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->upload(dev, dst, host_src, nbytes, err);
}

sf_status_t sf_device_download(sf_device_t *dev, void *host_dst, const void *src, size_t nbytes,
                               sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->download(dev, host_dst, src, nbytes, err);
}

sf_status_t sf_device_fill(sf_device_t *dev, void *dst, uint8_t byte, size_t nbytes, sf_err_t *err)
{
    if (nbytes == 0)
        return SF_OK;
    return dev->iface->fill(dev, dst, byte, nbytes, err);
}
